/**
 * The health of a device inside a pod, from what the pod's namespace shows
 * (pure; pod-health.ts reads the kernel):
 *
 *   unhealthy  the netdev is gone from the pod's namespace; it has no carrier
 *              (a veth whose host-side peer is down, a macvlan whose lower
 *              device lost its link, a NIC with its cable out); its operstate
 *              is lowerlayerdown / notpresent; or an RDMA port of the device is
 *              not ACTIVE; or its error counters rose past the rule within
 *              the window (pod-health-counters.ts: a rising rate, not one error)
 *   unknown    the workload set the netdev administratively down (without the
 *              link up the kernel does not report the carrier), or the
 *              namespace cannot be read
 *   healthy    otherwise
 */
import type { Link } from '../kernel/netlink/route/link-types.ts';
import type { RdmaPort } from '../kernel/netlink/rdma/rdma-types.ts';
import type { HealthState } from './driver-port.ts';

export interface PodDeviceHealth {
  readonly health: HealthState;
  readonly message?: string;
}

/** Operstates that mean the link cannot pass traffic whatever the carrier flag says. */
const DEAD_OPER = new Set(['DOWN', 'LOWERLAYERDOWN', 'NOTPRESENT']);
/** IB port states in which the port passes traffic (include/rdma/ib_verbs.h `enum ib_port_state`). */
const LIVE_PORT = new Set(['ACTIVE', 'ACTIVE_DEFER']);

/** What was read of one device: its netdev in the pod, and its RDMA device's ports. */
export interface PodDeviceReading {
  /** The netdev's name in the pod (or the RDMA device's, for one without a netdev). */
  readonly name: string;
  /** Absent: the device has no netdev. `missing`: it has one, but not in the pod's namespace. */
  readonly link?: Link | 'missing';
  /** Absent: no RDMA device. Otherwise its ports as found (none: the RDMA device is not there). */
  readonly rdma?: { readonly device: string; readonly ports: readonly RdmaPort[] };
  /** The error counters' verdict (pod-health-counters.ts counterVerdict), when they rose past the rule. */
  readonly counterProblem?: string;
}

export function podDeviceHealth(r: PodDeviceReading): PodDeviceHealth {
  const { link, rdma } = r;
  if (link === 'missing') return { health: 'unhealthy', message: `${r.name} is not in the pod's network namespace` };
  if (link !== undefined) {
    if (!link.up) return { health: 'unknown', message: `${link.name} is administratively down in the pod` };
    if (link.carrier === false || DEAD_OPER.has(link.operState)) {
      return { health: 'unhealthy', message: `${link.name}: no carrier (operstate ${link.operState.toLowerCase()})` };
    }
  }
  if (rdma !== undefined && rdma.ports.length === 0) return { health: 'unhealthy', message: `RDMA device ${rdma.device} not found` };
  for (const p of rdma?.ports ?? []) {
    if (p.state !== undefined && !LIVE_PORT.has(p.state)) {
      return { health: 'unhealthy', message: `RDMA ${p.devName} port ${p.port} ${p.state.toLowerCase()}${p.physState === undefined ? '' : ` (${p.physState.toLowerCase()})`}` };
    }
  }
  if (r.counterProblem !== undefined) return { health: 'unhealthy', message: r.counterProblem };
  return { health: 'healthy' };
}

/** Same verdict and message: nothing to tell the kubelet. */
export function sameHealth(a: PodDeviceHealth | undefined, b: PodDeviceHealth | undefined): boolean {
  return a?.health === b?.health && a?.message === b?.message;
}
