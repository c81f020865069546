/**
 * Kernel-layer errors. A KernelError always carries the errno (number and
 * name), the operation that failed (`RTM_NEWLINK`, `setns`, ...) and, when the
 * kernel sent one, the extended-ack message and offset.
 */
import { constants } from 'node:os';
import { DriverError, type DriverErrorOptions, type ErrorCode } from '../common/errors.ts';

// Aliases share a number (EAGAIN/EWOULDBLOCK, EOPNOTSUPP/ENOTSUP, EDEADLK/EDEADLOCK):
// use the name the kernel's own sources and iproute2 print.
const PREFERRED = ['EAGAIN', 'EOPNOTSUPP', 'EDEADLK'];
const ERRNO_NAMES: ReadonlyMap<number, string> = Object.entries(constants.errno).reduce(
  (m, [name, no]) => (m.has(no) && !PREFERRED.includes(name) ? m : m.set(no, name)),
  new Map<number, string>(),
);

/** `ENODEV` for 19, `E123` for a number the platform does not name. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

export interface KernelErrorFields {
  readonly errno: number;
  /** Syscall or netlink message type, e.g. `setns` or `RTM_NEWLINK`. */
  readonly op: string;
  readonly extack?: string;
  readonly extackOffset?: number;
  readonly ifindex?: number;
  readonly netns?: string;
}

export class KernelError extends DriverError {
  readonly errno: number;
  readonly errnoName: string;
  readonly op: string;
  readonly extack: string | undefined;
  readonly extackOffset: number | undefined;
  readonly ifindex: number | undefined;
  readonly netns: string | undefined;

  constructor(code: ErrorCode, fields: KernelErrorFields, options: DriverErrorOptions = {}) {
    const name = errnoName(fields.errno);
    const detail = fields.extack ? `: ${fields.extack}` : '';
    const where = [
      fields.ifindex !== undefined ? `ifindex ${fields.ifindex}` : '',
      fields.netns !== undefined ? `netns ${fields.netns}` : '',
    ].filter(Boolean).join(', ');
    super(code, `${fields.op} failed: ${name}${detail}${where ? ` (${where})` : ''}`, {
      ...options,
      context: { ...fields, errnoName: name, ...options.context },
    });
    this.errno = fields.errno;
    this.errnoName = name;
    this.op = fields.op;
    this.extack = fields.extack;
    this.extackOffset = fields.extackOffset;
    this.ifindex = fields.ifindex;
    this.netns = fields.netns;
  }
}

/** A failed syscall made through the Libc layer. */
export function syscallError(op: string, errno: number, extra: Partial<KernelErrorFields> = {}): KernelError {
  return new KernelError('KERNEL_SYSCALL_FAILED', { ...extra, op, errno });
}
