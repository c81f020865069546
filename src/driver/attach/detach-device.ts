/**
 * Giving a device back when its pod stops. Never throws: pod shutdown must
 * not wait on a device. The order:
 *
 *   rdma     the RDMA device back to the host first (exclusive mode)
 *   find     the netdev in the pod (its pod name and identity; a device the
 *            workload renamed is found by permanent MAC / PCI address), else
 *            on the host: the kernel returns a physical device to the initial
 *            namespace when the pod's dies, renamed `devN` if its name is
 *            taken, and destroys a virtual one with it
 *   move     back to the host under its original name (return-device.ts)
 *   restore  the host snapshot (restore-host.ts): link, ethtool, sysctls,
 *            addresses, up, routes, rules, neighbours
 *
 * The result says whether the device is `settled`: back on the host with
 * its snapshot applied field by field (what the kernel refused is listed in
 * `problems`), or proven gone. Only a virtual netdev (no bus device) is
 * ever declared gone, and only when both namespaces were searched: a
 * physical one missing from both is `pending`, on its way back from a
 * namespace that died (the kernel returns it asynchronously), and its
 * caller keeps the journal and the snapshot until it is back (invariant I2).
 *
 * Detaching a device that is already back (a repeated stop) finds it on
 * the host and restores nothing. A VRF created in the pod stays there and
 * dies with the pod's namespace.
 */
import { DriverError } from '../../common/errors.ts';
import { rdmaDevList, rdmaDevSetNetns } from '../../kernel/netlink/rdma/rdma-ops.ts';
import type { Link } from '../../kernel/netlink/route/link-types.ts';
import type { NetnsHandle } from '../../kernel/netns/handle.ts';
import type { DevicePlan } from '../record-model.ts';
import type { DetachContext, DetachProblem, DetachResult } from './attach-types.ts';
import { diesWithNamespace, findDevice } from './find-device.ts';
import { restoreHost } from './restore-host.ts';
import { moveToHost, type NetdevPlan } from './return-device.ts';

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** `fn`'s result, or undefined with a problem of `step` when it throws. */
function attempt<T>(step: string, problems: DetachProblem[], fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    problems.push({ step, message: message(err) });
    return undefined;
  }
}

type Found = DetachResult['found'];

/**
 * Where the RDMA device was (moved back when it was in the pod), and whether it is back. Missing
 * from both, it is gone only when it belongs to a virtual netdev (soft-RoCE over a veth dies with
 * it); a hardware one is pending, on its way back from a namespace that died.
 */
function rdmaBack(ctx: DetachContext, name: string, virtual: boolean, restored: string[], problems: DetachProblem[]): { found: Found; settled: boolean } {
  let found: Found = 'pending';
  try {
    const inPod = ctx.pod === undefined ? undefined : rdmaDevList(ctx.pod).find((d) => d.name === name);
    if (inPod !== undefined) {
      found = 'pod';
      rdmaDevSetNetns(ctx.pod!, inPod.index, ctx.host);
      restored.push('rdma');
      return { found, settled: true };
    }
    if (rdmaDevList(ctx.host).some((d) => d.name === name)) return { found: 'host', settled: true };
    if (virtual) {
      problems.push({ step: 'rdma', message: `RDMA device ${name} is neither in the pod nor on the host` });
      return { found: 'gone', settled: true };
    }
  } catch (err) {
    problems.push({ step: 'rdma', message: `RDMA device ${name}: ${message(err)}` });
  }
  return { found, settled: false };
}

/** The device in `h` under one of `names`, matched strictly (a device of the same name may be another one). */
const findStrict = (h: NetnsHandle, n: NetdevPlan, names: readonly string[]): Link | undefined =>
  findDevice(h, n.identity, names, { strict: true, macs: [n.pod.mac, n.host.mac] });

/** Where the netdev is, moved back to the host when it was in the pod; `searched` false when a search failed. */
function netdevBack(ctx: DetachContext, n: NetdevPlan, restored: string[], problems: DetachProblem[]): { found: Found; onHost?: Link; searched: boolean } {
  let searched = true;
  const search = (fn: () => Link | undefined): Link | undefined => {
    try {
      return fn();
    } catch (err) {
      searched = false;
      problems.push({ step: 'find', message: message(err) });
      return undefined;
    }
  };
  const inPod = ctx.pod === undefined ? undefined : search(() => findStrict(ctx.pod!, n, [n.pod.name]));
  if (inPod !== undefined) {
    const onHost = attempt('move', problems, () => moveToHost(ctx.host, ctx.pod!, inPod.index, n));
    if (onHost === undefined) return { found: 'pod', searched };
    restored.push('move');
    return { found: 'pod', onHost, searched };
  }
  const onHost = search(() => findStrict(ctx.host, n, [n.host.ifName, n.pod.name]));
  if (onHost !== undefined) return { found: 'host', onHost, searched };
  return { found: diesWithNamespace(n.identity) ? 'gone' : 'pending', searched };
}

/**
 * Gives the plan's device back to the host and restores it; reports where it
 * was found, whether it is settled, what was restored and every problem,
 * never throwing.
 * Equivalent to: `rdma dev set D netns HOST; ip -n POD link set dev N netns HOST name ORIGINAL;` then restoreHost
 */
export function detachDevice(ctx: DetachContext, plan: DevicePlan): DetachResult {
  const restored: string[] = [];
  const problems: DetachProblem[] = [];
  const virtual = diesWithNamespace(plan.identity);
  const rdma = ctx.rdmaExclusive === true && plan.rdma !== undefined && plan.subInterface === undefined ? rdmaBack(ctx, plan.rdma.device, virtual, restored, problems) : undefined;
  const rdmaPart = rdma === undefined ? {} : { rdmaFound: rdma.found };
  if (plan.host === undefined || plan.pod === undefined) {
    return { found: rdma?.found ?? 'gone', ...rdmaPart, settled: rdma?.settled ?? true, restored, problems };
  }
  const net = netdevBack(ctx, plan as NetdevPlan, restored, problems);
  if (net.onHost !== undefined) {
    const r = restoreHost(ctx.host, net.onHost.index, plan.host);
    restored.push(...r.restored);
    problems.push(...r.problems);
  }
  const netSettled = net.onHost !== undefined || (net.found === 'gone' && net.searched);
  return { found: net.found, ...rdmaPart, settled: netSettled && (rdma?.settled ?? true), restored, problems };
}

/**
 * Whether a device on its way back from a namespace that died is on the host
 * now (one link dump; an RDMA device moved in exclusive mode by its name).
 * A failing read counts as not yet.
 */
export function backOnHost(host: NetnsHandle, plan: DevicePlan, rdmaExclusive: boolean): boolean {
  try {
    if (rdmaExclusive && plan.rdma !== undefined && plan.subInterface === undefined && !rdmaDevList(host).some((d) => d.name === plan.rdma!.device)) return false;
    if (plan.host === undefined || plan.pod === undefined) return true;
    return findStrict(host, plan as NetdevPlan, [plan.host.ifName, plan.pod.name]) !== undefined;
  } catch {
    return false;
  }
}

/** A DETACH_INCOMPLETE error listing a detach's problems (for events and logs); undefined when it had none. */
export function detachError(plan: DevicePlan, r: DetachResult): DriverError | undefined {
  if (r.problems.length === 0) return undefined;
  const list = r.problems.map((p) => `${p.step}: ${p.message}`).join('; ');
  return new DriverError('DETACH_INCOMPLETE', `detach of ${plan.device} (found ${r.found}) left problems: ${list}`, {
    context: { device: plan.device, found: r.found, restored: r.restored, problems: r.problems },
  });
}
