/**
 * The attach benchmark: what the NRI RunPodSandbox / StopPodSandbox hooks
 * spend in the kernel for one NIC with a full config (move, rename, MTU, 2
 * addresses, 3 routes, 1 rule, a permanent neighbour, sysctls, an ethtool
 * feature), from a plan made the way Prepare makes it; and attach+detach
 * cycles per second. Veth devices in throwaway "host" and "pod" namespaces.
 */
import { execFileSync } from 'node:child_process';
import { cpus, release } from 'node:os';
import type { DeviceName } from '../src/common/ids.ts';
import { resolveDeviceConfig } from '../src/config/claim-config/resolve.ts';
import { attachDevice, detachDevice } from '../src/driver/attach/attach-device.ts';
import { snapshotHost } from '../src/driver/plan/host-snapshot.ts';
import { planDevice } from '../src/driver/plan/plan-device.ts';
import type { DevicePlan } from '../src/driver/record-model.ts';
import { loadLibc } from '../src/kernel/libc/index.ts';
import { linkGetByName } from '../src/kernel/netlink/route/link-ops.ts';
import { NetnsHandle } from '../src/kernel/netns/handle.ts';
import { summarize } from './stats.ts';

export interface AttachBenchOptions {
  readonly runs: number;
  readonly log: (s: string) => void;
}

const PARAMS = {
  interface: { name: 'net1', mtu: 1400, addresses: ['10.61.0.2/24', 'fd00:61::2/64'], arpIgnore: 1 },
  routes: [
    { destination: '10.62.0.0/16', gateway: '10.61.0.1' },
    { destination: '10.63.0.0/16', gateway: '10.61.0.1', table: 100 },
    { destination: '192.168.61.0/24', scope: 253 },
  ],
  rules: [{ priority: 2000, source: '10.61.0.0/24', table: 100 }],
  neighbors: [{ destination: '10.61.0.9', hardwareAddr: '02:00:00:00:00:09' }],
  ethtool: { features: { 'rx-gro': false } },
};

function plan(h: NetnsHandle, ifName: string, libc: ReturnType<typeof loadLibc>): DevicePlan {
  const r = resolveDeviceConfig('nic', [{ source: 'FromClaim', opaque: { driver: 'netclaim.dev', parameters: PARAMS } }]);
  if (!r.ok) throw r.error;
  const link = linkGetByName(h, ifName);
  const host = snapshotHost(h, link.index, { libc });
  const p = planDevice({
    result: { request: 'nic', driver: 'netclaim.dev', pool: 'bench', device: ifName },
    config: r.config, host, charDevices: [],
    device: { name: ifName as DeviceName, kind: 'virtual', ifName, ifIndex: link.index, charDevices: [], netdevPresent: true, attributes: {}, dropped: [] },
  });
  if (!p.ok) throw new Error(JSON.stringify(p.issues));
  return { ...p.plan, env: [], cdiDeviceIds: [] };
}

export function benchAttach(o: AttachBenchOptions): Record<string, unknown> {
  const tag = process.pid % 10000;
  const hostNs = `ncba${tag}h`;
  const podNs = `ncba${tag}p`;
  for (const ns of [hostNs, podNs]) execFileSync('ip', ['netns', 'add', ns]);
  try {
    execFileSync('ip', ['-n', hostNs, '-batch', '-'], { input: 'link add ncbat type veth peer name ncbatp\nlink set ncbat up\naddr add 10.61.0.2/24 dev ncbat\n' });
    const out: Record<string, unknown> = {
      suite: 'attach',
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', kernel: release(), node: process.version },
      config: 'move + rename + MTU, 2 addresses, 3 routes (one in table 100), 1 rule, 1 neighbour, 1 sysctl, 1 ethtool feature',
    };
    for (const backend of ['koffi', 'ffi-rs'] as const) {
      const libc = loadLibc(backend);
      const host = NetnsHandle.open(`/run/netns/${hostNs}`, { libc });
      const pod = NetnsHandle.open(`/run/netns/${podNs}`, { libc });
      try {
        const p = plan(host, 'ncbat', libc);
        o.log(`attach (${backend}): ${o.runs} attach/detach cycles…`);
        const attach: number[] = [];
        const detach: number[] = [];
        const t0 = performance.now();
        for (let i = 0; i < o.runs + 10; i++) {
          const a = performance.now();
          attachDevice({ host, pod, libc }, p);
          const b = performance.now();
          const d = detachDevice({ host, pod, libc }, p);
          const c = performance.now();
          if (d.problems.length > 0) throw new Error(`detach problems: ${JSON.stringify(d.problems)}`);
          if (i >= 10) {
            attach.push(b - a);
            detach.push(c - b);
          }
        }
        const seconds = (performance.now() - t0) / 1000;
        out[backend] = { attachMs: summarize(attach), detachMs: summarize(detach), cyclesPerSecond: Math.round(((o.runs + 10) / seconds) * 10) / 10 };
      } finally {
        host.close();
        pod.close();
      }
    }
    return out;
  } finally {
    for (const ns of [hostNs, podNs]) execFileSync('ip', ['netns', 'delete', ns]);
  }
}
