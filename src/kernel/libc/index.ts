/**
 * Picks the FFI backend once per process: koffi by default, ffi-rs with
 * `NETCLAIM_FFI=ffi-rs`. Everything above kernel/libc receives a `Libc`.
 * Both backend modules load their native package only when chosen.
 */
import { DriverError } from '../../common/errors.ts';
import type { Libc } from './libc.ts';
import { loadKoffiLibc } from './koffi.ts';
import { loadFfiRsLibc } from './ffi-rs.ts';

export type { Libc } from './libc.ts';
export type FfiBackend = Libc['backend'];

let cached: Libc | undefined;

export function ffiBackendFromEnv(env: NodeJS.ProcessEnv = process.env): FfiBackend {
  const v = env['NETCLAIM_FFI'] || 'koffi';
  if (v === 'koffi' || v === 'ffi-rs') return v;
  throw new DriverError('KERNEL_FFI_UNAVAILABLE', `NETCLAIM_FFI must be "koffi" or "ffi-rs", got "${v}"`);
}

export function loadLibc(backend: FfiBackend): Libc {
  return backend === 'koffi' ? loadKoffiLibc() : loadFfiRsLibc();
}

/** The process-wide Libc (backend chosen by `NETCLAIM_FFI`, loaded on first use). */
export function libc(): Libc {
  cached ??= loadLibc(ffiBackendFromEnv());
  return cached;
}
