/**
 * The same checks against both backends, none needing root: netlink sockets,
 * errno, gettid, Buffer addresses, bpf(2) failure, flock, and an RTM_GETLINK round
 * trip (rtnetlink answers GET requests for any user). ffi-rs also gets the
 * misuse cases that would otherwise abort the process.
 */
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect } from 'vitest';
import { isDriverError } from '../../common/errors.ts';
import { loadLibc, type FfiBackend } from './index.ts';

const AF_NETLINK = 16;
const SOCK_RAW_CLOEXEC = 3 | 0x80000;
const NETLINK_ROUTE = 0;
const MSG_DONTWAIT = 0x40;
const NLM_F_REQUEST = 1;
const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const [ENOENT, EPERM, EBADF, EAGAIN, EINVAL] = [2, 1, 9, 11, 22];

/** nlmsghdr (16 bytes) + ifinfomsg (16 bytes) asking for one link by index. */
function getLinkRequest(ifindex: number, seq: number): Buffer {
  const b = Buffer.alloc(32);
  b.writeUInt32LE(32, 0); // nlmsg_len
  b.writeUInt16LE(RTM_GETLINK, 4);
  b.writeUInt16LE(NLM_F_REQUEST, 6);
  b.writeUInt32LE(seq, 8);
  b.writeInt32LE(ifindex, 20); // ifi_index, after family, pad and type
  return b;
}

/** sockaddr_nl with only nl_family set: the kernel assigns the port id on bind. */
function sockaddrNl(): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16LE(AF_NETLINK, 0);
  return b;
}

describe.each<FfiBackend>(['koffi', 'ffi-rs'])('Libc on %s', (backend) => {
  const libc = loadLibc(backend);

  function netlinkSocket(): number {
    const fd = libc.socket(AF_NETLINK, SOCK_RAW_CLOEXEC, NETLINK_ROUTE);
    expect(fd, `socket errno ${libc.errno()}`).toBeGreaterThanOrEqual(0);
    return fd;
  }

  it('reports its backend', () => {
    expect(libc.backend).toBe(backend);
  });

  it('opens and closes a netlink socket', () => {
    expect(libc.close(netlinkSocket())).toBe(0);
  });

  it('close(-1) fails with EBADF', () => {
    expect(libc.close(-1)).toBe(-1);
    expect(libc.errno()).toBe(EBADF);
  });

  it('keeps the failing call\'s errno across unrelated JS work', () => {
    expect(libc.open('/nonexistent', 0, 0)).toBe(-1);
    const junk = Array.from({ length: 200_000 }, (_, i) => ({ i, s: String(i) }));
    expect(junk.length).toBe(200_000);
    expect(libc.errno()).toBe(ENOENT);
  });

  it('gettid() is the pid on the main thread', () => {
    expect(libc.gettid()).toBe(process.pid);
  });

  it('addressOf is stable and honours subarray offsets', () => {
    const buf = Buffer.alloc(64);
    const a = libc.addressOf(buf);
    expect(typeof a).toBe('bigint');
    expect(a).not.toBe(0n);
    expect(libc.addressOf(buf)).toBe(a);
    expect(libc.addressOf(buf.subarray(8))).toBe(a + 8n);
  });

  it('open of a missing path fails with ENOENT', () => {
    expect(libc.open('/nonexistent', 0, 0)).toBe(-1);
    expect(libc.errno()).toBe(ENOENT);
  });

  it('bpf with an invalid command fails with EINVAL (or EPERM unprivileged)', () => {
    expect(libc.bpf(0x7fff, Buffer.alloc(16), 16)).toBe(-1);
    expect([EINVAL, EPERM]).toContain(libc.errno());
  });

  it('getsockname after bind gives AF_NETLINK and a port id', () => {
    const fd = netlinkSocket();
    try {
      expect(libc.bind(fd, sockaddrNl(), 12)).toBe(0);
      const addr = Buffer.alloc(12);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(12, 0);
      expect(libc.getsockname(fd, addr, len)).toBe(0);
      expect(len.readUInt32LE(0)).toBe(12);
      expect(addr.readUInt16LE(0)).toBe(AF_NETLINK);
      expect(addr.readUInt32LE(4)).not.toBe(0);
    } finally {
      libc.close(fd);
    }
  });

  it('recv on an empty socket with MSG_DONTWAIT fails with EAGAIN', () => {
    const fd = netlinkSocket();
    try {
      const buf = Buffer.alloc(4096);
      expect(libc.recv(fd, buf, buf.length, MSG_DONTWAIT)).toBe(-1);
      expect(libc.errno()).toBe(EAGAIN);
    } finally {
      libc.close(fd);
    }
  });

  it('flock: a second open file of the same path cannot take the lock until the first lets go', () => {
    const [LOCK_EX, LOCK_NB, LOCK_UN] = [2, 4, 8];
    const dir = mkdtempSync(join(tmpdir(), 'nc-flock-'));
    const a = openSync(join(dir, 'l'), 'w');
    const b = openSync(join(dir, 'l'), 'r');
    try {
      expect(libc.flock(a, LOCK_EX | LOCK_NB)).toBe(0);
      expect(libc.flock(b, LOCK_EX | LOCK_NB)).toBe(-1);
      expect(libc.errno()).toBe(EAGAIN); // EWOULDBLOCK
      expect(libc.flock(a, LOCK_UN)).toBe(0);
      expect(libc.flock(b, LOCK_EX | LOCK_NB)).toBe(0);
    } finally {
      closeSync(a);
      closeSync(b);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sends RTM_GETLINK for ifindex 1 and receives RTM_NEWLINK', () => {
    const fd = netlinkSocket();
    try {
      const req = getLinkRequest(1, 42);
      expect(libc.send(fd, req, req.length, 0)).toBe(req.length);
      // rtnetlink answers inside send(), so the reply is already queued.
      const buf = Buffer.alloc(16384);
      const n = libc.recv(fd, buf, buf.length, MSG_DONTWAIT);
      expect(n, `recv errno ${libc.errno()}`).toBeGreaterThanOrEqual(32);
      expect(buf.readUInt32LE(0)).toBeLessThanOrEqual(n);
      expect(buf.readUInt16LE(4)).toBe(RTM_NEWLINK);
      expect(buf.readUInt32LE(8)).toBe(42);
      expect(buf.readInt32LE(20)).toBe(1);
    } finally {
      libc.close(fd);
    }
  });
});

describe('ffi-rs argument checks (a mistyped call would abort the process)', () => {
  const libc = loadLibc('ffi-rs');
  const buf = Buffer.alloc(16);
  const lenTooBig = Buffer.alloc(4);
  lenTooBig.writeUInt32LE(128, 0);
  // Untyped on purpose: the cases pass what the types forbid, as JS callers could.
  const raw = libc as unknown as Record<string, (...args: unknown[]) => unknown>;

  const cases: ReadonlyArray<readonly [string, () => unknown]> = [
    ['string for an int', () => raw.close('3')],
    ['string for a flag', () => raw.socket(AF_NETLINK, '3', 0)],
    ['fraction for an int', () => raw.setns(3.5, 0)],
    ['int beyond int32', () => raw.recv(2 ** 31, buf, 4, 0)],
    ['NaN for an int', () => raw.open('/x', NaN, 0)],
    ['number for a Buffer', () => raw.bind(3, 5, 12)],
    ['string for a Buffer', () => raw.send(3, 'abc', 3, 0)],
    ['Uint8Array for a Buffer', () => raw.bpf(0, new Uint8Array(16), 16)],
    ['number for addressOf', () => raw.addressOf(123)],
    ['length larger than the buffer', () => raw.send(3, buf, 17, 0)],
    ['negative length', () => raw.recv(3, buf, -1, 0)],
    ['bpf size larger than attr', () => raw.bpf(0, buf, 64)],
    ['setsockopt length larger than value', () => raw.setsockopt(3, 270, 11, buf, 32)],
    ['getsockname *len larger than addr', () => raw.getsockname(3, Buffer.alloc(12), lenTooBig)],
    ['getsockname len buffer too short', () => raw.getsockname(3, Buffer.alloc(12), Buffer.alloc(2))],
    ['missing argument', () => raw.recv(3, buf, 4)],
    ['missing all arguments', () => raw.close()],
    ['number for a path', () => raw.open(7, 0, 0)],
    ['path with NUL', () => raw.open('/tmp\0x', 0, 0)],
  ];

  it.each(cases)('%s throws KERNEL_FFI_ARGUMENT', (_name, fn) => {
    let caught: unknown;
    try {
      fn();
    } catch (e) {
      caught = e;
    }
    expect(isDriverError(caught)).toBe(true);
    expect((caught as { code: string }).code).toBe('KERNEL_FFI_ARGUMENT');
  });
});
