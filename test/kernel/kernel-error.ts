import { KernelError } from '../../src/kernel/errors.ts';

/** Runs `fn`, which must throw a KernelError, and returns it for field assertions. */
export function kernelError(fn: () => void): KernelError {
  try {
    fn();
  } catch (e) {
    if (e instanceof KernelError) return e;
    throw e;
  }
  throw new Error('expected a KernelError');
}
