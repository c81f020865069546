/**
 * Giving a device back when its pod stops. Never throws: pod shutdown must
 * not wait on a device. The order:
 *
 *   rdma     the RDMA device back to the host first (exclusive mode)
 *   find     the netdev in the pod (its pod name and identity; a device the
 *            workload renamed is found by permanent MAC / PCI address), else
 *            on the host: the kernel returns a physical device to the initial
 *            namespace when the pod's dies, renamed `devN` if its name is
 *            taken, and destroys a virtual one with it (`gone`)
 *   move     back to the host under its original name (return-device.ts)
 *   restore  the host snapshot (restore-host.ts): link, ethtool, sysctls,
 *            addresses, up, routes, rules, neighbours
 *
 * Detaching a device that is already back (a repeated stop) finds it on
 * the host and restores nothing. A VRF created in the pod stays there and
 * dies with the pod's namespace.
 */
import { DriverError } from '../../common/errors.ts';
import { rdmaDevList, rdmaDevSetNetns } from '../../kernel/netlink/rdma/rdma-ops.ts';
import type { Link } from '../../kernel/netlink/route/link-types.ts';
import type { NetnsHandle } from '../../kernel/netns/handle.ts';
import type { DevicePlan } from '../plan/plan-types.ts';
import type { DetachContext, DetachProblem, DetachResult } from './attach-types.ts';
import { findDevice } from './find-device.ts';
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

/** Where the RDMA device was; moved back when it was in the pod. */
function rdmaBack(ctx: DetachContext, name: string, restored: string[], problems: DetachProblem[]): DetachResult['found'] {
  try {
    const inPod = ctx.pod === undefined ? undefined : rdmaDevList(ctx.pod).find((d) => d.name === name);
    if (inPod !== undefined) {
      rdmaDevSetNetns(ctx.pod!, inPod.index, ctx.host);
      restored.push('rdma');
      return 'pod';
    }
    if (rdmaDevList(ctx.host).some((d) => d.name === name)) return 'host';
    problems.push({ step: 'rdma', message: `RDMA device ${name} is neither in the pod nor on the host` });
  } catch (err) {
    problems.push({ step: 'rdma', message: `RDMA device ${name}: ${message(err)}` });
  }
  return 'gone';
}

/** The device in `h` under one of `names`, matched strictly (a device of the same name may be another one). */
const findStrict = (h: NetnsHandle, n: NetdevPlan, names: readonly string[]): Link | undefined =>
  findDevice(h, n.identity, names, { strict: true, macs: [n.pod.mac, n.host.mac] });

/**
 * Gives the plan's device back to the host and restores it; reports where it
 * was found, what was restored and every problem, never throwing.
 * Equivalent to: `rdma dev set D netns HOST; ip -n POD link set dev N netns HOST name ORIGINAL;` then restoreHost
 */
export function detachDevice(ctx: DetachContext, plan: DevicePlan): DetachResult {
  const restored: string[] = [];
  const problems: DetachProblem[] = [];
  const rdma = ctx.rdmaExclusive === true && plan.rdma !== undefined ? rdmaBack(ctx, plan.rdma.device, restored, problems) : undefined;
  if (plan.host === undefined || plan.pod === undefined) return { found: rdma ?? 'gone', restored, problems };
  const n = plan as NetdevPlan;
  let found: DetachResult['found'] = 'gone';
  let onHost: Link | undefined;
  const inPod = ctx.pod === undefined ? undefined : attempt('find', problems, () => findStrict(ctx.pod!, n, [n.pod.name]));
  if (inPod !== undefined) {
    found = 'pod';
    onHost = attempt('move', problems, () => moveToHost(ctx.host, ctx.pod!, inPod.index, n));
    if (onHost !== undefined) restored.push('move');
  } else {
    onHost = attempt('find', problems, () => findStrict(ctx.host, n, [n.host.ifName, n.pod.name]));
    if (onHost !== undefined) found = 'host';
  }
  if (onHost !== undefined) {
    const r = restoreHost(ctx.host, onHost.index, n.host);
    restored.push(...r.restored);
    problems.push(...r.problems);
  }
  return { found, restored, problems };
}

/** A DETACH_INCOMPLETE error listing a detach's problems (for events and logs); undefined when it had none. */
export function detachError(plan: DevicePlan, r: DetachResult): DriverError | undefined {
  if (r.problems.length === 0) return undefined;
  const list = r.problems.map((p) => `${p.step}: ${p.message}`).join('; ');
  return new DriverError('DETACH_INCOMPLETE', `detach of ${plan.device} (found ${r.found}) left problems: ${list}`, {
    context: { device: plan.device, found: r.found, restored: r.restored, problems: r.problems },
  });
}
