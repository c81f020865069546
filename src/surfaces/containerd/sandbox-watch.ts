/**
 * Reports each CRI pod sandbox container as containerd creates it, from
 * containerd's own event stream: `Events.Subscribe` filtered to
 * `/containers/create` in one containerd namespace, then `Containers.Get`
 * for the labels and the OCI spec (sandbox-container.ts says what they hold).
 *
 * Why: containerd 2.x makes the pod's netns, runs CNI and creates the pause
 * container record well before it calls NRI's RunPodSandbox (it first starts
 * the pause task with runc). The /containers/create event is published when
 * the record is committed, before the task exists (plugins/services/containers/local.go,
 * Create: store, then publish), so a NIC move can start tens of milliseconds earlier.
 * This is only a head start: a watch that is down, late or wrong leaves the
 * NRI RunPodSandbox path to do the attach, as without it.
 *
 *   const w = new SandboxWatch({ socketPath, onSandbox: (s) => …, log });
 *   w.on('state', (state, reason) => …);   // 'connected' | 'disconnected'
 *   w.start();
 *   await w.close();
 *
 * - connected: the Subscribe stream is open and containerd has answered a
 *   PING sent after it (it has read the request). containerd's grpc-go server
 *   sends no response head until the first event, so nothing earlier says more.
 * - Any failure (socket missing, containerd restarting, stream ended, a bad
 *   frame) drops the session and retries after retryMs, doubling up to 10×
 *   retryMs; one log line per transition, not per attempt.
 * - Events while disconnected are missed, by design (see above).
 */
import { EventEmitter } from 'node:events';
import { ConfigError } from '../../common/errors.ts';
import { withContext, type Logger } from '../../observe/logger.ts';
import { GRPC_CODE, GrpcCallError, GrpcUnixSession, type CallHandle } from './grpc-unix.ts';
import { CONTAINERD_METHOD, CONTAINERD_TYPES, NAMESPACE_HEADER, encodeMessage } from './protos.ts';
import { isSkip, sandboxFromContainer, type SandboxSeen } from './sandbox-container.ts';
import { createTopicFilter, decodeContainerCreate, decodeGetContainer, validNamespace } from './watch-codec.ts';

export type { SandboxSeen } from './sandbox-container.ts';

export interface SandboxWatchOptions {
  readonly socketPath: string;
  /** containerd namespace, default 'k8s.io' (the CRI plugin's). */
  readonly namespace?: string;
  /** Called once per sandbox container created while connected. A throw is logged, never propagated. */
  readonly onSandbox: (s: SandboxSeen) => void;
  readonly log: Logger;
  /** Reconnect delay, default 1000 ms; doubles per failed attempt up to 10×. */
  readonly retryMs?: number;
}

export type SandboxWatchState = 'connected' | 'disconnected';

/** An Envelope carries one small event: anything near this is not one. */
const MAX_EVENT_BYTES = 64 * 1024;
/** A Container with its OCI spec: grpc-go's default receive limit. */
const MAX_CONTAINER_BYTES = 4 * 1024 * 1024;
/** Containers.Get calls in flight at once; more wait their turn, in event order. */
const MAX_LOOKUPS = 8;
/** Creations waiting for a lookup; past this (a flood no node makes) they are dropped, and NRI still attaches. */
const MAX_QUEUED = 4096;

export class SandboxWatch extends EventEmitter<{ state: [SandboxWatchState, string] }> {
  readonly #o: SandboxWatchOptions;
  readonly #ns: string;
  readonly #retryMs: number;
  readonly #log: Logger;
  #session: GrpcUnixSession | undefined;
  #subscription: CallHandle | undefined;
  #timer: NodeJS.Timeout | undefined;
  #started = false;
  #closed = false;
  #closing: Promise<void> = Promise.resolve();
  #connected = false;
  /** Failed attempts since the last lasting connection (0: none; the first failure is logged, not the rest). */
  #failures = 0;
  /** When the current connection came up (Date.now()). */
  #upAt = 0;
  #lookups = 0;
  /** Containers to look up, with the session their event came on. */
  #queue: { session: GrpcUnixSession; id: string }[] = [];

  constructor(o: SandboxWatchOptions) {
    super();
    this.#o = o;
    this.#ns = o.namespace ?? 'k8s.io';
    if (!validNamespace(this.#ns)) {
      throw new ConfigError(`namespace: ${JSON.stringify(this.#ns)} is not a containerd namespace name`, { context: { field: 'namespace', value: this.#ns } });
    }
    this.#retryMs = Math.max(1, o.retryMs ?? 1000);
    this.#log = withContext(o.log, { component: 'containerd' });
  }

  get connected(): boolean {
    return this.#connected;
  }

  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#connect();
  }

  /** Stops for good: no retry timer, the session's socket closed when this resolves. Idempotent. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#closing = this.#drop('closed');
    }
    return this.#closing;
  }

  #connect(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    const session = new GrpcUnixSession(this.#o.socketPath);
    this.#session = session;
    session.onGone((reason) => this.#lost(session, reason));
    this.#subscription = session.serverStream(CONTAINERD_METHOD.subscribe,
      encodeMessage(CONTAINERD_TYPES.SubscribeRequest, { filters: [createTopicFilter(this.#ns)] }), {}, MAX_EVENT_BYTES, {
        message: (bytes) => this.#onEnvelope(session, bytes),
        end: (err) => this.#lost(session, err ? `the event stream ended: ${err.message}` : 'containerd ended the event stream'),
      });
    session.ready().then(() => session.ping()).then(() => this.#up(session), () => {}); // failures arrive through onGone / end
  }

  #up(session: GrpcUnixSession): void {
    if (session !== this.#session || this.#connected) return;
    this.#connected = true;
    this.#upAt = Date.now();
    this.#log.info({ socket: this.#o.socketPath, namespace: this.#ns }, 'subscribed to containerd sandbox creations');
    this.#emitState('connected', 'subscribed');
  }

  /** A listener's throw is logged: it must not stop a retry from being scheduled. */
  #emitState(state: SandboxWatchState, reason: string): void {
    try {
      this.emit('state', state, reason);
    } catch (err) {
      this.#log.error({ err, state }, "a 'state' listener threw");
    }
  }

  /** The session or its stream failed: drop it, say so once, try again later. */
  #lost(session: GrpcUnixSession, reason: string): void {
    if (session !== this.#session || this.#closed) return;
    const wasConnected = this.#connected;
    // A connection that lasted resets the backoff; one dropped at once (a stream refused after
    // the PING) keeps it growing, so a containerd that always refuses is retried ever slower.
    if (wasConnected && Date.now() - this.#upAt >= this.#retryMs * 10) this.#failures = 0;
    void this.#drop(reason);
    if (wasConnected) this.#log.warn({ reason }, 'containerd event stream lost; NRI RunPodSandbox attaches alone until it is back');
    else if (this.#failures === 0) this.#log.warn({ reason, socket: this.#o.socketPath }, 'containerd unreachable; retrying quietly');
    this.#failures++;
    const delay = Math.min(this.#retryMs * 2 ** Math.min(this.#failures - 1, 4), this.#retryMs * 10);
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  /** Drops the session (resolves once its socket is closed) and says so if it was connected. */
  #drop(reason: string): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    this.#subscription?.cancel();
    this.#subscription = undefined;
    const closed = session?.destroy() ?? Promise.resolve();
    this.#queue = [];
    if (this.#connected) {
      this.#connected = false;
      this.#emitState('disconnected', reason);
    }
    return closed;
  }

  #onEnvelope(session: GrpcUnixSession, bytes: Buffer): void {
    const created = decodeContainerCreate(bytes, this.#ns);
    if (typeof created !== 'string') {
      this.#log.debug({ reason: created.reason }, 'event skipped');
      return;
    }
    if (this.#queue.length >= MAX_QUEUED) {
      this.#log.warn({ container: created }, 'container skipped: too many lookups waiting');
      return;
    }
    this.#queue.push({ session, id: created });
    this.#next();
  }

  #next(): void {
    while (this.#lookups < MAX_LOOKUPS && this.#queue.length > 0) {
      const { session, id } = this.#queue.shift()!;
      if (session !== this.#session) continue; // its connection is gone: the lookup would fail
      this.#lookups++;
      void this.#lookUp(session, id).finally(() => {
        this.#lookups--;
        this.#next();
      });
    }
  }

  async #lookUp(session: GrpcUnixSession, id: string): Promise<void> {
    let bytes: Buffer;
    try {
      bytes = await session.unary(CONTAINERD_METHOD.getContainer, encodeMessage(CONTAINERD_TYPES.GetContainerRequest, { id }),
        { [NAMESPACE_HEADER]: this.#ns }, MAX_CONTAINER_BYTES);
    } catch (err) {
      const gone = err instanceof GrpcCallError && err.code === GRPC_CODE.NOT_FOUND;
      if (!this.#closed) this.#log.debug({ container: id, err }, gone ? 'container skipped: already gone' : 'container skipped: lookup failed');
      return;
    }
    if (this.#closed) return;
    const container = decodeGetContainer(bytes, id);
    if ('reason' in container) {
      this.#log.debug({ container: id, reason: container.reason }, 'container skipped');
      return;
    }
    const seen = sandboxFromContainer(container);
    if (isSkip(seen)) {
      this.#log.debug({ container: id, ...seen }, 'container skipped');
      return;
    }
    this.#log.debug({ container: id, podUid: seen.uid, netns: seen.netns }, 'sandbox created');
    try {
      this.#o.onSandbox(seen);
    } catch (err) {
      this.#log.error({ err, container: id }, 'onSandbox threw');
    }
  }
}
