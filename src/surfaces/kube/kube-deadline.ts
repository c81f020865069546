/**
 * A deadline for one @kubernetes/client-node call. The generated API takes
 * per-call options whose middleware may set an AbortSignal on the request
 * (passed to undici's fetch), so the request and the read of its body are
 * aborted when the time is up; the error then says so ("timed out after 5000
 * ms") instead of undici's "This operation was aborted".
 *
 *   const claim = await withDeadline(5000, (options) => api.readNamespacedResourceClaim({ namespace, name }, options));
 */
import { Observable, type ObservableMiddleware } from '@kubernetes/client-node';
import { isDriverError } from '../../common/errors.ts';

export const DEFAULT_KUBE_TIMEOUT_MS = 5_000;

/** Per-call client options carrying an AbortSignal; what the generated API's second argument takes. */
export interface CallOptions {
  readonly middleware: ObservableMiddleware[];
  readonly middlewareMergeStrategy: 'append';
}

/** Runs `call` with options that abort its request after `ms`. */
export async function withDeadline<T>(ms: number, call: (options: CallOptions) => Promise<T>): Promise<T> {
  const signal = AbortSignal.timeout(ms);
  const middleware: ObservableMiddleware = {
    pre: (ctx) => {
      ctx.setSignal(signal);
      return new Observable(Promise.resolve(ctx));
    },
    post: (res) => new Observable(Promise.resolve(res)),
  };
  try {
    return await call({ middleware: [middleware], middlewareMergeStrategy: 'append' });
  } catch (err) {
    if (signal.aborted && !isDriverError(err)) throw new Error(`timed out after ${ms} ms`, { cause: err });
    throw err;
  }
}
