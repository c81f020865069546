/**
 * The log sink (log-sink.ts) over a real fifo, written through a net.Socket
 * on its write end exactly as process.stdout writes a pipe: a reader that
 * reads, one that stops reading (the pipe fills), one that goes away (EPIPE)
 * and a new reader after that. Then the accounting invariant under injected
 * failures (an in-memory Writable: a write that fails on demand is a fault a
 * real pipe gives only in the few ways above).
 */
import { execFileSync, fork } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createLogSink, type LogSink, type LogSinkStats } from './log-sink.ts';
import { registerLogMetrics } from './log-metrics.ts';
import { createLogger } from './logger.ts';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanup.splice(0).reverse()) {
    try { f(); } catch { /* already closed */ }
  }
});

interface Fifo { readonly path: string; reader: number | undefined; readonly socket: Socket; readonly writeFd: number }

/** A fifo with a reader (not reading until asked) and a net.Socket on its write end, like stdout on a pipe. */
function fifo(): Fifo {
  const dir = mkdtempSync(join(tmpdir(), 'nc-logsink-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'out');
  execFileSync('mkfifo', [path]);
  const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const writeFd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
  const socket = new Socket({ fd: writeFd, readable: false, writable: true });
  const f: Fifo = { path, reader, socket, writeFd };
  cleanup.push(() => socket.destroy());
  cleanup.push(() => { if (f.reader !== undefined) closeSync(f.reader); });
  return f;
}

/** Everything the reader can read now. */
function readAll(f: Fifo): string {
  const buf = Buffer.alloc(1 << 16);
  let out = '';
  for (;;) {
    try {
      const n = readSync(f.reader!, buf);
      if (n === 0) return out;
      out += buf.toString('utf8', 0, n);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return out;
      throw err;
    }
  }
}

/** Fills the pipe (64 KiB by default) so the next write waits. */
function fillPipe(f: Fifo): number {
  const chunk = Buffer.alloc(4096, 'f');
  let n = 0;
  for (;;) {
    try {
      n += writeSync(f.writeFd, chunk);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return n;
      throw err;
    }
  }
}

const NODE = process.versions.node.startsWith('24.') ? process.execPath : resolve('node_modules/.bin/node');
const CHILD = new URL('../../test/fixtures/log-sink/stdout-child.ts', import.meta.url).pathname;

/** Asks the child for its stats until `cond` holds. */
async function untilStats(ask: (m: { op: string }) => Promise<LogSinkStats>, cond: (s: LogSinkStats) => boolean, ms = 20_000): Promise<LogSinkStats> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = await ask({ op: 'stats' });
    if (cond(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out; last stats ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** One JSON line; the same length for every i < 10,000. */
const line = (i: number, pad = 0): string => `${JSON.stringify({ i: String(i).padStart(4, '0'), pad: 'x'.repeat(pad) })}\n`;

describe('createLogSink over a real fifo', () => {
  it('a reader that reads gets every line; nothing is pending', async () => {
    const f = fifo();
    const sink = createLogSink(f.socket);
    for (let i = 0; i < 50; i++) sink.write(line(i));
    await until('written', () => sink.stats().written === 50);
    expect(sink.stats()).toEqual({ written: 50, pending: 0, dropped: { backlog: 0, error: 0 } });
    expect(readAll(f).split('\n').filter(Boolean).map((l) => Number((JSON.parse(l) as { i: string }).i))).toEqual([...Array(50).keys()]);
    expect(await sink.drained(1000)).toBe(true);
  });

  it('a reader that stopped reading: writes return at once, at most the backlog waits, the rest is dropped as backlog; reading again drains it', async () => {
    const f = fifo();
    const filled = fillPipe(f);
    const sink = createLogSink(f.socket, { maxBacklogBytes: 2000 });
    for (let i = 0; i < 100; i++) sink.write(line(i, 80)); // ~100 bytes each
    const s = sink.stats();
    expect(s.written).toBe(0);
    expect(s.pending).toBeGreaterThan(0);
    expect(s.pending).toBeLessThanOrEqual(20);
    expect(s.dropped.backlog).toBe(100 - s.pending);
    expect(f.socket.writableLength).toBeLessThanOrEqual(2000);
    expect(await sink.drained(50)).toBe(false); // a stuck reader: bounded wait, false
    // The reader comes back: the waiting lines flow, in order, after what filled the pipe.
    let got = '';
    const drained = sink.drained(20_000);
    await until('drained', () => { got += readAll(f); return sink.stats().pending === 0; });
    expect(await drained).toBe(true);
    got += readAll(f);
    expect(got.length).toBe(filled + s.pending * line(0, 80).length);
    expect(sink.stats()).toMatchObject({ written: s.pending, pending: 0, dropped: { backlog: 100 - s.pending, error: 0 } });
  });

  it('the reader went away (stdout of a real process): EPIPE drops lines as error, no crash, no write per dropped line; after retryMs a new reader gets the log', async () => {
    const f = fifo();
    const child = fork(CHILD, ['1000'], { execPath: NODE, stdio: ['ignore', f.writeFd, 'pipe', 'ipc'] });
    cleanup.push(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const ask = async (m: { op: string; n?: number }): Promise<LogSinkStats> => {
      const answer = new Promise<LogSinkStats>((r) => child.once('message', (x: { stats: LogSinkStats }) => r(x.stats)));
      child.send(m);
      return answer;
    };
    await new Promise((r) => child.once('message', r)); // ready
    await ask({ op: 'log', n: 3 });
    await untilStats(ask, (s) => s.written === 3);
    expect(readAll(f).match(/"msg":"line"/g)).toHaveLength(3);
    closeSync(f.reader!);
    f.reader = undefined;
    await ask({ op: 'log', n: 1 });
    let stats = await untilStats(ask, (s) => s.dropped.error >= 1);
    expect(stats).toMatchObject({ written: 3, pending: 0, lastError: 'EPIPE' });
    // While failing: 1,000 lines dropped without a write each (they would be pending, then fail, otherwise);
    // at most one tries the output again if retryMs passed meanwhile (a loaded machine).
    stats = await ask({ op: 'log', n: 1000 });
    expect(stats.dropped.error + stats.pending).toBeGreaterThanOrEqual(1001);
    expect(stats.pending).toBeLessThanOrEqual(1);
    // Node writes a warning to the same gone pipe's stderr: ignored, not a crash.
    child.stderr!.destroy();
    await ask({ op: 'warn' });
    // A fifo can get a new reader: a line tried after retryMs (1 s here) reaches it.
    f.reader = openSync(f.path, constants.O_RDONLY | constants.O_NONBLOCK);
    let got = '';
    await until('a new line read', () => {
      child.send({ op: 'log', n: 1 });
      got += readAll(f);
      return got.includes('"msg":"line"');
    });
    stats = await untilStats(ask, (s) => s.written >= 4);
    expect(stats.written).toBeGreaterThanOrEqual(4);
    child.send({ op: 'exit' });
    expect(await exited).toBe(0);
  });

  it('lines waiting for a stuck reader that then goes away are each counted as error', async () => {
    const f = fifo();
    fillPipe(f);
    const sink = createLogSink(f.socket);
    for (let i = 0; i < 30; i++) sink.write(line(i));
    expect(sink.stats().pending).toBe(30);
    closeSync(f.reader!);
    f.reader = undefined;
    // The pipe gets room only for the kernel's wake-up: libuv's next write fails with EPIPE.
    await until('the waiting lines fail', () => sink.stats().pending === 0);
    expect(sink.stats()).toMatchObject({ written: 0, dropped: { backlog: 0, error: 30 }, lastError: 'EPIPE' });
  });

  it('a logger on the sink and its metric: netclaim_log_lines_dropped_total{reason}', async () => {
    const f = fifo();
    fillPipe(f);
    const sink = createLogSink(f.socket, { maxBacklogBytes: 0 });
    const registry = new Registry();
    registerLogMetrics(registry, sink);
    expect(await registry.metrics()).toContain('netclaim_log_lines_dropped_total{reason="backlog"} 0');
    const log = createLogger({ destination: sink });
    log.info('waits: nothing else does'); // one line longer than the backlog still goes when nothing waits
    log.info('too much');
    log.warn('still too much');
    const text = await registry.metrics();
    expect(text).toContain('netclaim_log_lines_dropped_total{reason="backlog"} 2');
    expect(text).toContain('netclaim_log_lines_dropped_total{reason="error"} 0');
  });
});

/** A Writable whose writes succeed or fail as `outcomes` says, now or later (fault injection). */
function scripted(): { target: Writable; next: Array<{ fail: boolean; sync: boolean; throws?: boolean }> } {
  const next: Array<{ fail: boolean; sync: boolean; throws?: boolean }> = [];
  const target = new Writable({
    decodeStrings: false,
    write(_chunk, _enc, cb) {
      const o = next.shift() ?? { fail: false, sync: true };
      const finish = (): void => cb(o.fail ? Object.assign(new Error('injected'), { code: 'EIO' }) : null);
      if (o.sync) finish();
      else setImmediate(finish);
    },
  });
  // Keep writing after an error, as stdout does (Node un-destroys its stdio streams).
  target.on('error', () => { (target as unknown as { _undestroy(): void })._undestroy(); });
  return { target, next };
}

describe('createLogSink accounting (injected failures)', () => {
  it('never throws: a target whose write throws counts the line as error', () => {
    const sink = createLogSink({ write: () => { throw new Error('boom'); }, writableLength: 0, on: () => undefined });
    expect(() => sink.write('x\n')).not.toThrow();
    expect(sink.stats()).toEqual({ written: 0, pending: 0, dropped: { backlog: 0, error: 1 }, lastError: 'Error' });
  });

  it('after a failed write: lines dropped until retryMs, then one line tries the output while the next wait for its answer; success resumes', async () => {
    const { target, next } = scripted();
    let now = 0;
    const sink = createLogSink(target, { retryMs: 100, now: () => now });
    next.push({ fail: true, sync: true });
    sink.write('a\n');
    await tick();
    expect(sink.stats()).toMatchObject({ written: 0, pending: 0, dropped: { error: 1 }, lastError: 'EIO' });
    now = 99;
    sink.write('b\n');
    expect(sink.stats()).toMatchObject({ pending: 0, dropped: { error: 2 } });
    now = 100;
    next.push({ fail: false, sync: false });
    sink.write('c\n'); // the try
    sink.write('d\n'); // waits for its answer: dropped
    expect(sink.stats()).toMatchObject({ pending: 1, dropped: { error: 3 } });
    await until('the try answered', () => sink.stats().pending === 0);
    sink.write('e\n');
    await until('written', () => sink.stats().written === 2);
    expect(sink.stats()).toEqual({ written: 2, pending: 0, dropped: { backlog: 0, error: 3 }, lastError: 'EIO' });
  });

  it('every line offered ends as written, dropped or pending, whatever the failures and the clock', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.record({ fail: fc.boolean(), sync: fc.boolean(), size: fc.integer({ min: 1, max: 300 }), advance: fc.integer({ min: 0, max: 3 }) }), { minLength: 1, maxLength: 60 }),
      fc.integer({ min: 0, max: 2000 }),
      async (steps, maxBacklogBytes) => {
        const { target, next } = scripted();
        let now = 0;
        const sink: LogSink = createLogSink(target, { maxBacklogBytes, retryMs: 2, now: () => now });
        let offered = 0;
        for (const s of steps) {
          next.push({ fail: s.fail, sync: s.sync });
          sink.write(`${'y'.repeat(s.size)}\n`);
          offered += 1;
          now += s.advance;
          const st = sink.stats();
          expect(st.written + st.dropped.backlog + st.dropped.error + st.pending).toBe(offered);
          expect(st.pending).toBeGreaterThanOrEqual(0);
          if (s.advance % 2 === 1) await tick();
        }
        for (let i = 0; i < 5 && sink.stats().pending > 0; i++) await tick();
        const st = sink.stats();
        expect(st.pending).toBe(0);
        expect(st.written + st.dropped.backlog + st.dropped.error).toBe(steps.length);
        expect(target.writableLength).toBe(0);
      },
    ), { numRuns: 200, interruptAfterTimeLimit: 20_000 });
  });
});
