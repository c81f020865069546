/**
 * Translation of API client failures into DriverError (KUBE_REQUEST_FAILED)
 * with the HTTP status, the Status `reason` and the API server's own message
 * in the context. Takes kube-api.ts's KubeResponseError (status in `code`,
 * the parsed Status in `body`), a socket error or deadline (status 0), and
 * still @kubernetes/client-node's ApiException (`code`, the Status as JSON
 * text), for the benches and tests that drive client-node.
 */
import { DriverError, isDriverError } from '../../common/errors.ts';

export interface KubeErrorContext {
  /** HTTP status, 0 when no response came (connection refused, TLS, timeout). */
  readonly status: number;
  /** Status.reason, e.g. `Conflict`, `AlreadyExists`, `NotFound`, `Forbidden`, `Invalid`. */
  readonly reason: string;
  readonly op: string;
}

export function kubeError(op: string, err: unknown, context: Record<string, unknown> = {}): DriverError {
  if (isDriverError(err)) return err;
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown; message?: unknown };
  // KubeResponseError's and ApiException's `code` is the HTTP status; a DOMException's `code` is not (a watch's TimeoutError has 23).
  const httpStatus = (v: unknown): number | undefined => (typeof v === 'number' && v >= 100 && v <= 599 ? v : undefined);
  const status = httpStatus(e.code) ?? httpStatus(e.statusCode) ?? 0;
  let reason = '';
  let message = typeof e.message === 'string' ? e.message.split('\n')[0]! : String(err);
  const body = typeof e.body === 'string' ? tryParse(e.body) : e.body;
  if (body && typeof body === 'object') {
    const s = body as { reason?: unknown; message?: unknown };
    if (typeof s.reason === 'string') reason = s.reason;
    if (typeof s.message === 'string') message = s.message;
  }
  return new DriverError('KUBE_REQUEST_FAILED', `${op}: ${status ? `${status} ${reason ? `${reason} ` : ''}` : ''}${message}`.trim(), {
    cause: err,
    context: { ...context, op, status, reason } satisfies KubeErrorContext & Record<string, unknown>,
  });
}

/** The HTTP status of a KUBE_REQUEST_FAILED error (0 for none or another error). */
export function kubeStatus(err: unknown): number {
  return isDriverError(err) && err.code === 'KUBE_REQUEST_FAILED' ? (err.context['status'] as number) : 0;
}

function tryParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}
