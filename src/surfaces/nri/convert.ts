/**
 * NRI's protobuf shapes ↔ the driver's PodPort types (driver/pod-port.ts).
 * Pure functions: the driver never sees protobuf, and these are tested
 * without a socket.
 */
import type { NriContainer, NriContainerAdjustment, NriPod } from '../../driver/pod-port.ts';
import type { WireContainer, WireContainerAdjustment, WirePodSandbox } from './protos.ts';
import { RpcStatusError, RPC_CODE } from './ttrpc.ts';

/** The namespace type containerd gives the pod's network namespace in `linux.namespaces`. */
export const NETWORK_NAMESPACE_TYPE = 'network';

/**
 * The pod as the driver sees it. `netns` is the path of the `network`
 * namespace entry; no entry or an empty path (host-network pod, or a runtime
 * leaving it out on StopPodSandbox) leaves it absent.
 */
export function podFromWire(p: WirePodSandbox): NriPod {
  const netns = p.linux?.namespaces.find((n) => n.type === NETWORK_NAMESPACE_TYPE)?.path;
  return { id: p.id, uid: p.uid, name: p.name, namespace: p.namespace, ...(netns ? { netns } : {}) };
}

/** podFromWire for a request's pod field; a request without one is answered INVALID_ARGUMENT. */
export function requirePod(p: WirePodSandbox | null, method: string): NriPod {
  if (!p) throw new RpcStatusError(RPC_CODE.INVALID_ARGUMENT, `${method}: the request carries no pod`);
  return podFromWire(p);
}

export function containerFromWire(c: WireContainer): NriContainer {
  return { id: c.id, name: c.name, podId: c.pod_sandbox_id };
}

export function requireContainer(c: WireContainer | null, method: string): NriContainer {
  if (!c) throw new RpcStatusError(RPC_CODE.INVALID_ARGUMENT, `${method}: the request carries no container`);
  return containerFromWire(c);
}

/**
 * The driver's adjustment as NRI's ContainerAdjustment: devices become
 * `linux.devices` (the runtime adds each node and a device-cgroup rule), env
 * becomes KeyValue pairs. Undefined when there is nothing to change, so the
 * response carries no adjustment at all.
 */
export function adjustmentToWire(a: NriContainerAdjustment): WireContainerAdjustment | undefined {
  const out: WireContainerAdjustment = {};
  if (a.env?.length) out.env = a.env.map((e) => ({ key: e.key, value: e.value }));
  if (a.devices?.length) {
    out.linux = {
      devices: a.devices.map((d) => ({
        path: d.path, type: d.type, major: d.major, minor: d.minor,
        ...(d.fileMode === undefined ? {} : { file_mode: { value: d.fileMode } }),
      })),
    };
  }
  return out.env || out.linux ? out : undefined;
}
