/**
 * A child process that speaks JSON lines: commands on stdin, replies (matched
 * by `id`) and events on stdout, free text on stderr. The base of the kubelet
 * and NRI peer wrappers and of the test plugins' handles.
 *
 * Every process started here is tracked: `closeAllPeerProcesses()` (call it in
 * afterEach/afterAll) ends them by PID — SIGTERM, then SIGKILL after a grace
 * period — and a process `exit` hook SIGKILLs whatever is left, so a failing
 * test never leaks a peer.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

export type JsonObject = Record<string, unknown>;

export interface Reply extends JsonObject {
  id?: number;
  ok: boolean;
  error?: string;
  elapsedMs?: number;
}

export interface SpawnOptions {
  /** Name used in error messages (default: the binary's base name). */
  readonly name?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** How long `close()` waits after SIGTERM before SIGKILL (default 3 s). */
  readonly killGraceMs?: number;
}

const live = new Set<JsonLinesProcess>();

/** Ends every process started through this module (by PID). */
export async function closeAllPeerProcesses(): Promise<void> {
  await Promise.all([...live].map((p) => p.close()));
}

process.on('exit', () => {
  for (const p of live) p.killNow();
});

interface Waiter {
  readonly match: (ev: JsonObject) => boolean;
  readonly resolve: (ev: JsonObject) => void;
}

export class JsonLinesProcess {
  readonly name: string;
  readonly pid: number;
  /** Every non-reply object seen on stdout, in order. */
  readonly events: JsonObject[] = [];
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<number, (r: Reply) => void>();
  private readonly waiters = new Set<Waiter>();
  private readonly stderrLines: string[] = [];
  private readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;
  private nextId = 1;
  private readonly killGraceMs: number;

  constructor(bin: string, args: readonly string[], opts: SpawnOptions = {}) {
    this.name = opts.name ?? bin.split('/').pop()!;
    this.killGraceMs = opts.killGraceMs ?? 3000;
    this.child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
    if (this.child.pid === undefined) throw new Error(`${this.name}: failed to start ${bin}`);
    this.pid = this.child.pid;
    live.add(this);
    this.child.stdin.on('error', () => { /* the process went away; pending calls fail on exit */ });
    createInterface({ input: this.child.stdout }).on('line', (line) => this.onLine(line));
    createInterface({ input: this.child.stderr }).on('line', (line) => {
      this.stderrLines.push(line);
      if (this.stderrLines.length > 200) this.stderrLines.shift();
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitCode = code;
        live.delete(this);
        // Calls still waiting get a failed reply rather than hanging until their timeout.
        const error = `${this.name} exited (${signal ?? code})${this.stderrTail()}`;
        for (const resolvePending of this.pending.values()) resolvePending({ ok: false, error });
        this.pending.clear();
        resolve(code);
      });
    });
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** The last lines the process wrote to stderr, for error messages. */
  stderrTail(lines = 20): string {
    const tail = this.stderrLines.slice(-lines);
    return tail.length ? `\n--- ${this.name} stderr ---\n${tail.join('\n')}` : '';
  }

  private onLine(line: string): void {
    let obj: JsonObject;
    try {
      obj = JSON.parse(line) as JsonObject;
    } catch {
      this.stderrLines.push(`(stdout) ${line}`);
      return;
    }
    if (typeof obj['id'] === 'number' && 'ok' in obj && this.pending.has(obj['id'])) {
      const resolve = this.pending.get(obj['id'])!;
      this.pending.delete(obj['id']);
      resolve(obj as Reply);
      return;
    }
    this.events.push(obj);
    for (const w of this.waiters) {
      if (w.match(obj)) {
        this.waiters.delete(w);
        w.resolve(obj);
      }
    }
  }

  /** Sends one command and resolves with its reply; rejects after `timeoutMs`. */
  async call<R extends Reply = Reply>(cmd: string, body: JsonObject = {}, timeoutMs = 30_000): Promise<R> {
    if (!this.running) throw new Error(`${this.name} is not running${this.stderrTail()}`);
    const id = this.nextId++;
    const reply = new Promise<Reply>((resolve) => this.pending.set(id, resolve));
    this.child.stdin.write(`${JSON.stringify({ ...body, id, cmd })}\n`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: no reply to ${cmd} within ${timeoutMs} ms${this.stderrTail()}`));
      }, timeoutMs);
    });
    try {
      return (await Promise.race([reply, timeout])) as R;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Resolves with the first event (already seen or still to come) that
   * matches; rejects after `timeoutMs` or when the process exits.
   */
  waitForEvent<E extends JsonObject = JsonObject>(match: (ev: JsonObject) => boolean, timeoutMs = 15_000, what = 'event'): Promise<E> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen as E);
    return new Promise<E>((resolve, reject) => {
      const w: Waiter = { match, resolve: (ev) => { clearTimeout(timer); resolve(ev as E); } };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`${this.name}: no ${what} within ${timeoutMs} ms; events: ${JSON.stringify(this.events.slice(-10))}${this.stderrTail()}`));
      }, timeoutMs);
      this.waiters.add(w);
      void this.exited.then((code) => {
        if (!this.waiters.delete(w)) return;
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${code}) while waiting for ${what}${this.stderrTail()}`));
      });
    });
  }

  /** Events named `name` (the `event` field) seen so far. */
  eventsNamed<E extends JsonObject = JsonObject>(name: string): E[] {
    return this.events.filter((e) => e['event'] === name) as E[];
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves once the process is gone. */
  async close(): Promise<void> {
    if (!this.running) return;
    this.child.stdin.end();
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), this.killGraceMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Synchronous SIGKILL (process exit hook). */
  killNow(): void {
    this.signal('SIGKILL');
  }

  private signal(sig: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      /* already gone */
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
