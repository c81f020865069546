/**
 * The whole FFI surface netclaim needs, as one small interface. Calls return
 * the raw C result; after a negative result `errno()` gives the reason, captured
 * by the backend at the failing call (the live errno is stale after a
 * successful call and may be overwritten by later runtime work). Two backends implement
 * it: koffi (default) and ffi-rs (`NETCLAIM_FFI=ffi-rs`).
 */
export interface Libc {
  readonly backend: 'koffi' | 'ffi-rs';
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Buffer, addrLen: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, valueLen: number): number;
  /** `lenInOut` is a 4-byte buffer holding the address length, updated by the kernel. */
  getsockname(fd: number, addr: Buffer, lenInOut: Buffer): number;
  send(fd: number, buf: Buffer, len: number, flags: number): number;
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  close(fd: number): number;
  open(path: string, flags: number, mode: number): number;
  setns(fd: number, nstype: number): number;
  /**
   * `mount(2)` with no file system type and no data: what a bind mount
   * (`MS_BIND`) or a propagation change needs.
   */
  mount(source: string, target: string, flags: number): number;
  /** `umount2(2)`. */
  umount2(target: string, flags: number): number;
  /** `flock(2)`: advisory whole-file lock, released by the kernel when the last fd of the open file closes. */
  flock(fd: number, operation: number): number;
  /** `bpf(2)` through `syscall(SYS_bpf, ...)`. */
  bpf(cmd: number, attr: Buffer, size: number): number;
  /** The native address of a Buffer's first byte (for pointers inside `bpf_attr`). */
  addressOf(buf: Buffer): bigint;
  gettid(): number;
  errno(): number;
}
