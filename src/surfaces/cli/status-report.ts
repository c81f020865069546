/**
 * What `netclaim status` shows (pure): every device of the node — from the
 * inventory (on the host now) and from the claim records (prepared, or in a
 * pod) — with its state, owner pod and claim, health, and its last problem.
 *
 *   free       on the host, in no claim
 *   prepared   in a claim whose pod has not got it yet
 *   attaching  the attach journal says a pod hook was moving it (a crash or a
 *              hook in progress; the daemon finishes or undoes it)
 *   in-pod     the attach journal says it is in the pod
 *   away       the inventory holds it but its netdev is not on the host, and
 *              no claim of this node has it (another agent's namespace)
 */
import type { Inventory } from '../../inventory/model.ts';
import { deviceHealth } from '../../driver/device-health.ts';
import type { HealthState } from '../../driver/driver-port.ts';
import type { PodDeviceHealth } from '../../driver/pod-health-rules.ts';
import { counterSummary } from '../../driver/pod-health-counters.ts';
import type { ClaimRecord } from '../../driver/record-model.ts';

export type DeviceStateName = 'free' | 'prepared' | 'attaching' | 'in-pod' | 'away';

export interface DeviceStatus {
  readonly device: string;
  readonly kind?: string;
  /** On the host: its name there; in a pod: its name in the pod. */
  readonly interface?: string;
  readonly pciAddress?: string;
  readonly rdmaDevice?: string;
  readonly state: DeviceStateName;
  readonly pod?: string;
  readonly claim?: string;
  readonly claimUid?: string;
  /** Since when (the attach journal's time, or when the claim was prepared). */
  readonly since?: string;
  readonly health: HealthState;
  readonly problem?: string;
}

export interface StatusInput {
  readonly inventory: Inventory;
  readonly records: readonly ClaimRecord[];
  /** Records that could not be read: file → why. */
  readonly unreadable: ReadonlyMap<string, string>;
  /** Health of devices in pods, as read through their namespaces (undefined: not read). */
  readonly podHealth: (device: string) => PodDeviceHealth | undefined;
  /** Error counters of devices in pods, as last read (absent: not read). */
  readonly counters?: (device: string) => ReadonlyMap<string, number> | undefined;
  /** The attribute domain the inventory publishes (`netclaim.dev`, or `dra.net`). */
  readonly domain: string;
}

export function statusReport(s: StatusInput): DeviceStatus[] {
  const byDevice = new Map<string, ClaimRecord>();
  for (const r of s.records) for (const d of r.devices) byDevice.set(d.device, r);
  const out: DeviceStatus[] = [];
  const seen = new Set<string>();
  for (const d of s.inventory.devices) {
    seen.add(d.name);
    const r = byDevice.get(d.name);
    const attr = (n: string): string | undefined => {
      const v = d.attributes[`${s.domain}/${n}`];
      return v !== undefined && 'string' in v ? v.string : undefined;
    };
    const fromPod = r?.attachment !== undefined ? s.podHealth(d.name) : undefined;
    const h = deviceHealth(d, attr, fromPod);
    out.push({
      device: d.name, kind: d.kind,
      ...optional('interface', r?.attachment?.devices.find((a) => a.device === d.name)?.name ?? d.ifName),
      ...optional('pciAddress', d.pciAddress), ...optional('rdmaDevice', d.rdmaDevice),
      ...claimPart(r, d.netdevPresent || d.ifName === undefined),
      health: h.health,
      ...optional('problem', problemOf(d.name, r, h) ?? countersOf(s, d.name)),
    });
  }
  // Devices of claims the host inventory does not list (in a pod, with nothing left on the host).
  for (const r of s.records) {
    for (const p of r.devices) {
      if (seen.has(p.device)) continue;
      seen.add(p.device);
      const h = r.attachment !== undefined ? s.podHealth(p.device) ?? { health: 'unknown' as const, message: 'not read' } : { health: 'unknown' as const, message: 'not on the host, and not in a pod by its journal' };
      out.push({
        device: p.device, ...optional('kind', p.identity.kind),
        ...optional('interface', r.attachment?.devices.find((a) => a.device === p.device)?.name ?? p.identity.ifName),
        ...optional('pciAddress', p.identity.pciAddress), ...optional('rdmaDevice', p.identity.rdmaDevice ?? p.rdma?.device),
        ...claimPart(r, false),
        health: h.health, ...optional('problem', problemOf(p.device, r, h) ?? countersOf(s, p.device)),
      });
    }
  }
  return out.sort((a, b) => a.device.localeCompare(b.device));
}

function claimPart(r: ClaimRecord | undefined, onHost: boolean): Pick<DeviceStatus, 'state' | 'pod' | 'claim' | 'claimUid' | 'since'> {
  if (r === undefined) return { state: onHost ? 'free' : 'away' };
  const a = r.attachment;
  const state: DeviceStateName = a === undefined ? 'prepared' : a.state === 'attached' ? 'in-pod' : 'attaching';
  return { state, pod: `${r.claim.namespace}/${r.podName}`, claim: `${r.claim.namespace}/${r.claim.name}`, claimUid: r.claim.uid, since: a?.at ?? r.preparedAt };
}

function problemOf(device: string, r: ClaimRecord | undefined, h: { health: HealthState; message?: string }): string | undefined {
  if (r?.attachment?.state === 'attaching') return `attach of pod ${r.podName} interrupted at ${r.attachment.at} (the daemon finishes or undoes it)`;
  if (r?.attachment?.state === 'attached' && !r.attachment.devices.some((a) => a.device === device)) return 'journaled as attached without this device';
  if (h.health !== 'healthy' && h.message !== undefined) return h.message;
  return undefined;
}

/** A healthy device in a pod whose error counters are not zero: what they read (pod-health-counters.ts). */
function countersOf(s: StatusInput, device: string): string | undefined {
  const values = s.counters?.(device);
  const summary = values === undefined ? undefined : counterSummary(values);
  return summary === undefined ? undefined : `error counters: ${summary}`;
}

function optional<K extends string>(key: K, v: string | undefined): { [P in K]?: string } {
  return (v === undefined || v === '' ? {} : { [key]: v }) as { [P in K]?: string };
}

/** The table `netclaim status` prints. */
export function formatStatus(rows: readonly DeviceStatus[], unreadable: ReadonlyMap<string, string>): string {
  const head = ['DEVICE', 'STATE', 'INTERFACE', 'PCI', 'RDMA', 'POD', 'CLAIM', 'HEALTH', 'PROBLEM'];
  const cells = rows.map((r) => [r.device, r.state, r.interface ?? '-', r.pciAddress ?? '-', r.rdmaDevice ?? '-', r.pod ?? '-', r.claim ?? '-', r.health, r.problem ?? '-']);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]): string => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i]!))).join('  ').trimEnd();
  const lines = [line(head), ...cells.map(line)];
  if (rows.length === 0) lines.push('(no devices)');
  if (unreadable.size > 0) {
    lines.push('', 'UNREADABLE CLAIM RECORDS');
    for (const [file, why] of unreadable) lines.push(`  ${file}: ${why}`);
  }
  return lines.join('\n');
}
