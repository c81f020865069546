/**
 * Structured JSON logging with pino: one line per record, level as a word
 * (`"level":"warn"`), ISO time, and errors serialised with their code, context
 * and whole cause chain (serializeError), so a DriverError reads the same in
 * a log as in a test.
 *
 *   const log = createLogger({ level: logLevelFrom(flags.logLevel) });
 *   const claimLog = withContext(log, { claim: { namespace, name }, claimUid });
 *   claimLog.error({ err }, 'prepare failed');
 *
 * Child loggers carry their context as pino "bindings": they are serialised
 * once when the child is made, and a disabled level costs one comparison.
 * Make one child per component, claim or pod and keep it.
 *
 * Lines go to stdout through log-sink.ts: a reader that stops reading or goes
 * away costs dropped (and counted) lines, never a blocked call, a crash or a
 * process that cannot exit.
 */
import pino from 'pino';
import type { DestinationStream, Logger as PinoLogger } from 'pino';
import { ConfigError } from '../common/errors.ts';
import { serializeError } from './serialize-error.ts';
import { stdoutLogSink } from './log-sink.ts';

export { serializeError, type SerializedError } from './serialize-error.ts';

export type Logger = PinoLogger;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The environment variable consulted when no flag sets the level. */
export const LOG_LEVEL_ENV = 'NETCLAIM_LOG_LEVEL';

export interface LoggerOptions {
  /** Default `info`. */
  readonly level?: LogLevel;
  /** Where lines go (default stdout through the process's log sink, log-sink.ts). Anything with `write(line)`. */
  readonly destination?: DestinationStream;
  /** Extra fields on every line (e.g. `{ node }`). `pid` is always there. */
  readonly base?: Readonly<Record<string, unknown>>;
}

export function createLogger(o: LoggerOptions = {}): Logger {
  const options = {
    level: o.level ?? 'info',
    base: { pid: process.pid, ...o.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    serializers: { err: serializeError, error: serializeError },
  };
  return pino(options, o.destination ?? stdoutLogSink());
}

/**
 * The level from a flag value, else $NETCLAIM_LOG_LEVEL, else `info`.
 * An unknown name is a ConfigError (a typo should not silently mean `info`).
 */
export function logLevelFrom(flag?: string, env: NodeJS.ProcessEnv = process.env): LogLevel {
  const [value, source] = flag ? [flag, '--log-level'] : env[LOG_LEVEL_ENV] ? [env[LOG_LEVEL_ENV], LOG_LEVEL_ENV] : ['info', 'default'];
  const level = value.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new ConfigError(`${source}: unknown log level "${value}" (one of ${LOG_LEVELS.join(', ')})`, { context: { field: source, value } });
}

/** What a child logger may be bound to; names match across the code base so logs can be joined. */
export interface LogContext {
  /** Rendered as `claim: "namespace/name"`. */
  readonly claim?: { readonly namespace: string; readonly name: string } | string;
  readonly claimUid?: string;
  readonly podUid?: string;
  readonly device?: string;
  /** The part of the driver speaking: `kubelet`, `nri`, `slices`, `inventory`... */
  readonly component?: string;
}

/** A child logger bound to the given context (fields left undefined are not written). */
export function withContext(log: Logger, ctx: LogContext): Logger {
  const bindings: Record<string, string> = {};
  if (ctx.component !== undefined) bindings['component'] = ctx.component;
  if (ctx.claim !== undefined) bindings['claim'] = typeof ctx.claim === 'string' ? ctx.claim : `${ctx.claim.namespace}/${ctx.claim.name}`;
  if (ctx.claimUid !== undefined) bindings['claimUid'] = ctx.claimUid;
  if (ctx.podUid !== undefined) bindings['podUid'] = ctx.podUid;
  if (ctx.device !== undefined) bindings['device'] = ctx.device;
  return log.child(bindings);
}
