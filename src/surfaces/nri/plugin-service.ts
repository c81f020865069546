/**
 * The NRI Plugin service (what the runtime calls on mux conn 1), for one
 * connection, backed by a PodPort:
 *
 *   Configure         record the runtime and its timeouts; subscribe `events`
 *   Synchronize       collect split messages (`more`), then port.synchronize once
 *   Run/Stop/RemovePodSandbox, CreateContainer    → the port (dedicated RPCs, nri ≥ v0.12)
 *   StartContainer    → the port's container gate, subscribed only on a runtime
 *                     that fails a container's start when it fails (runtime-gate.ts)
 *   StateChange       the same pod and container hooks, dispatched on `event` (nri ≤ v0.11)
 *   Shutdown          noted; the connection drop that follows triggers a reconnect
 *   everything else   an empty answer, as nri's Go stub gives for events it has
 *                     no handler for (UNIMPLEMENTED would fail UpdateContainer,
 *                     StopContainer and ValidateContainerAdjustment on the runtime)
 *
 * A port throw in RunPodSandbox, CreateContainer or StartContainer becomes an
 * UNKNOWN status carrying its message (the runtime fails the sandbox or
 * container); Stop and
 * Remove never fail the runtime's call (PodPort promises they do not throw;
 * if one does it is logged).
 */
import type { NriContainer, NriPod, PodPort } from '../../driver/pod-port.ts';
import { adjustmentToWire, containerFromWire, podFromWire, requireContainer, requirePod } from './convert.ts';
import { START_CONTAINER_EVENT, type NriEventName } from './events.ts';
import {
  decodeMessage, encodeMessage, NRI_TYPES, PLUGIN_SERVICE,
  type WireConfigureRequest, type WireCreateContainerRequest, type WirePodRequest, type WireStartContainerRequest, type WireStateChangeEvent,
  type WireSynchronizeRequest,
} from './protos.ts';
import { startFailsClosed } from './runtime-gate.ts';
import type { TtrpcCallContext, TtrpcUnaryHandler } from './ttrpc.ts';

/** A pino-compatible logger, reduced to what the surface uses. */
export interface NriLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug?(obj: object, msg: string): void;
}

/** What Configure told the plugin about the runtime. */
export interface NriRuntimeInfo {
  readonly name: string;
  readonly version: string;
  /** The runtime's NRI module version; empty before nri v0.12. */
  readonly nriVersion: string;
  readonly registrationTimeoutMs: number;
  /** How long the runtime waits for each hook before it closes the connection. */
  readonly requestTimeoutMs: number;
}

/** The pod and container hooks, plus Configure and Synchronize. */
export type NriHook = 'Configure' | 'Synchronize' | 'RunPodSandbox' | 'StopPodSandbox' | 'RemovePodSandbox' | 'CreateContainer' | 'StartContainer';
/** `late`: answered after the runtime's deadline (it had already closed the connection and let the event pass). */
export type NriOutcome = 'ok' | 'error' | 'late';

export interface PluginServiceDeps {
  readonly port: PodPort;
  /** The ConfigureResponse event mask (StartContainer's bit is added where the gate sits there). */
  readonly events: number;
  /** Put the container gate at StartContainer where the runtime fails closed there (default false: always CreateContainer). */
  readonly startGate?: boolean;
  readonly log: NriLogger;
  onConfigure(info: NriRuntimeInfo): void;
  onSynchronized(pods: number, containers: number): void;
  onShutdown(): void;
  observe(hook: NriHook, ms: number, outcome: NriOutcome): void;
}

type Route = 'rpc' | 'state-change';
type PodHook = 'RunPodSandbox' | 'StopPodSandbox' | 'RemovePodSandbox';
const EMPTY = new Uint8Array(0);

/** The handlers for service nri.pkg.api.v1alpha1.Plugin, with state for one connection. */
export function pluginServiceHandlers(deps: PluginServiceDeps): Map<string, TtrpcUnaryHandler> {
  const { port, log } = deps;
  let syncPods: NriPod[] = [];
  let syncContainers: NriContainer[] = [];
  /** This connection's container gate is at StartContainer (decided at Configure, with the subscription). */
  let startGate = false;

  /** Runs a hook with timing, outcome and logging; rethrows so the runtime gets the error. */
  async function run<T>(hook: NriHook, ctx: TtrpcCallContext, fields: object, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    let outcome: NriOutcome = 'ok';
    try {
      return await fn();
    } catch (err) {
      outcome = 'error';
      log.error({ ...fields, hook, err }, `NRI ${hook} failed`);
      throw err;
    } finally {
      const ms = performance.now() - start;
      if (ctx.deadline !== undefined && Date.now() > ctx.deadline) {
        outcome = outcome === 'ok' ? 'late' : outcome;
        log.warn({ ...fields, hook, ms: Math.round(ms) }, `NRI ${hook} answered after the runtime's deadline (the runtime closed the connection and let the event pass)`);
      }
      deps.observe(hook, ms, outcome);
    }
  }

  const podFields = (pod: NriPod, route: Route): object => ({ podUid: pod.uid, pod: `${pod.namespace}/${pod.name}`, sandbox: pod.id, netns: pod.netns, route });

  async function podHook(hook: PodHook, pod: NriPod, route: Route, ctx: TtrpcCallContext): Promise<void> {
    const fields = podFields(pod, route);
    log.debug?.(fields, `NRI ${hook}`);
    if (hook === 'RunPodSandbox') return run(hook, ctx, fields, () => port.runPodSandbox(pod, { startGate }));
    const call = hook === 'StopPodSandbox' ? () => port.stopPodSandbox(pod) : () => port.removePodSandbox(pod);
    // Stop and Remove never block the pod's shutdown: an error is logged, not returned.
    await run(hook, ctx, fields, call).catch(() => undefined);
  }

  const handlers = new Map<string, TtrpcUnaryHandler>();
  // Everything the Plugin service declares answers at least with an empty message.
  for (const method of Object.keys(PLUGIN_SERVICE.methods)) handlers.set(method, () => EMPTY);

  handlers.set('Configure', async (payload, ctx) => {
    const req = decodeMessage<WireConfigureRequest>(NRI_TYPES.ConfigureRequest, payload);
    const info: NriRuntimeInfo = {
      name: req.runtime_name, version: req.runtime_version, nriVersion: req.NRI_version,
      registrationTimeoutMs: req.registration_timeout, requestTimeoutMs: req.request_timeout,
    };
    startGate = deps.startGate === true && startFailsClosed(info);
    await run('Configure', ctx, { runtime: info, containerGate: startGate ? 'StartContainer' : 'CreateContainer' }, async () => deps.onConfigure(info));
    return encodeMessage(NRI_TYPES.ConfigureResponse, { events: startGate ? deps.events | START_CONTAINER_EVENT : deps.events });
  });

  handlers.set('Synchronize', async (payload, ctx) => {
    const req = decodeMessage<WireSynchronizeRequest>(NRI_TYPES.SynchronizeRequest, payload);
    syncPods.push(...req.pods.map(podFromWire));
    syncContainers.push(...req.containers.map(containerFromWire));
    // Split synchronization: answer `more` with no updates until the last part.
    if (req.more) {
      log.debug?.({ pods: req.pods.length, containers: req.containers.length }, 'NRI Synchronize part (more follow)');
      return encodeMessage(NRI_TYPES.SynchronizeResponse, { more: true });
    }
    const [pods, containers] = [syncPods, syncContainers];
    [syncPods, syncContainers] = [[], []];
    await run('Synchronize', ctx, { pods: pods.length, containers: containers.length }, () => port.synchronize(pods, containers));
    deps.onSynchronized(pods.length, containers.length);
    return encodeMessage(NRI_TYPES.SynchronizeResponse, {});
  });

  handlers.set('Shutdown', () => {
    deps.onShutdown();
    return EMPTY;
  });

  for (const hook of ['RunPodSandbox', 'StopPodSandbox', 'RemovePodSandbox'] as const) {
    handlers.set(hook, async (payload, ctx) => {
      const req = decodeMessage<WirePodRequest>(NRI_TYPES[`${hook}Request`], payload);
      await podHook(hook, requirePod(req.pod, hook), 'rpc', ctx);
      return EMPTY;
    });
  }

  handlers.set('CreateContainer', async (payload, ctx) => {
    const req = decodeMessage<WireCreateContainerRequest>(NRI_TYPES.CreateContainerRequest, payload);
    const pod = requirePod(req.pod, 'CreateContainer');
    const container = requireContainer(req.container, 'CreateContainer');
    const fields = { ...podFields(pod, 'rpc'), container: container.name, containerId: container.id };
    log.debug?.(fields, 'NRI CreateContainer');
    const adjust = await run('CreateContainer', ctx, fields, () => port.createContainer(pod, container, { startGate }));
    return encodeMessage(NRI_TYPES.CreateContainerResponse, { adjust: adjustmentToWire(adjust) });
  });

  /** The container gate at StartContainer: a throw fails the container's start. */
  async function startHook(pod: NriPod, container: NriContainer, route: Route, ctx: TtrpcCallContext): Promise<void> {
    const fields = { ...podFields(pod, route), container: container.name, containerId: container.id };
    log.debug?.(fields, 'NRI StartContainer');
    await run('StartContainer', ctx, fields, () => port.startContainer(pod, container));
  }

  handlers.set('StartContainer', async (payload, ctx) => {
    const req = decodeMessage<WireStartContainerRequest>(NRI_TYPES.StartContainerRequest, payload);
    await startHook(requirePod(req.pod, 'StartContainer'), requireContainer(req.container, 'StartContainer'), 'rpc', ctx);
    return EMPTY;
  });

  handlers.set('StateChange', async (payload, ctx) => {
    const evt = decodeMessage<WireStateChangeEvent>(NRI_TYPES.StateChangeEvent, payload);
    const hook = STATE_CHANGE_HOOKS[String(evt.event)];
    if (hook) await podHook(hook, requirePod(evt.pod, `StateChange(${evt.event})`), 'state-change', ctx);
    else if (String(evt.event) === 'START_CONTAINER') {
      await startHook(requirePod(evt.pod, 'StateChange(START_CONTAINER)'), requireContainer(evt.container, 'StateChange(START_CONTAINER)'), 'state-change', ctx);
    }
    return EMPTY;
  });

  return handlers;
}

/** The StateChange events that carry one of our pod hooks (others are answered and ignored). */
const STATE_CHANGE_HOOKS: Readonly<Record<string, PodHook>> = {
  RUN_POD_SANDBOX: 'RunPodSandbox',
  STOP_POD_SANDBOX: 'StopPodSandbox',
  REMOVE_POD_SANDBOX: 'RemovePodSandbox',
} satisfies Partial<Record<NriEventName, PodHook>>;
