/**
 * Libc on ffi-rs 1.3.7, for when the brief requires it (`NETCLAIM_FFI=ffi-rs`).
 * ffi-rs aborts the whole process (an uncatchable Rust panic) on a mistyped
 * argument, so every method checks its arguments here first and throws
 * KERNEL_FFI_ARGUMENT instead. Calls go through `load()` (`define()` only adds
 * a wrapper) and always run synchronously on the calling thread: never
 * `runInNewThread`, which would run them on a pool thread outside a setns window.
 */
import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';
import { DriverError } from '../../common/errors.ts';
import type { Libc } from './libc.ts';
import { SYS_BPF, SYS_GETTID, sysno } from './koffi.ts';

const EBADF = 9;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function bad(method: string, what: string): never {
  throw new DriverError('KERNEL_FFI_ARGUMENT', `${method}: ${what}`);
}

function int(method: string, name: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < INT32_MIN || (v as number) > INT32_MAX) {
    bad(method, `${name} must be an int32, got ${typeof v === 'number' ? v : typeof v}`);
  }
  return v as number;
}

function buffer(method: string, name: string, v: unknown): Buffer {
  if (!Buffer.isBuffer(v)) bad(method, `${name} must be a Buffer, got ${typeof v}`);
  return v;
}

/** A byte count the C side may read or write: it must stay inside `buf`. */
function length(method: string, name: string, v: unknown, buf: Buffer): number {
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > buf.length) {
    bad(method, `${name} must be an integer in [0, ${buf.length}], got ${typeof v === 'number' ? v : typeof v}`);
  }
  return v as number;
}

function path(method: string, v: unknown): string {
  if (typeof v !== 'string' || v.includes('\0')) bad(method, 'path must be a string without NUL');
  return v;
}

export function loadFfiRsLibc(): Libc {
  // ffi-rs loaded only inside a worker thread segfaults the process at exit
  // (napi-rs/package-template#308); and setns windows belong on the main thread.
  if (!isMainThread) {
    throw new DriverError('KERNEL_FFI_UNAVAILABLE', 'the ffi-rs backend must be loaded on the main thread, not in a worker');
  }
  // ffi-rs's declarations type results per DataType generic and get pointers wrong
  // (`BigInt` for bigint); this file pins every signature itself, so `any` stays here.
  const ffi = createRequire(import.meta.url)('ffi-rs') as any;
  const T = ffi.DataType;
  // dlopen(NULL): the libc symbols already in the process.
  ffi.open({ library: 'libc', path: '' });
  const call = (funcName: string, retType: number, paramsType: number[], paramsValue: unknown[]): any =>
    ffi.load({ library: 'libc', funcName, retType, paramsType, paramsValue, freeResultMemory: false });

  // errno: a zero-copy view of this thread's errno (`__errno_location()` is fixed
  // per thread, and sync ffi-rs calls run on the calling thread), copied right
  // after a negative return, before any other JS runs. Reading it lazily in
  // errno() is wrong: GC and Node's own I/O on this thread overwrite it
  // (observed). `errno: true` on every call is also correct but slower (it builds
  // an object and formats a message: +0.7 µs per call measured here, ~10 µs in
  // the reference notes); the view costs one Int32Array read, on failure only.
  const errnoLocation = call('__errno_location', T.External, [], []);
  const errnoCell = new Int32Array(ffi.createExternalBuffer(errnoLocation, 4).buffer, 0, 1);
  let lastErrno = 0;
  const checked = (r: number): number => {
    if (r < 0) lastErrno = errnoCell[0];
    return r;
  };
  const I32 = T.I32, I64 = T.I64, BUF = T.U8Array;
  const sysBpf = sysno(SYS_BPF, 'bpf');
  const sysGettid = sysno(SYS_GETTID, 'gettid');

  const libc: Libc = {
    backend: 'ffi-rs',
    socket: (d, t, p) => {
      const args = [int('socket', 'domain', d), int('socket', 'type', t), int('socket', 'protocol', p)];
      return checked(call('socket', I32, [I32, I32, I32], args));
    },
    bind: (fd, addr, len) => {
      const a = buffer('bind', 'addr', addr);
      return checked(call('bind', I32, [I32, BUF, I32], [int('bind', 'fd', fd), a, length('bind', 'addrLen', len, a)]));
    },
    setsockopt: (fd, level, name, value, len) => {
      const v = buffer('setsockopt', 'value', value);
      const n = length('setsockopt', 'valueLen', len, v);
      const args = [int('setsockopt', 'fd', fd), int('setsockopt', 'level', level), int('setsockopt', 'name', name), v, n];
      return checked(call('setsockopt', I32, [I32, I32, I32, BUF, I32], args));
    },
    getsockname: (fd, addr, lenInOut) => {
      const a = buffer('getsockname', 'addr', addr);
      const l = buffer('getsockname', 'lenInOut', lenInOut);
      // The kernel writes up to *lenInOut bytes into addr, so that value is a length too.
      if (l.length < 4) bad('getsockname', 'lenInOut must hold 4 bytes');
      length('getsockname', '*lenInOut', l.readUInt32LE(0), a);
      return checked(call('getsockname', I32, [I32, BUF, BUF], [int('getsockname', 'fd', fd), a, l]));
    },
    send: (fd, buf, len, flags) => {
      const b = buffer('send', 'buf', buf);
      const args = [int('send', 'fd', fd), b, length('send', 'len', len, b), int('send', 'flags', flags)];
      return checked(Number(call('send', I64, [I32, BUF, I64, I32], args)));
    },
    recv: (fd, buf, len, flags) => {
      const b = buffer('recv', 'buf', buf);
      const args = [int('recv', 'fd', fd), b, length('recv', 'len', len, b), int('recv', 'flags', flags)];
      return checked(Number(call('recv', I64, [I32, BUF, I64, I32], args)));
    },
    close: (fd) => checked(call('close', I32, [I32], [int('close', 'fd', fd)])),
    // open(2) is variadic; a fixed third int is ABI-safe on x86_64 and arm64 Linux.
    open: (p, flags, mode) => {
      const args = [path('open', p), int('open', 'flags', flags), int('open', 'mode', mode)];
      return checked(call('open', I32, [T.String, I32, I32], args));
    },
    setns: (fd, nstype) => checked(call('setns', I32, [I32, I32], [int('setns', 'fd', fd), int('setns', 'nstype', nstype)])),
    flock: (fd, op) => checked(call('flock', I32, [I32, I32], [int('flock', 'fd', fd), int('flock', 'operation', op)])),
    // No NULL string in ffi-rs: the type `none` and empty data, both ignored for MS_BIND and propagation changes.
    mount: (source, target, flags) => {
      const args = [path('mount', source), path('mount', target), 'none', int('mount', 'flags', flags), ''];
      return checked(call('mount', I32, [T.String, T.String, T.String, I64, T.String], args));
    },
    umount2: (target, flags) => checked(call('umount2', I32, [T.String, I32], [path('umount2', target), int('umount2', 'flags', flags)])),
    bpf: (cmd, attr, size) => {
      const a = buffer('bpf', 'attr', attr);
      const args = [sysBpf, int('bpf', 'cmd', cmd), a, length('bpf', 'size', size, a)];
      return checked(Number(call('syscall', I64, [I64, I64, BUF, I64], args)));
    },
    // No address API: memset(buf, 0, 0) writes nothing and returns its first argument.
    addressOf: (buf) => BigInt(call('memset', T.BigInt, [BUF, I32, I64], [buffer('addressOf', 'buf', buf), 0, 0])),
    gettid: () => checked(Number(call('syscall', I64, [I64], [sysGettid]))),
    errno: () => lastErrno,
  };

  // The errno view must alias the real errno (a runtime that forbids external
  // buffers would hand back a copy): prove it once.
  if (libc.close(-1) !== -1 || lastErrno !== EBADF) {
    const msg = `ffi-rs: errno view reads ${lastErrno} after close(-1), expected EBADF`;
    throw new DriverError('KERNEL_FFI_UNAVAILABLE', msg);
  }
  return libc;
}
