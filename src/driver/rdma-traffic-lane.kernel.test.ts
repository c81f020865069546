/**
 * RDMA traffic from two pods, through what netclaim hands them: two soft-RoCE
 * (rdma_rxe) devices on the two ends of a veth pair in the VM's initial
 * namespace ("the host") are prepared by the ClaimDriver (CDI spec: uverbs and
 * rdma_cm nodes, NCCL/UCX env), attached by the PodDriver's RunPodSandbox into
 * two pod namespaces (renamed net1, given 10.78.0.1/24 and .2/24), and then
 * perftest's `ib_write_bw` and `ib_send_lat` run between the pods over RoCE v2,
 * each inside a mount namespace whose /dev/infiniband holds exactly the CDI
 * spec's device nodes (made from its major/minor, as a CDI runtime makes them)
 * and whose environment is exactly the spec's env. Release (StopPodSandbox,
 * then Unprepare) must give everything back.
 *
 * Soft-RoCE is no real HCA, and the kernel's answers shape the test
 * (docs/qemu-lane.md, "Known limits"):
 * - rxe unregisters its RDMA device when its netdev leaves the namespace
 *   (rxe_notify, NETDEV_UNREGISTER; 6.1 and 7.3 alike), so the attach that moves
 *   the netdev destroys it. A real HCA's RDMA function stays. The test stands
 *   in for it: it creates the soft-RoCE again, same name, on the pod's net1 from
 *   inside the pod, and checks it got the very uverbs node the CDI spec lists.
 * - Before rxe had per-namespace UDP sockets (rxe_ns.c, present in 7.3, absent
 *   in 6.1), rxe sent and listened in init_net only: a netdev in a pod's
 *   namespace carries no RDMA traffic. There the test asserts that failure.
 * - In exclusive mode (the lane's ffi-rs pass) the driver moves the RDMA device
 *   after the netdev; rxe is gone by then, so the attach fails at its rdma step
 *   and rolls back: the test asserts the rollback (netdev back as it was).
 *
 * QEMU lane only (NETCLAIM_IN_VM=1, rdma_rxe, perftest unpacked by the lane).
 * Numbers under TCG emulation measure nothing about real RDMA performance.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DRIVER_NAME } from '../common/driver.ts';
import type { ClaimUid } from '../common/ids.ts';
import { buildInventory } from '../inventory/build.ts';
import { collectSnapshot } from '../inventory/collect.ts';
import { DEFAULT_OPTIONS } from '../inventory/options.ts';
import { rdmaDevList, rdmaLinkAdd, rdmaNetnsModeGet } from '../kernel/netlink/rdma/rdma-ops.ts';
import { NetnsHandle } from '../kernel/netns/handle.ts';
import { createNetns, eventually, needsQemuLane, testLibc, tool, uniqueName, type TestNetns } from '../../test/kernel/netns-fixture.ts';
import { canUseRxe, kernelHasSymbol } from '../../test/kernel/vm-guard.ts';
import type { AllocatedClaim } from './claim.ts';
import { ClaimDriver } from './claim-driver.ts';
import { hostReads } from './host-reads.ts';
import { PodDriver } from './pod-driver.ts';
import { ClaimStore } from './state/claim-store.ts';

const l = testLibc;
const hasPerftest = existsSync('/usr/bin/ib_write_bw') && existsSync('/usr/bin/ib_send_lat');
const runs = canUseRxe() && hasPerftest;

interface CdiNode { path: string; major: number; minor: number; type: string }
interface CdiSpec { containerEdits?: { env?: string[] }; devices: { containerEdits: { env?: string[]; deviceNodes?: CdiNode[] } }[] }

interface Pod {
  readonly ns: TestNetns;
  readonly claim: AllocatedClaim;
  readonly rxe: string;
  readonly netdev: string;
  readonly addr: string;
  spec?: CdiSpec;
}

const children: ChildProcess[] = [];
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  for (const c of cleanups.splice(0).reverse()) {
    try { c(); } catch { /* best effort */ }
  }
});

/** The host's view of a netdev, for "restored as it was". */
function hostLink(name: string): { ifname: string; mtu: number; address: string; up: boolean; addrs: string[] } | undefined {
  try {
    const [a] = JSON.parse(tool('ip', ['-j', 'addr', 'show', 'dev', name])) as { ifname: string; mtu: number; address: string; flags: string[]; addr_info: { family: string; local: string; prefixlen: number }[] }[];
    if (a === undefined) return undefined;
    return {
      ifname: a.ifname, mtu: a.mtu, address: a.address, up: a.flags.includes('UP'),
      addrs: a.addr_info.filter((x) => x.family === 'inet').map((x) => `${x.local}/${x.prefixlen}`).sort(),
    };
  } catch {
    return undefined;
  }
}

/** Progress, for a run that hangs under TCG: appended to $NC_REPORT_DIR/rdma-traffic-trace.log when the lane sets it. */
const trace = (what: string): void => {
  const dir = process.env['NC_REPORT_DIR'];
  if (dir !== undefined) appendFileSync(join(dir, 'rdma-traffic-trace.log'), `${new Date().toISOString()} ${l.backend} ${what}\n`);
};

/** A command in pod `pod`'s namespace, bounded in time (a hung tool must fail the test, not stall the run). */
const inPod = (pod: Pod, ...cmd: string[]): string =>
  execFileSync('ip', ['netns', 'exec', pod.ns.name, ...cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });

/** `major:minor` of the uverbs node the kernel gave RDMA device `ibdev`, from sysfs. */
function uverbsOf(ibdev: string): string | undefined {
  const base = '/sys/class/infiniband_verbs';
  for (const u of readdirSync(base).filter((x) => x.startsWith('uverbs'))) {
    if (readFileSync(join(base, u, 'ibdev'), 'utf8').trim() === ibdev) return readFileSync(join(base, u, 'dev'), 'utf8').trim();
  }
  return undefined;
}

/**
 * Index of the RoCE v2 GID that carries IPv4 `ip` on port 1 of `ibdev` (the IPv4-mapped IPv6
 * form), from sysfs (shared mode: every namespace sees the device). Only the first 16 entries:
 * rxe's table has 1024, and one `cat` each took minutes under TCG.
 */
function rocev2GidIndex(ibdev: string, ip: string): number {
  const hex = ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join('');
  const mapped = `0000:0000:0000:0000:0000:ffff:${hex.slice(0, 4)}:${hex.slice(4)}`;
  const port = `/sys/class/infiniband/${ibdev}/ports/1`;
  const seen: string[] = [];
  for (let i = 0; i < 16; i++) {
    let gid: string;
    let type: string;
    try {
      gid = readFileSync(`${port}/gids/${i}`, 'utf8').trim();
      type = readFileSync(`${port}/gid_attrs/types/${i}`, 'utf8').trim();
    } catch {
      continue; // an empty entry: its type cannot be read (EINVAL)
    }
    seen.push(`${i} ${gid} ${type}`);
    if (gid === mapped && type === 'RoCE v2') return i;
  }
  throw new Error(`no RoCE v2 GID for ${ip} on ${ibdev}: ${seen.join('; ')}`);
}

/**
 * The command line that runs `perftest` in pod `pod` the way a container would
 * see it: a new mount namespace whose /dev/infiniband is a fresh tmpfs holding
 * exactly the CDI spec's nodes, and only the spec's env. The device name comes
 * from that env (NCCL_IB_HCA, "=NAME" for an exact match).
 */
function containerCmd(pod: Pod, perftest: string): string[] {
  const spec = pod.spec!;
  const nodes = spec.devices.flatMap((d) => d.containerEdits.deviceNodes ?? []);
  const env = [...(spec.containerEdits?.env ?? []), ...spec.devices.flatMap((d) => d.containerEdits.env ?? [])];
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = [
    'set -e',
    'mount -t tmpfs -o mode=0755 nc-cdi /dev/infiniband',
    ...nodes.map((n) => `mknod -m 0666 ${q(n.path)} ${n.type} ${n.major} ${n.minor}`),
    'echo "nodes: $(ls /dev/infiniband | tr "\\n" " ")"',
    `exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin ${env.map(q).join(' ')} sh -c ${q(`echo "env: NCCL_IB_HCA=$NCCL_IB_HCA UCX_NET_DEVICES=$UCX_NET_DEVICES"; exec ${perftest.replace('DEV', '"${NCCL_IB_HCA#=}"')}`)}`,
  ].join('\n');
  return ['ip', 'netns', 'exec', pod.ns.name, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', script];
}

/**
 * perftest options for a guest that the host starves (TCG beside stress-ng --cpu 2): there the
 * guest stalled RCU for 36 s+ and ib_send_lat's RC transport failed ("Completion with error at
 * client") or never finished in 180 s. `-u 20`: the QP's ACK timeout 4.096 µs × 2^20 ≈ 4.3 s
 * (default 2^14 ≈ 67 ms), so its 7 retries outlast such stalls. (Sleeping on completion events,
 * `-e`, instead of polling made it worse: rxe reported its CQ full and the client hung.)
 */
const STARVED_TRANSPORT = '-u 20';

/** Starts the perftest server in `server`, waits for its TCP port, runs the client in `client`; both outputs. */
async function perftest(server: Pod, client: Pod, test: string, args: string, port: number): Promise<{ client: string; clientCode: number; server: string }> {
  const gidS = rocev2GidIndex(server.rxe, server.addr);
  const gidC = rocev2GidIndex(client.rxe, client.addr);
  const [cmd, ...cmdArgs] = containerCmd(server, `${test} -d DEV -x ${gidS} -p ${port} ${args}`);
  trace(`${test}: server, GID index ${gidS}`);
  const srv = spawn(cmd!, cmdArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(srv);
  let serverOut = '';
  srv.stdout!.on('data', (d: Buffer) => { serverOut += d.toString(); });
  srv.stderr!.on('data', (d: Buffer) => { serverOut += d.toString(); });
  const serverDone = new Promise<void>((resolve) => srv.on('close', () => resolve()));
  // The server listens on TCP for the out-of-band exchange: wait for it (slow under TCG), never sleep blindly.
  await eventually(() => expect(inPod(server, 'ss', '-Hltn', 'sport', '=', `:${port}`)).toContain(`:${port}`), 120_000);
  const [ccmd, ...cArgs] = containerCmd(client, `${test} -d DEV -x ${gidC} -p ${port} ${args} ${server.addr}`);
  trace(`${test}: client, GID index ${gidC}`);
  let out: string;
  let code = 0;
  try {
    out = execFileSync(ccmd!, cArgs, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; status?: number | null };
    out = `${e.stdout ?? ''}${e.stderr ?? ''}`;
    code = e.status ?? -1;
  }
  trace(`${test}: client exit ${code}: ${out.split('\n').slice(-4).join(' | ')}`);
  if (code !== 0) srv.kill('SIGKILL');
  await Promise.race([serverDone, new Promise((r) => setTimeout(r, 60_000))]);
  return { client: out, clientCode: code, server: serverOut };
}

/** The result row under perftest's `#bytes` header, as numbers. */
function resultRow(out: string): number[] | undefined {
  const lines = out.split('\n');
  const h = lines.findIndex((x) => x.trim().startsWith('#bytes'));
  if (h < 0) return undefined;
  const row = lines[h + 1]?.trim().split(/\s+/).map(Number);
  return row !== undefined && row.length >= 4 && row.every((n) => Number.isFinite(n)) ? row : undefined;
}

describe(`RDMA traffic between two pods over soft-RoCE (${l.backend})`, () => {
  it.skipIf(!runs)(
    `prepare + RunPodSandbox give each pod its netdev and the CDI nodes; ib_write_bw and ib_send_lat run pod to pod; release restores the host${runs ? '' : ` (${needsQemuLane('rdma_rxe, perftest and the VM\'s init namespace')})`}`,
    async () => {
      const root = NetnsHandle.current({ libc: l });
      cleanups.push(() => root.close());
      const exclusive = rdmaNetnsModeGet(root) === 'exclusive';
      const perNetnsRxe = kernelHasSymbol('rxe_ns_pernet_sk4');
      const dir = mkdtempSync(join(tmpdir(), 'nc-rdma-lane-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const store = ClaimStore.open(join(dir, 'state'));
      cleanups.push(() => store.close());

      // The "host": a veth pair in the VM's initial namespace, each end with an address and a soft-RoCE device.
      trace(`start: ${exclusive ? 'exclusive' : 'shared'} mode, per-netns rxe ${perNetnsRxe}`);
      const [a, b] = [uniqueName('ra'), uniqueName('rb')];
      tool('ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
      cleanups.push(() => { if (hostLink(a) !== undefined) tool('ip', ['link', 'del', a]); });
      tool('ip', ['addr', 'add', '10.79.0.1/24', 'dev', a]);
      tool('ip', ['addr', 'add', '10.79.0.2/24', 'dev', b]);
      for (const d of [a, b]) tool('ip', ['link', 'set', d, 'up']);
      const pods: Pod[] = [
        { ns: createNetns('rpa'), netdev: a, rxe: uniqueName('rxa'), addr: '10.78.0.1', claim: undefined as unknown as AllocatedClaim },
        { ns: createNetns('rpb'), netdev: b, rxe: uniqueName('rxb'), addr: '10.78.0.2', claim: undefined as unknown as AllocatedClaim },
      ];
      for (const p of pods) {
        rdmaLinkAdd(root, p.rxe, 'rxe', p.netdev);
        cleanups.push(() => { try { tool('rdma', ['link', 'delete', p.rxe]); } catch { /* gone with its netdev */ } });
      }
      const before = Object.fromEntries([a, b].map((d) => [d, hostLink(d)]));

      // Prepare, from the real inventory (the soft-RoCE device is found under its netdev).
      const options = { ...DEFAULT_OPTIONS, includeKinds: ['*'] };
      const inventory = buildInventory(collectSnapshot(root, { sysfsRoot: '/sys' }, options), options);
      const claims = new Map<string, AllocatedClaim>();
      pods.forEach((p, i) => {
        const device = inventory.devices.find((d) => d.ifName === p.netdev);
        expect(device, `inventory entry for ${p.netdev}`).toBeDefined();
        const claim: AllocatedClaim = {
          namespace: 'lane', name: `rdma-${i}`, uid: `1a0d0000-0000-4000-8000-00000000000${i}` as ClaimUid,
          reservedFor: [{ resource: 'pods', name: `pod-${i}`, uid: `pod-rdma-${i}` }],
          allocation: {
            results: [{ request: 'nic', driver: DRIVER_NAME, pool: 'lane', device: device!.name }],
            config: [{ source: 'FromClass', opaque: { driver: DRIVER_NAME, parameters: { interface: { name: 'net1', addresses: [`${p.addr}/24`] } } } }],
          },
        };
        claims.set(claim.name, claim);
        (p as { claim: AllocatedClaim }).claim = claim;
      });
      const claimDriver = new ClaimDriver({
        driverName: DRIVER_NAME, poolName: 'lane', store, cdiDir: join(dir, 'cdi'),
        claims: { get: (_ns, name) => Promise.resolve(claims.get(name)!) },
        inventory: { current: inventory, hold: () => {}, release: () => {} },
        kernel: hostReads(root, '/sys'),
      });
      const refs = pods.map((p) => ({ namespace: 'lane', name: p.claim.name, uid: p.claim.uid }));
      trace('prepare');
      const prepared = await claimDriver.prepare(refs);
      for (const p of pods) {
        expect(prepared.get(p.claim.uid)).toHaveProperty('devices');
        p.spec = JSON.parse(readFileSync(join(dir, 'cdi', `netclaim.dev-net_${p.claim.uid}.json`), 'utf8')) as CdiSpec;
        const nodes = p.spec.devices.flatMap((d) => d.containerEdits.deviceNodes ?? []).map((n) => n.path).sort();
        expect(nodes).toEqual(expect.arrayContaining(['/dev/infiniband/rdma_cm', expect.stringMatching(/^\/dev\/infiniband\/uverbs\d+$/)]));
        expect(p.spec.containerEdits?.env).toEqual(expect.arrayContaining([`NCCL_IB_HCA==${p.rxe}`, `UCX_NET_DEVICES=${p.rxe}:1`]));
      }

      const problems: string[] = [];
      const podDriver = new PodDriver({ store, host: root, libc: l, rdmaExclusive: () => exclusive, observer: { detachProblems: (_r, p) => problems.push(...p) } });
      cleanups.push(() => podDriver.close());
      const sandbox = (p: Pod, i: number) => ({ id: `sb-rdma-${i}`, uid: `pod-rdma-${i}`, name: `pod-${i}`, namespace: 'lane', netns: p.ns.path });

      if (exclusive) {
        // The driver moves the netdev, then the RDMA device: rxe died with its netdev's move, so the
        // attach fails at its rdma step and rolls back. (Even where rxe can change namespace, 7.3,
        // it cannot follow its netdev.)
        await expect(podDriver.runPodSandbox(sandbox(pods[0]!, 0))).rejects.toThrow(/rdma/i);
        await eventually(() => expect(hostLink(a)).toEqual(before[a]), 30_000);
        expect(rdmaDevList(root).some((d) => d.name === pods[0]!.rxe)).toBe(false);
        process.stdout.write(`rdma-traffic-lane: exclusive mode on ${tool('uname', ['-r']).trim()}: attach refused at the rdma step (soft-RoCE unregistered with its netdev's move), rolled back\n`);
      } else {
        for (const [i, p] of pods.entries()) {
          trace(`runPodSandbox ${i}`);
          await podDriver.runPodSandbox(sandbox(p, i));
          await podDriver.idle(); // the `attached` journal follows the hook's answer
          expect(store.get(p.claim.uid)?.attachment?.state).toBe('attached');
          expect(JSON.parse(inPod(p, 'ip', '-j', 'addr', 'show', 'dev', 'net1'))[0].addr_info.map((x: { local: string }) => x.local)).toContain(p.addr);
          // The kernel's answer: moving the netdev unregistered its soft-RoCE device.
          expect(rdmaDevList(root).some((d) => d.name === p.rxe)).toBe(false);
          // Standing in for a real HCA's RDMA function: the same soft-RoCE again, on the pod's net1.
          trace(`rdma link add ${p.rxe} in pod ${i}`);
          inPod(p, 'rdma', 'link', 'add', p.rxe, 'type', 'rxe', 'netdev', 'net1');
          const node = p.spec!.devices.flatMap((d) => d.containerEdits.deviceNodes ?? []).find((n) => /uverbs\d+$/.test(n.path))!;
          expect(uverbsOf(p.rxe), `uverbs of ${p.rxe} (the CDI spec lists ${node.path})`).toBe(`${node.major}:${node.minor}`);
        }
        const release = tool('uname', ['-r']).trim();
        if (perNetnsRxe) {
          const bw = await perftest(pods[1]!, pods[0]!, 'ib_write_bw', `${STARVED_TRANSPORT} -F -n 200`, 18515);
          const specNodes = pods[0]!.spec!.devices.flatMap((d) => d.containerEdits.deviceNodes ?? []).map((n) => n.path.replace('/dev/infiniband/', '')).sort();
          expect(bw.client, bw.client).toContain(`nodes: ${specNodes.join(' ')} \n`);
          expect(bw.client).toContain(`env: NCCL_IB_HCA==${pods[0]!.rxe} UCX_NET_DEVICES=${pods[0]!.rxe}:1`);
          expect(bw.clientCode, bw.client + bw.server).toBe(0);
          const [bytes = 0, iters = 0, , avg = 0] = resultRow(bw.client) ?? [];
          expect(iters, bw.client).toBe(200);
          expect(avg, bw.client).toBeGreaterThan(0);
          const lat = await perftest(pods[1]!, pods[0]!, 'ib_send_lat', `${STARVED_TRANSPORT} -F -n 100`, 18516);
          expect(lat.clientCode, lat.client + lat.server).toBe(0);
          const [, latIters = 0, , , , tAvg = 0] = resultRow(lat.client) ?? [];
          expect(latIters, lat.client).toBe(100);
          expect(tAvg, lat.client).toBeGreaterThan(0);
          process.stdout.write(`rdma-traffic-lane: ${release}, shared mode: ib_write_bw ${iters} x ${bytes} B = ${(iters * bytes / 1048576).toFixed(1)} MiB at ${avg} MB/s; ib_send_lat ${latIters} x 2 B, t_avg ${tAvg} us (TCG: not a performance figure)\n`);
        } else {
          // Linux 6.1: rxe sends and listens in init_net only; the pod's netdev carries no RDMA traffic.
          const lat = await perftest(pods[1]!, pods[0]!, 'ib_send_lat', '-F -n 100', 18516);
          expect(lat.clientCode, lat.client).not.toBe(0);
          expect(resultRow(lat.client), lat.client).toBeUndefined();
          expect(lat.client + lat.server).toMatch(/Completion with error|Failed status|Couldn't/);
          process.stdout.write(`rdma-traffic-lane: ${release}, shared mode: no RDMA traffic from a pod namespace (rxe has no per-namespace sockets): ${lat.client.split('\n').filter((x) => /error|Failed/.test(x)).join(' | ')}\n`);
        }
        trace('stopPodSandbox');
        for (const [i, p] of pods.entries()) await podDriver.stopPodSandbox(sandbox(p, i));
        expect(problems).toEqual([]);
        // The soft-RoCE devices re-made in the pods die as their netdevs come home (the same kernel answer).
        for (const p of pods) await eventually(() => expect(rdmaDevList(root).some((d) => d.name === p.rxe)).toBe(false), 30_000);
      }

      // Release: the claims are unprepared; the host's netdevs are back as they were, the store and CDI specs empty.
      trace('unprepare');
      const un = await claimDriver.unprepare(refs);
      for (const p of pods) expect(un.get(p.claim.uid), JSON.stringify(un.get(p.claim.uid))).not.toHaveProperty('error');
      for (const d of [a, b]) await eventually(() => expect(hostLink(d)).toEqual(before[d]), 30_000);
      for (const p of pods) expect(store.get(p.claim.uid)).toBeUndefined();
      expect(readdirSync(join(dir, 'cdi')).filter((f) => f.endsWith('.json'))).toEqual([]);
    },
  );
});
