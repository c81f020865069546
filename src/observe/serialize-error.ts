/**
 * Errors as plain JSON for log lines: the class name, `code` (a DriverError
 * code, or a Node system error's `ECONNREFUSED`, or an HTTP status), the
 * message, the DriverError's context, the stack, the ES `cause` chain and an
 * AggregateError's `errors`, each serialised the same way.
 *
 * Only those fields are copied: an arbitrary error's own properties (an
 * HTTP client's response body and headers, say) stay out of the log. Cycles
 * and chains deeper than MAX_DEPTH end in a `[Circular]` / `[Truncated]` marker.
 */
import { isDriverError } from '../common/errors.ts';

export interface SerializedError {
  readonly type: string;
  readonly message: string;
  readonly code?: string | number;
  readonly context?: Readonly<Record<string, unknown>>;
  readonly errno?: number;
  readonly syscall?: string;
  readonly stack?: string;
  readonly cause?: SerializedError;
  readonly errors?: readonly SerializedError[];
}

const MAX_DEPTH = 8;

export function serializeError(err: unknown): SerializedError {
  return serialize(err, new Set(), 0);
}

function serialize(err: unknown, seen: Set<unknown>, depth: number): SerializedError {
  if (!(err instanceof Error)) return { type: err === null ? 'null' : typeof err, message: String(err) };
  if (seen.has(err)) return { type: err.name, message: '[Circular]' };
  if (depth >= MAX_DEPTH) return { type: err.name, message: '[Truncated]' };
  seen.add(err);
  const e = err as Error & { code?: unknown; errno?: unknown; syscall?: unknown };
  const out: { -readonly [K in keyof SerializedError]: SerializedError[K] } = { type: err.name, message: err.message };
  if (typeof e.code === 'string' || typeof e.code === 'number') out.code = e.code;
  if (isDriverError(err) && Object.keys(err.context).length > 0) out.context = contextOf(err.context, seen, depth);
  if (typeof e.errno === 'number') out.errno = e.errno;
  if (typeof e.syscall === 'string') out.syscall = e.syscall;
  if (err.stack !== undefined) out.stack = err.stack;
  if (err.cause !== undefined) out.cause = serialize(err.cause, seen, depth + 1);
  if (err instanceof AggregateError && Array.isArray(err.errors)) out.errors = err.errors.map((x: unknown) => serialize(x, seen, depth + 1));
  return out;
}

/** Context values are plain data, except that an Error among them is serialised too. */
function contextOf(ctx: Readonly<Record<string, unknown>>, seen: Set<unknown>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ctx)) out[k] = v instanceof Error ? serialize(v, seen, depth + 1) : v;
  return out;
}
