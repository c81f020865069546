/**
 * The error model: one base class with a stable `code`, an ES `cause` and
 * structured context, a cross-copy brand, and a few subclasses that mean
 * something to a caller. Codes are never reused; docs/errors.md lists them all
 * and a test keeps the two in step.
 */

export const ERROR_CODES = [
  // kernel layer
  'KERNEL_SYSCALL_FAILED',
  'KERNEL_NETLINK_ERROR',
  'KERNEL_DUMP_INTERRUPTED',
  'KERNEL_TIMEOUT',
  'KERNEL_NETNS_RETURN_FAILED',
  'KERNEL_FFI_ARGUMENT',
  'KERNEL_FFI_UNAVAILABLE',
  'KERNEL_CLOSED',
  // wire decoding
  'PROTOCOL_MALFORMED',
  'PROTOCOL_UNEXPECTED',
  // lookups
  'NOT_FOUND',
  // configuration
  'CONFIG_INVALID',
  'CONFIG_MALFORMED',
  'CONFIG_CLAIM_INVALID',
  // state
  'STATE_INVALID',
  'STATE_WRITE_FAILED',
  'STATE_CORRUPT',
  // claim preparation
  'PREPARE_CLAIM_MISMATCH',
  'PREPARE_NOT_ALLOCATED',
  'PREPARE_RESERVATION',
  'PREPARE_DEVICE_NOT_FOUND',
  'PREPARE_DEVICE_CONFLICT',
  'PREPARE_UNSUPPORTED',
  'PREPARE_DEVICE_EMPTY',
  'PREPARE_NRI_NOT_READY',
  'PREPARE_SYSCTLS_READ_ONLY',
  'PREPARE_ADMIN_ACCESS_CONFIG',
  'PREPARE_ADMIN_ACCESS_MIXED',
  'PREPARE_CAPACITY_EXCEEDED',
  'PREPARE_SUB_INTERFACE',
  'PREPARE_POOL_EXHAUSTED',
  'PREPARE_POOL_INVALID',
  'PREPARE_ADDRESS_TAKEN',
  'PREPARE_SUB_INTERFACE_RDMA',
  'CDI_WRITE_FAILED',
  // claim unprepare
  'UNPREPARE_DEVICES_IN_POD',
  // pod attach / detach (driver/attach)
  'ATTACH_FAILED',
  'ATTACH_HOST_NETNS',
  'ATTACH_DEVICE_EMPTY',
  'ATTACH_NOT_IN_PLACE',
  'DETACH_INCOMPLETE',
  // DHCP client (kernel/dhcp)
  'DHCP_TIMEOUT',
  'DHCP_NAK',
  // Kubernetes API (ResourceSlice publishing)
  'KUBE_REQUEST_FAILED',
  'KUBE_FIELDS_DROPPED',
  'KUBE_SLICE_INVALID',
  // kubelet surface (plugin registration and DRA gRPC sockets)
  'KUBELET_SOCKET_PATH_OCCUPIED',
  'KUBELET_INSTANCE_LOCKED',
  'KUBELET_LISTEN_FAILED',
  'KUBELET_SERVER_CLOSED',
  // NRI surface (ttrpc over the runtime's NRI socket)
  'NRI_RPC_STATUS',
  'NRI_CALL_TIMEOUT',
  'NRI_CONNECTION_CLOSED',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const BRAND = Symbol.for('netclaim.DriverError');

export interface DriverErrorOptions {
  readonly cause?: unknown;
  readonly context?: Readonly<Record<string, unknown>>;
}

export class DriverError extends Error {
  readonly code: ErrorCode;
  readonly context: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: DriverErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.context = options.context ?? {};
    Object.defineProperty(this, BRAND, { value: true });
  }

  override get name(): string {
    return this.constructor.name;
  }
}

/**
 * The one text form of an error that users read, wherever they read it: the
 * kubelet's per-claim error (and through it the pod's events), Kubernetes
 * Events, the NRI error the runtime shows for a failed sandbox or container,
 * and the HTTP probe bodies. A netclaim error reads `CODE: message`, so the
 * stable code leads and can be looked up in docs/errors.md; anything else
 * is its message.
 */
export function errorText(err: unknown): string {
  if (isDriverError(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** True for any netclaim error, even one made by another copy of this module. */
export function isDriverError(x: unknown): x is DriverError {
  return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[BRAND] === true;
}

/** Wire data that cannot be decoded: truncated, out of bounds, or not what the protocol allows. */
export class ProtocolError extends DriverError {
  constructor(message: string, options: DriverErrorOptions = {}, code: ErrorCode = 'PROTOCOL_MALFORMED') {
    super(code, message, options);
  }
}

export class NotFoundError extends DriverError {
  constructor(message: string, options: DriverErrorOptions = {}) {
    super('NOT_FOUND', message, options);
  }
}

export class ConfigError extends DriverError {
  constructor(message: string, options: DriverErrorOptions = {}, code: ErrorCode = 'CONFIG_INVALID') {
    super(code, message, options);
  }
}

export class StateError extends DriverError {
  constructor(message: string, options: DriverErrorOptions = {}, code: ErrorCode = 'STATE_INVALID') {
    super(code, message, options);
  }
}
