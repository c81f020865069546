/**
 * The kubelet's side of plugin registration and of the DRA gRPC API, played by
 * the Go program test/conformance/kubelet-peer (generated clients of
 * k8s.io/kubelet v0.37.2, the kubelet 1.37 rules). One long-running
 * `kubelet-peer serve` process per instance; see peers/README.md.
 *
 *   const kubelet = await KubeletPeer.start({ registry: dir });
 *   const reg = await kubelet.waitForRegistration('dra.net');   // service 'v1.DRAPlugin'
 *   const r = await kubelet.prepare('dra.net', [{ namespace, uid, name }]);
 *   await kubelet.close();
 */
import { peerBinary } from './binaries.ts';
import { JsonLinesProcess, type JsonObject, type Reply } from './json-lines.ts';

export interface ClaimRef {
  readonly namespace: string;
  readonly uid: string;
  readonly name: string;
}

/** One registration attempt (the kubelet retries failed ones with back-off) or a de-registration. */
export interface RegistrationEvent extends JsonObject {
  event: 'registered' | 'registration-failed' | 'deregistered';
  socket: string;
  type?: string;
  name?: string;
  endpoint?: string;
  versions?: string[];
  /** The DRAPlugin service the kubelet chose: 'v1.DRAPlugin' or 'v1beta1.DRAPlugin'. */
  service?: string;
  /** 'v1.DRAResourceHealth' / 'v1alpha1.DRAResourceHealth' when advertised. */
  healthService?: string;
  /** NotifyRegistrationStatus reached the plugin. */
  notified: boolean;
  error?: string;
  /** Accepted by the kubelet but suspicious (empty name, endpoint not a socket ...). */
  warnings?: string[];
  attempt?: number;
  elapsedMs: number;
}

export interface PluginSummary {
  driver: string;
  endpoint: string;
  service: string;
  healthService?: string;
  connected: boolean;
}

/** protojson of k8s.io.kubelet.pkg.apis.dra.v1 messages (lowerCamelCase, empty fields omitted). */
export interface PreparedDevice {
  requestNames?: string[];
  poolName: string;
  deviceName: string;
  cdiDeviceIds?: string[];
  shareId?: string;
}
export interface NodePrepareResourcesResponse {
  claims?: Record<string, { devices?: PreparedDevice[]; error?: string }>;
}
export interface NodeUnprepareResourcesResponse {
  claims?: Record<string, { error?: string }>;
}

export interface CallReply<T> extends Reply {
  /** gRPC status code name of a failed call ('Unavailable', 'DeadlineExceeded', ...). */
  code?: string;
  response?: T;
  service?: string;
  endpoint?: string;
}

export interface HealthEvent extends JsonObject {
  event: 'health' | 'health-stream-ended';
  driver: string;
  service: string;
  response?: { devices?: { device: { poolName: string; deviceName: string }; health?: string; lastUpdatedTime?: string; healthCheckTimeoutSeconds?: string; message?: string }[] };
  error?: string;
  code?: string;
}

export interface KubeletPeerOptions {
  /** Plugin registry directory to watch like the kubelet (plugins_registry). Without it, only direct calls. */
  readonly registry?: string;
  /** Open NodeWatchResources for plugins advertising a health service (default true, as kubelet 1.37). */
  readonly healthStream?: boolean;
}

/** Where a call goes: a registered driver (the kubelet's choice of instance and service) or a socket. */
export type Target = string | { readonly endpoint: string; readonly service?: 'v1' | 'v1beta1' };

export class KubeletPeer {
  readonly proc: JsonLinesProcess;

  private constructor(proc: JsonLinesProcess) {
    this.proc = proc;
  }

  static async start(opts: KubeletPeerOptions = {}): Promise<KubeletPeer> {
    const args = ['serve'];
    if (opts.registry) args.push('--registry', opts.registry);
    if (opts.healthStream === false) args.push('--health-stream=false');
    const proc = new JsonLinesProcess(peerBinary('kubelet-peer'), args);
    try {
      await proc.waitForEvent((e) => e['event'] === 'ready', 10_000, 'ready');
    } catch (err) {
      await proc.close();
      throw err;
    }
    return new KubeletPeer(proc);
  }

  /** Every registration attempt / de-registration reported so far. */
  get registrations(): RegistrationEvent[] {
    return this.proc.events.filter((e) => typeof e['event'] === 'string' && /^(registered|registration-failed|deregistered)$/.test(e['event'])) as RegistrationEvent[];
  }

  /** The first registration attempt (successful or not) of `driver` (or of any plugin). */
  waitForRegistration(driver?: string, timeoutMs = 15_000): Promise<RegistrationEvent> {
    return this.proc.waitForEvent<RegistrationEvent>(
      (e) => (e['event'] === 'registered' || e['event'] === 'registration-failed') && (driver === undefined || e['name'] === driver),
      timeoutMs, `registration of ${driver ?? 'a plugin'}`);
  }

  /** The first successful registration of `driver`. */
  waitForRegistered(driver: string, timeoutMs = 15_000): Promise<RegistrationEvent> {
    return this.proc.waitForEvent<RegistrationEvent>((e) => e['event'] === 'registered' && e['name'] === driver,
      timeoutMs, `successful registration of ${driver}`);
  }

  waitForEvent<E extends JsonObject = JsonObject>(match: (ev: JsonObject) => boolean, timeoutMs?: number, what?: string): Promise<E> {
    return this.proc.waitForEvent<E>(match, timeoutMs, what);
  }

  async plugins(): Promise<PluginSummary[]> {
    const r = await this.proc.call<Reply & { plugins?: PluginSummary[] }>('plugins');
    return r.plugins ?? [];
  }

  prepare(target: Target, claims: readonly ClaimRef[], opts: { timeoutMs?: number } = {}): Promise<CallReply<NodePrepareResourcesResponse>> {
    return this.proc.call('prepare', { ...targetFields(target), claims, ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) }, (opts.timeoutMs ?? 45_000) + 5_000);
  }

  unprepare(target: Target, claims: readonly ClaimRef[], opts: { timeoutMs?: number } = {}): Promise<CallReply<NodeUnprepareResourcesResponse>> {
    return this.proc.call('unprepare', { ...targetFields(target), claims, ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) }, (opts.timeoutMs ?? 45_000) + 5_000);
  }

  /** GetInfo on a registration socket, without NotifyRegistrationStatus. */
  async getInfo(socket: string): Promise<Reply & { info?: { type?: string; name?: string; endpoint?: string; supportedVersions?: string[] }; code?: string }> {
    return this.proc.call('get-info', { socket }, 15_000);
  }

  /** Streams NodeWatchResources for `durationMs`; the messages arrive as 'health' events. */
  watchHealth(target: string | { endpoint: string; service?: 'v1' | 'v1alpha1' }, durationMs = 5_000): Promise<Reply & { messages?: number; code?: string }> {
    const fields = typeof target === 'string' ? { driver: target } : { endpoint: target.endpoint, service: target.service ?? 'v1' };
    return this.proc.call('watch-health', { ...fields, durationMs }, durationMs + 15_000);
  }

  healthEvents(driver?: string): HealthEvent[] {
    return this.proc.eventsNamed<HealthEvent>('health').filter((e) => driver === undefined || e.driver === driver);
  }

  close(): Promise<void> {
    return this.proc.close();
  }
}

function targetFields(target: Target): JsonObject {
  return typeof target === 'string' ? { driver: target } : { endpoint: target.endpoint, service: target.service ?? 'v1' };
}
