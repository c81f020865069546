/**
 * The attach engine's entry points: apply a stored plan to move a device
 * into a pod's namespace, configured, all or nothing; and give it back,
 * restored. Everything is synchronous netlink (and /proc/sys inside setns
 * windows), so an attach never yields to the event loop half done.
 *
 * attachDevice runs ATTACH_STEPS in order (attach-steps.ts), each recording
 * its undo first. On any failure the undo log runs in reverse: the device
 * goes back to the host under its name and is restored from the plan's
 * snapshot, rules and a VRF this call made in the pod are deleted, and the
 * RDMA device goes back first. The error is ATTACH_FAILED naming the step
 * and the kernel's reason (extack), with the kernel error as its cause.
 *
 * A pod namespace that is the host's own is refused before anything changes
 * (ATTACH_HOST_NETNS; netns-guard.ts).
 *
 * A repeated attach for a device already in the pod under its planned name
 * converges: the idempotent steps run again (settings that drifted are put
 * back, existing addresses, routes and rules count as done) and the result
 * says `converged`. If that fails, the device is given back to the host too.
 */
import { DriverError } from '../../common/errors.ts';
import { KernelError } from '../../kernel/errors.ts';
import { addStep } from '../../observe/steps.ts';
import type { DevicePlan } from '../record-model.ts';
import { STEP_FNS, rollback, type Attach } from './attach-steps.ts';
import { assertNotHostNetns } from './netns-guard.ts';
import { ATTACH_STEPS, type AttachContext, type AttachResult, type AttachStep } from './attach-types.ts';
import type { NetdevPlan } from './return-device.ts';

export { ATTACH_STEPS } from './attach-types.ts';
export type {
  AttachContext, AttachResult, AttachStep, DetachContext, DetachProblem, DetachResult, RestoreResult,
} from './attach-types.ts';
export { backOnHost, detachDevice, detachError } from './detach-device.ts';
export { restoreHost } from './restore-host.ts';

const netdevOf = (p: DevicePlan): NetdevPlan | undefined => (p.host !== undefined && p.pod !== undefined ? p as NetdevPlan : undefined);

/** A KernelError's message carries the op, the errno name and the kernel's extack text. */
const reasonOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function attachFailed(a: Attach, step: AttachStep, err: unknown, rb: ReturnType<typeof rollback>): DriverError {
  const n = a.net;
  const what = n === undefined ? `RDMA device ${a.plan.rdma?.device ?? '?'}` : `${n.host.ifName} → ${n.pod.name}`;
  const tail = rb.problems.length === 0 ? '' : `; rollback incomplete: ${rb.problems.join('; ')}`;
  return new DriverError('ATTACH_FAILED', `attach of ${a.plan.device} (${what}) failed at step ${step}: ${reasonOf(err)}${tail}`, {
    cause: err,
    context: {
      device: a.plan.device, step, rolledBack: rb.undone, rollbackProblems: rb.problems,
      ...(err instanceof KernelError ? { op: err.op, errno: err.errnoName, ...(err.extack === undefined ? {} : { extack: err.extack }) } : {}),
    },
  });
}

/**
 * Moves the plan's device into `ctx.pod` and configures it there (or, for an
 * RDMA-only device in exclusive mode, moves the RDMA device). Throws
 * ATTACH_FAILED after rolling back everything this call did.
 * Equivalent to: `ip link set dev X down; ip link set dev X netns POD name N mtu M address A ...;
 * ip -n POD addr add ...; ip -n POD link set N up; dhclient -1 N (interface.dhcp); ip -n POD route add ...;
 * ip -n POD rule add ...; ip -n POD neigh replace ...; ethtool -K ...; rdma dev set D netns POD`
 */
export function attachDevice(ctx: AttachContext, plan: DevicePlan): AttachResult {
  assertNotHostNetns(ctx.host, ctx.pod, `attach of ${plan.device}`);
  const a: Attach = { ctx, plan, net: netdevOf(plan), undo: [], converged: false, moveSent: false };
  const steps: AttachStep[] = [];
  let current: AttachStep = ATTACH_STEPS[0];
  try {
    for (const step of ATTACH_STEPS) {
      current = step;
      ctx.fault?.(step);
      if (a.net === undefined && step !== 'rdma') continue;
      const start = ctx.steps === undefined ? 0 : performance.now();
      if (STEP_FNS[step](a, a.net!)) {
        steps.push(step);
        addStep(ctx.steps, `attach.${step}`, performance.now() - start);
      }
    }
  } catch (err) {
    throw attachFailed(a, current, err, rollback(a));
  }
  const n = a.net;
  if (n === undefined) return { ifIndex: 0, name: plan.rdma?.device ?? '', mac: '', ips: [], steps, converged: a.converged };
  const l = a.podLink!;
  const ips = a.lease === undefined ? [...n.pod.addresses] : [...n.pod.addresses, a.lease.cidr];
  return {
    ifIndex: l.index, name: n.pod.name, mac: (n.pod.mac ?? l.mac ?? '').toLowerCase(), ips, steps, converged: a.converged,
    ...(a.lease === undefined ? {} : { lease: a.lease }),
  };
}
