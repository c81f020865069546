/**
 * The steps of an attach, one function each, in ATTACH_STEPS order. Every
 * step that changes something first records its undo (a step the kernel
 * half-applied is undone too), so a failure anywhere can be rolled back in
 * reverse. Most undos are the move back: a netdev leaving a namespace
 * takes its addresses, routes, neighbours and per-interface sysctls with
 * it, and its link settings and ethtool state are put back from the host
 * snapshot. What the namespace keeps (rules, a VRF this call created, the
 * l3mdev sysctls) and what the device keeps (ethtool) have undos of their
 * own; detached eBPF programs cannot be put back.
 *
 * A step returns false when it does not apply to the plan (skipped).
 */
import { NotFoundError } from '../../common/errors.ts';
import { ebpfDetachAll } from '../../kernel/bpf/ebpf-detach.ts';
import type { DhcpLease } from '../../kernel/dhcp/dhcp-types.ts';
import { KernelError } from '../../kernel/errors.ts';
import { rdmaDevGetByName, rdmaDevList, rdmaDevSetNetns } from '../../kernel/netlink/rdma/rdma-ops.ts';
import { linkGet, linkGetByName, linkSet, linkSetDown, linkSetNetns, linkSetUp } from '../../kernel/netlink/route/link-ops.ts';
import type { Link, LinkChange } from '../../kernel/netlink/route/link-types.ts';
import { ruleDelete } from '../../kernel/netlink/route/rule-ops.ts';
import type { RuleSpec } from '../../kernel/netlink/route/rule-types.ts';
import type { PodInterfacePlan } from '../plan/plan-types.ts';
import type { DevicePlan } from '../record-model.ts';
import type { AttachContext, AttachStep, RestoreResult } from './attach-types.ts';
import { ethtoolApply, ethtoolRestore, type EthtoolPart } from './device-ethtool.ts';
import { findByName, findDevice } from './find-device.ts';
import { podDhcpAcquire, podDhcpRelease } from './pod-dhcp.ts';
import {
  podAddressesApply, podNeighborsApply, podRoutesApply, podRulesApply, podSysctlsApply,
} from './pod-config.ts';
import { podVrfApply, podVrfUndo, type VrfUndo } from './pod-vrf.ts';
import { restoreHost } from './restore-host.ts';
import { routesKeepOtherLegs } from './restore-routing.ts';
import { moveToHost, type NetdevPlan } from './return-device.ts';

export interface UndoEntry {
  readonly step: AttachStep;
  /** What undoing the step means (also for steps whose undo is another's, e.g. the move back). */
  readonly what: string;
  readonly run?: () => void;
}

/** One attach in progress. */
export interface Attach {
  readonly ctx: AttachContext;
  readonly plan: DevicePlan;
  /** The netdev parts of the plan; absent for an RDMA-only device. */
  readonly net: NetdevPlan | undefined;
  readonly undo: UndoEntry[];
  converged: boolean;
  /** The device on the host, found by the find step (fresh attach). */
  hostLink?: Link;
  /** The interface in the pod (after the move, or found there). */
  podLink?: Link;
  /** The move was sent (its undo then restores the whole host side). */
  moveSent: boolean;
  /** The lease step `dhcp` acquired. */
  lease?: DhcpLease;
}

const ENOENT = 2;
const isErrno = (err: unknown, errno: number): boolean => err instanceof KernelError && err.errno === errno;
const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function getOrUndefined(fn: () => Link): Link | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/** The MACs the device may have: the pod's (when the plan sets one) and the host's. */
const macsOf = (n: NetdevPlan): (string | undefined)[] => [n.pod.mac, n.host.mac];
const podIndex = (a: Attach): number => a.podLink!.index;

/**
 * Where the device is after a failure, and back on the host in its snapshot
 * state: moved back from the pod (found by the index the attach learned, or
 * by its pod or host name there: a failed rename leaves it in the pod under
 * its host name), else found on the host. Throws what it cannot put right.
 */
function returnAndRestore(a: Attach, n: NetdevPlan): void {
  const { host, pod } = a.ctx;
  const known = a.podLink === undefined ? undefined : getOrUndefined(() => linkGet(pod, a.podLink!.index));
  const inPod = known ?? findByName(pod, n.pod.name, n.identity, macsOf(n)) ?? findByName(pod, n.host.ifName, n.identity, macsOf(n));
  let onHost: Link | undefined;
  if (inPod !== undefined) onHost = moveToHost(host, pod, inPod.index, n);
  else onHost = findDevice(host, n.identity, [n.host.ifName, n.pod.name], { strict: true, macs: macsOf(n) });
  if (onHost === undefined) throw new NotFoundError(`device ${n.device} is neither in the pod nor on the host`);
  throwProblems(restoreHost(host, onHost.index, n.host));
}

function throwProblems(r: RestoreResult): void {
  if (r.problems.length > 0) throw new Error(`restore: ${r.problems.map((p) => `${p.step}: ${p.message}`).join('; ')}`);
}

function find(a: Attach, n: NetdevPlan): boolean {
  const { host, pod } = a.ctx;
  const inPod = findByName(pod, n.pod.name, n.identity, macsOf(n));
  if (inPod !== undefined) {
    a.converged = true;
    a.podLink = inPod;
    a.undo.push({ step: 'find', what: 'already in the pod: move it back to the host and restore it', run: () => returnAndRestore(a, n) });
    return true;
  }
  const names = [...new Set([n.identity.ifName ?? n.host.ifName, n.host.ifName])];
  const l = findDevice(host, n.identity, names);
  if (l === undefined) throw new NotFoundError(`device ${n.device} (${names.join(', ')}) is neither on the host nor in the pod as ${n.pod.name}`);
  a.hostLink = l;
  return true;
}

/**
 * Down on the host before anything else (the move would close the device
 * anyway): traffic stops before eBPF programs come off, so nothing passes
 * unfiltered in between.
 */
function hostDown(a: Attach): boolean {
  if (a.converged) return false;
  const { host } = a.ctx;
  const l = a.hostLink!;
  if (!l.up) return true;
  // Down flushes the device's IPv4 routes, its neighbours and (keep_addr_on_down off) its IPv6
  // addresses: undoing it is restoring the snapshot (which the move's undo does once the move was sent).
  a.undo.push({
    step: 'host-down', what: 'restore the host snapshot (going down flushed routes, neighbours and IPv6 addresses)',
    run: () => { if (!a.moveSent) throwProblems(restoreHost(host, l.index, a.net!.host)); },
  });
  linkSetDown(host, l.index);
  return true;
}

function ebpfDetach(a: Attach, n: NetdevPlan): boolean {
  if (!n.pod.disableEbpfPrograms) return false;
  a.undo.push({ step: 'ebpf-detach', what: 'detached eBPF programs cannot be put back (their loader owns them)' });
  if (a.converged) ebpfDetachAll(a.ctx.pod, podIndex(a), a.ctx.libc);
  else ebpfDetachAll(a.ctx.host, a.hostLink!.index, a.ctx.libc);
  return true;
}

/** The link settings of the pod plan that `l` does not have (all of them when `l` is absent). */
function linkSettings(p: PodInterfacePlan, l?: Link): LinkChange {
  const c: { -readonly [K in keyof LinkChange]: LinkChange[K] } = {};
  if (p.mtu !== undefined && l?.mtu !== p.mtu) c.mtu = p.mtu;
  if (p.mac !== undefined && l?.mac?.toLowerCase() !== p.mac.toLowerCase()) c.mac = p.mac;
  if (p.gsoMaxSize !== undefined && l?.gsoMaxSize !== p.gsoMaxSize) c.gsoMaxSize = p.gsoMaxSize;
  if (p.groMaxSize !== undefined && l?.groMaxSize !== p.groMaxSize) c.groMaxSize = p.groMaxSize;
  if (p.gsoIPv4MaxSize !== undefined && l?.gsoIpv4MaxSize !== p.gsoIPv4MaxSize) c.gsoIpv4MaxSize = p.gsoIPv4MaxSize;
  if (p.groIPv4MaxSize !== undefined && l?.groIpv4MaxSize !== p.groIPv4MaxSize) c.groIpv4MaxSize = p.groIPv4MaxSize;
  return c;
}

/** One RTM_NEWLINK: into the pod, renamed, with MTU, MAC and GSO/GRO sizes. Converging: the settings that drifted. */
function move(a: Attach, n: NetdevPlan): boolean {
  const { host, pod } = a.ctx;
  if (a.converged) {
    const drift = linkSettings(n.pod, a.podLink);
    if (Object.keys(drift).length > 0) linkSet(pod, podIndex(a), drift);
    return true;
  }
  const from = a.hostLink!.index;
  a.undo.push({ step: 'move', what: 'move it back to the host under its name and restore its snapshot', run: () => returnAndRestore(a, n) });
  a.moveSent = true;
  linkSetNetns(host, from, pod, { name: n.pod.name, ...linkSettings(n.pod) });
  // The kernel keeps the ifindex unless the pod already uses it.
  const l = getOrUndefined(() => linkGet(pod, from));
  a.podLink = l?.name === n.pod.name ? l : linkGetByName(pod, n.pod.name);
  return true;
}

/**
 * The host keeps the other legs of its multipath routes while the device is
 * away (IPv4 drops such a route whole when one leg's device leaves): they
 * are put back without the device's legs. Also when converging, since a
 * crash may have come between the move and this step. The move's undo (and
 * the restore at detach) puts the route back whole.
 */
function hostRoutes(a: Attach, n: NetdevPlan): boolean {
  if (!n.host.routes.some((r) => (r.nexthops ?? []).some((h) => h.ifIndex !== n.host.ifIndex))) return false;
  a.undo.push({ step: 'host-routes', what: 'the move back restores each multipath route whole' });
  routesKeepOtherLegs(a.ctx.host, n.host);
  return true;
}

function sysctls(a: Attach, n: NetdevPlan): boolean {
  if (Object.keys(n.pod.sysctls).length === 0) return false;
  a.undo.push({ step: 'sysctls', what: 'per-interface sysctls go with the device (reset when it leaves)' });
  podSysctlsApply(a.ctx.pod, n.pod.name, n.pod.sysctls);
  return true;
}

function vrf(a: Attach, n: NetdevPlan): boolean {
  const v = n.pod.vrf;
  if (v === undefined) return false;
  const u: VrfUndo = { sysctls: [] };
  const index = podIndex(a);
  a.undo.push({
    step: 'vrf', what: `delete VRF ${v.name} if this call created it and nothing else uses it; l3mdev sysctls back`,
    run: () => podVrfUndo(a.ctx.pod, index, u),
  });
  podVrfApply(a.ctx.pod, index, v, u);
  return true;
}

function addresses(a: Attach, n: NetdevPlan): boolean {
  if (n.pod.addresses.length === 0) return false;
  a.undo.push({ step: 'addresses', what: 'addresses go with the device' });
  podAddressesApply(a.ctx.pod, podIndex(a), n.pod);
  return true;
}

function up(a: Attach): boolean {
  a.undo.push({ step: 'up', what: 'the move back takes the link down' });
  linkSetUp(a.ctx.pod, podIndex(a));
  return true;
}

/**
 * After `up` (the exchange needs the link), before `routes` (a configured
 * route may go through a gateway in the leased subnet). Its undo releases
 * the lease; the address goes with the device.
 */
function dhcp(a: Attach, n: NetdevPlan): boolean {
  const d = n.pod.dhcp;
  if (d === undefined) return false;
  const index = podIndex(a);
  const mac = a.podLink!.mac ?? n.pod.mac ?? '';
  a.undo.push({
    step: 'dhcp', what: 'release the lease (DHCPRELEASE); the address goes with the device',
    run: () => { if (a.lease !== undefined) podDhcpRelease(a.ctx.pod, index, a.lease, a.ctx.libc); },
  });
  a.lease = podDhcpAcquire(a.ctx.pod, index, mac, d.timeoutMs, a.ctx.libc);
  return true;
}

function routes(a: Attach, n: NetdevPlan): boolean {
  if (n.pod.routes.length === 0) return false;
  a.undo.push({ step: 'routes', what: 'routes go with the device' });
  podRoutesApply(a.ctx.pod, podIndex(a), n.pod.routes);
  return true;
}

function rules(a: Attach, n: NetdevPlan): boolean {
  if (n.pod.rules.length === 0) return false;
  const added: RuleSpec[] = [];
  a.undo.push({
    step: 'rules', what: 'delete the rules this call added (rules stay in the namespace)',
    run: () => {
      for (const spec of [...added].reverse()) {
        try {
          ruleDelete(a.ctx.pod, spec);
        } catch (err) {
          if (!isErrno(err, ENOENT)) throw err;
        }
      }
    },
  });
  podRulesApply(a.ctx.pod, n.pod, added);
  return true;
}

function neighbors(a: Attach, n: NetdevPlan): boolean {
  if (n.pod.neighbors.length === 0) return false;
  a.undo.push({ step: 'neighbors', what: 'neighbours go with the device' });
  podNeighborsApply(a.ctx.pod, podIndex(a), n.pod.neighbors);
  return true;
}

const hasEthtool = (e: PodInterfacePlan['ethtool']): e is NonNullable<PodInterfacePlan['ethtool']> =>
  e !== undefined && [e.features, e.privateFlags, e.rings, e.channels, e.coalesce].some((x) => x !== undefined && Object.keys(x).length > 0);

function ethtool(a: Attach, n: NetdevPlan): boolean {
  const e = n.pod.ethtool;
  if (!hasEthtool(e)) return false;
  const parts: EthtoolPart[] = [];
  const index = podIndex(a);
  a.undo.push({
    step: 'ethtool', what: 'put the snapshot\'s ethtool settings back (they stay with the device)',
    run: () => {
      const problems: { step: string; message: string }[] = [];
      ethtoolRestore(a.ctx.pod, index, n.host.ethtool, problems, parts);
      if (problems.length > 0) throw new Error(problems.map((p) => p.message).join('; '));
    },
  });
  ethtoolApply(a.ctx.pod, index, e, parts);
  return true;
}

/** RDMA device into the pod (exclusive mode), after the netdev as DraNet does; already there counts as done. */
function rdma(a: Attach): boolean {
  const r = a.plan.rdma;
  // A sub-interface's RDMA device is its shared parent's: never moved (docs/sharing.md).
  if (a.ctx.rdmaExclusive !== true || r === undefined || a.plan.subInterface !== undefined) return false;
  const { host, pod } = a.ctx;
  if (rdmaDevList(pod).some((d) => d.name === r.device)) {
    if (a.net === undefined) a.converged = true;
    return true;
  }
  const dev = rdmaDevGetByName(host, r.device);
  a.undo.push({
    step: 'rdma', what: `move RDMA device ${r.device} back to the host`,
    run: () => {
      const inPod = rdmaDevList(pod).find((d) => d.name === r.device);
      if (inPod !== undefined) rdmaDevSetNetns(pod, inPod.index, host);
    },
  });
  rdmaDevSetNetns(host, dev.index, pod);
  return true;
}

type StepFn = (a: Attach, n: NetdevPlan) => boolean;

/** The netdev steps; `rdma` also runs for an RDMA-only device. */
export const STEP_FNS: Readonly<Record<AttachStep, StepFn>> = {
  find, 'host-down': hostDown, 'ebpf-detach': ebpfDetach, move, 'host-routes': hostRoutes, sysctls, vrf, addresses, up, dhcp, routes, rules, neighbors, ethtool, rdma,
};

/** Runs the undo log in reverse; what fails is reported and the rest still runs. */
export function rollback(a: Attach): { readonly undone: string[]; readonly problems: string[] } {
  const undone: string[] = [];
  const problems: string[] = [];
  for (const e of [...a.undo].reverse()) {
    if (e.run === undefined) continue;
    try {
      e.run();
      undone.push(e.step);
    } catch (err) {
      problems.push(`${e.step} (${e.what}): ${message(err)}`);
    }
  }
  return { undone, problems };
}
