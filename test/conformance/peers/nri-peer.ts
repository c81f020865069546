/**
 * The container runtime's side of NRI, played by the Go program
 * test/conformance/nri-peer: containerd's own NRI adaptation package
 * (github.com/containerd/nri/pkg/adaptation) listening on a socket of ours.
 *
 *   runtime 'current' → nri-peer         nri v0.12.3 (containerd 2.4): dedicated
 *                       RunPodSandbox/StopPodSandbox/RemovePodSandbox RPCs
 *   runtime 'legacy'  → nri-peer-legacy  nri v0.8.0 (containerd 2.0, 2.1): pod
 *                       events only as Plugin.StateChange
 *
 *   const nri = await NriPeer.start({ socket: join(dir, 'nri.sock') });
 *   // ... start the plugin under test with that socket ...
 *   await nri.waitForPlugin('00-dra.net');
 *   const r = await nri.runPodSandbox({ id: 'p1', name: 'pod', uid, namespace: 'default', netns: ns.path });
 *   expect(r.ok).toBe(true);        // or r.error: the plugin's error text as the runtime sees it
 *   await nri.close();
 */
import { peerBinary } from './binaries.ts';
import { JsonLinesProcess, type JsonObject, type Reply } from './json-lines.ts';

export interface NriPod {
  readonly id: string;
  readonly name: string;
  readonly uid: string;
  readonly namespace: string;
  /** Network namespace path, e.g. /run/netns/cni-…; absent = host-network pod. */
  readonly netns?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
  readonly runtimeHandler?: string;
  readonly pid?: number;
  readonly ips?: readonly string[];
}

export interface NriContainer {
  readonly id: string;
  readonly name: string;
  readonly podId?: string;
  /** CONTAINER_CREATED (default), CONTAINER_RUNNING, CONTAINER_STOPPED ... */
  readonly state?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
  readonly args?: readonly string[];
  readonly env?: readonly string[];
}

/** A pod given in full, or by the id of one the peer already ran (as containerd would fill it in). */
export type PodRef = NriPod | { readonly podId: string };

/** protojson of nri.pkg.api.v1alpha1.ContainerAdjustment (lowerCamelCase). */
export interface ContainerAdjustment {
  annotations?: Record<string, string>;
  mounts?: JsonObject[];
  env?: { key: string; value: string }[];
  hooks?: JsonObject;
  linux?: JsonObject & { devices?: JsonObject[]; netDevices?: Record<string, JsonObject> };
  rlimits?: JsonObject[];
  CDIDevices?: JsonObject[];
  args?: string[];
}

export interface CreateContainerReply extends Reply {
  adjust?: ContainerAdjustment | null;
  update?: JsonObject[];
  evict?: JsonObject[];
}

export interface NriPluginInfo {
  /** "<idx>-<base>", e.g. "00-dra.net". */
  name: string;
  index: string;
  base: string;
  /** Subscribed event mask (RunPodSandbox|StopPodSandbox|RemovePodSandbox|CreateContainer = 15). */
  events: number;
  eventNames: string;
  /** Closed connections stay listed until the runtime's next event prunes them. */
  closed: boolean;
  pid: number;
}

export interface NriPeerOptions {
  readonly socket: string;
  /** 'current' (nri v0.12.3, default) or 'legacy' (nri v0.8.0, StateChange pod events). */
  readonly runtime?: 'current' | 'legacy';
  /** containerd's plugin_request_timeout (default 2000). */
  readonly requestTimeoutMs?: number;
  /** containerd's plugin_registration_timeout (default 5000). */
  readonly registrationTimeoutMs?: number;
  readonly runtimeName?: string;
  readonly runtimeVersion?: string;
  /**
   * The default validator's required plugins (containerd 2.2+
   * `default_validator.required_plugins`): container creation fails while one
   * of them is not connected. Current runtime only.
   */
  readonly requiredPlugins?: readonly string[];
  /** `default_validator.tolerate_missing_plugins_annotation`. */
  readonly tolerateMissingAnnotation?: string;
}

export class NriPeer {
  readonly proc: JsonLinesProcess;
  readonly socket: string;
  /** The ready event: nri module version, pod event delivery ('dedicated-rpc' | 'state-change'), timeouts. */
  readonly info: JsonObject;

  private constructor(proc: JsonLinesProcess, socket: string, info: JsonObject) {
    this.proc = proc;
    this.socket = socket;
    this.info = info;
  }

  static async start(opts: NriPeerOptions): Promise<NriPeer> {
    const args = ['--socket', opts.socket];
    if (opts.requestTimeoutMs !== undefined) args.push('--request-timeout', `${opts.requestTimeoutMs}ms`);
    if (opts.registrationTimeoutMs !== undefined) args.push('--registration-timeout', `${opts.registrationTimeoutMs}ms`);
    if (opts.runtimeName) args.push('--runtime-name', opts.runtimeName);
    if (opts.runtimeVersion) args.push('--runtime-version', opts.runtimeVersion);
    if (opts.requiredPlugins !== undefined && opts.requiredPlugins.length > 0) args.push('--required-plugins', opts.requiredPlugins.join(','));
    if (opts.tolerateMissingAnnotation !== undefined) args.push('--tolerate-missing-plugins-annotation', opts.tolerateMissingAnnotation);
    const bin = peerBinary(opts.runtime === 'legacy' ? 'nri-peer-legacy' : 'nri-peer');
    const proc = new JsonLinesProcess(bin, args);
    try {
      const info = await proc.waitForEvent((e) => e['event'] === 'ready', 10_000, 'ready');
      return new NriPeer(proc, opts.socket, info);
    } catch (err) {
      await proc.close();
      throw err;
    }
  }

  /** Resolves once plugin `name` ("<idx>-<base>") registered and got its Synchronize. */
  waitForPlugin(name: string, timeoutMs = 15_000): Promise<JsonObject> {
    return this.proc.waitForEvent((e) => e['event'] === 'plugin-synchronized' && e['plugin'] === name, timeoutMs, `plugin ${name} synchronized`);
  }

  waitForEvent<E extends JsonObject = JsonObject>(match: (ev: JsonObject) => boolean, timeoutMs?: number, what?: string): Promise<E> {
    return this.proc.waitForEvent<E>(match, timeoutMs, what);
  }

  get events(): JsonObject[] {
    return this.proc.events;
  }

  /** Plugins as the adaptation holds them (open ones only unless `all`). */
  async plugins(all = false): Promise<NriPluginInfo[]> {
    const r = await this.proc.call<Reply & { plugins?: NriPluginInfo[] }>('plugins');
    return (r.plugins ?? []).filter((p) => all || !p.closed);
  }

  runPodSandbox(pod: NriPod): Promise<Reply> {
    return this.proc.call('run-pod-sandbox', { pod });
  }

  /** `omitNetns`: leave the network namespace out, as some containerd versions do on StopPodSandbox. */
  stopPodSandbox(pod: PodRef, opts: { omitNetns?: boolean } = {}): Promise<Reply> {
    return this.proc.call('stop-pod-sandbox', { ...podFields(pod), ...opts });
  }

  removePodSandbox(pod: PodRef, opts: { omitNetns?: boolean } = {}): Promise<Reply> {
    return this.proc.call('remove-pod-sandbox', { ...podFields(pod), ...opts });
  }

  createContainer(pod: PodRef, container: NriContainer): Promise<CreateContainerReply> {
    return this.proc.call('create-container', { ...podFields(pod), container });
  }

  /** The runtime's StartContainer for a created container (a plugin's error fails the start). */
  startContainer(pod: PodRef, container: NriContainer): Promise<Reply> {
    return this.proc.call('start-container', { ...podFields(pod), container });
  }

  /**
   * Replaces the runtime's pods and containers. NRI sends them in the
   * Synchronize call to each plugin that registers afterwards (pods the peer
   * ran are tracked automatically; this is for "pods that existed before").
   */
  synchronize(pods: readonly NriPod[], containers: readonly NriContainer[] = []): Promise<Reply> {
    return this.proc.call('synchronize', { pods, containers });
  }

  /** Like a runtime restart: every plugin connection is closed and the socket re-created. */
  restart(): Promise<Reply> {
    return this.proc.call('restart');
  }

  close(): Promise<void> {
    return this.proc.close();
  }
}

function podFields(pod: PodRef): JsonObject {
  return 'podId' in pod ? { podId: pod.podId } : { pod };
}
