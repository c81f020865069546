import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError, DriverError, NotFoundError } from '../common/errors.ts';
import { createLogger, LOG_LEVEL_ENV, logLevelFrom, serializeError, withContext, type LogLevel } from './logger.ts';

type Line = Record<string, unknown>;

function capture(level: LogLevel = 'info'): { log: ReturnType<typeof createLogger>; lines: Line[] } {
  const lines: Line[] = [];
  let pending = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      pending += chunk.toString();
      const parts = pending.split('\n');
      pending = parts.pop()!;
      for (const p of parts) lines.push(JSON.parse(p) as Line);
      cb();
    },
  });
  return { log: createLogger({ level, destination }), lines };
}

describe('createLogger', () => {
  it('writes one JSON object per line: level as a word, ISO time, pid, msg', () => {
    const { log, lines } = capture();
    log.info('hello');
    log.debug('not at info');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'hello', pid: process.pid });
    expect(new Date(lines[0]!['time'] as string).toISOString()).toBe(lines[0]!['time']);
  });

  it('child loggers carry claim, claimUid, podUid, device and component', () => {
    const { log, lines } = capture('debug');
    const claimLog = withContext(log, { component: 'kubelet', claim: { namespace: 'ns1', name: 'gpu-nic' }, claimUid: 'c-uid' });
    const devLog = withContext(claimLog, { podUid: 'p-uid', device: 'eth1' });
    devLog.debug({ mtu: 9000 }, 'configured');
    withContext(log, { claim: 'ns2/other' }).warn('w');
    expect(lines[0]).toMatchObject({ level: 'debug', component: 'kubelet', claim: 'ns1/gpu-nic', claimUid: 'c-uid', podUid: 'p-uid', device: 'eth1', mtu: 9000, msg: 'configured' });
    expect(lines[1]).toMatchObject({ claim: 'ns2/other', level: 'warn' });
    expect(lines[1]).not.toHaveProperty('device');
  });

  it('serialises a DriverError with code, message, context and the cause chain', () => {
    const { log, lines } = capture();
    const root = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED', errno: -111, syscall: 'connect' });
    const mid = new DriverError('KUBE_REQUEST_FAILED', 'get resourceclaim ns/c: connection refused', { cause: root, context: { op: 'get', status: 0 } });
    const top = new DriverError('PREPARE_NOT_ALLOCATED', 'claim ns/c is not allocated', { cause: mid, context: { claim: 'ns/c' } });
    log.error({ err: top }, 'prepare failed');
    log.error(new NotFoundError('gone'));
    const err = lines[0]!['err'] as Record<string, unknown>;
    expect(lines[0]).toMatchObject({ level: 'error', msg: 'prepare failed' });
    expect(err).toMatchObject({
      type: 'DriverError', code: 'PREPARE_NOT_ALLOCATED', message: 'claim ns/c is not allocated', context: { claim: 'ns/c' },
      cause: {
        type: 'DriverError', code: 'KUBE_REQUEST_FAILED', context: { op: 'get', status: 0 },
        cause: { type: 'Error', code: 'ECONNREFUSED', errno: -111, syscall: 'connect', message: 'connect ECONNREFUSED 127.0.0.1:6443' },
      },
    });
    expect(err['stack']).toEqual(expect.stringContaining('claim ns/c is not allocated'));
    // An Error as the only argument: pino puts it under err and uses its message.
    expect(lines[1]).toMatchObject({ msg: 'gone', err: { type: 'NotFoundError', code: 'NOT_FOUND' } });
  });
});

describe('serializeError', () => {
  it('handles AggregateError, non-Error values, cycles, deep chains and errors inside context', () => {
    const agg = new AggregateError([new ConfigError('a'), 'b'], 'two devices failed');
    const s = serializeError(agg);
    expect(s.errors).toMatchObject([{ type: 'ConfigError', code: 'CONFIG_INVALID', message: 'a' }, { type: 'string', message: 'b' }]);
    expect(serializeError('plain')).toEqual({ type: 'string', message: 'plain' });
    expect(serializeError(null)).toEqual({ type: 'null', message: 'null' });

    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(serializeError(a).cause?.cause).toEqual({ type: 'Error', message: '[Circular]' });

    let deep: Error = new Error('0');
    for (let i = 1; i < 20; i++) deep = new Error(String(i), { cause: deep });
    let depth = 0;
    for (let c = serializeError(deep); c.cause; c = c.cause) depth++;
    expect(depth).toBe(8);

    const withCtx = new DriverError('STATE_INVALID', 'x', { context: { inner: new Error('inner') } });
    expect(serializeError(withCtx).context).toMatchObject({ inner: { type: 'Error', message: 'inner' } });
    // Arbitrary own properties (a response body, say) are not copied.
    expect(serializeError(Object.assign(new Error('e'), { body: 'secret' }))).not.toHaveProperty('body');
  });
});

describe('logLevelFrom', () => {
  it('takes the flag, else the environment, else info', () => {
    expect(logLevelFrom('debug', {})).toBe('debug');
    expect(logLevelFrom('WARN', { [LOG_LEVEL_ENV]: 'trace' })).toBe('warn');
    expect(logLevelFrom(undefined, { [LOG_LEVEL_ENV]: 'trace' })).toBe('trace');
    expect(logLevelFrom(undefined, {})).toBe('info');
    expect(logLevelFrom('', { [LOG_LEVEL_ENV]: '' })).toBe('info');
  });

  it('refuses an unknown name, naming where it came from', () => {
    expect(() => logLevelFrom('verbose', {})).toThrow(ConfigError);
    expect(() => logLevelFrom(undefined, { [LOG_LEVEL_ENV]: 'loud' })).toThrow(/NETCLAIM_LOG_LEVEL: unknown log level "loud"/);
  });
});
