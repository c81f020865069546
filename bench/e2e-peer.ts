/**
 * The side-by-side e2e bench's peer, from the command line:
 *
 *   --peer dranet          the reference peer, built by bench/peers/build-dranet.sh
 *   --peer floor           the upstream DRA test driver, which does no device work: what the
 *                          kubelet, scheduler and API server cost a claim (bench/peers/build-dra-test-driver.sh)
 *   --peer FILE.json       any DRA network driver, as a ForeignDriverSpec
 *                          (test/e2e/node/foreign-driver.ts; docs/benchmarks.md)
 *   --peer netclaim-twin   a second netclaim, under the driver name twin.netclaim.dev
 *                          (the pluggable path proven without a foreign binary; not a peer)
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseForeignDriverSpec, type ForeignDriverSpec } from '../test/e2e/node/foreign-driver.ts';

const repo = fileURLToPath(new URL('..', import.meta.url));

/** The one interface the bench gives the peer is renamed and addressed as netclaim's is (net1, one address). */
const sameConfig = { interface: { name: 'net1', addresses: ['10.90.0.3/24'] } };

/** dranet as its DaemonSet runs it, but as a process in the node (host network, the node's kubelet and NRI sockets). */
export function dranetSpec(): ForeignDriverSpec {
  return dranetSpecFor(built('bench/peers/build-dranet.sh'));
}

/** dranet's spec around its binary `bin`. */
export function dranetSpecFor(bin: string): ForeignDriverSpec {
  return {
    label: 'dranet',
    command: [bin, '--kubeconfig={kubeconfig}', '--hostname-override={nodeName}',
      // netclaim serves :9177 on the node too.
      '--bind-address=127.0.0.1:9178',
      // Only the bench's device, as netclaim is given only its own (the chart's `exclude`).
      '--filter=attributes["dra.net/ifName"].StringValue == "{ifName}"', '--v=2'],
    driverName: 'dra.net',
    deviceClass: 'dranet',
    selector: 'device.attributes["dra.net"].ifName == "{ifName}"',
    config: sameConfig,
  };
}

/** The upstream DRA test driver's name (its default `--drivername`). */
export const FLOOR_DRIVER = 'test-driver.cdi.k8s.io';

/**
 * The floor: k8s.io/kubernetes/test/e2e/dra/test-driver as a kubelet plugin, the null
 * driver Kubernetes' own DRA e2e tests use. It publishes `--num-devices` devices with no
 * attributes, and its Prepare only writes one CDI spec with an env var per claim (no NIC,
 * no NRI, no claim fetch of its own beyond the kubelet plugin helper's, nothing durable),
 * so a pod's extra start-up latency for its claim is what the kubelet, scheduler,
 * controller-manager and API server cost one claim on this node. `-v=6` makes the
 * helper log each gRPC request and its answer (klogGrpcCalls reads Prepare's time off them).
 */
export function floorSpec(): ForeignDriverSpec {
  return floorSpecFor(built('bench/peers/build-dra-test-driver.sh'));
}

/** The floor's spec around its binary `bin`. */
export function floorSpecFor(bin: string): ForeignDriverSpec {
  return {
    label: 'floor',
    // It makes the parent of its socket's folder but not the folder (upstream's README has it made by hand).
    command: ['/bin/sh', '-c', `mkdir -p /var/lib/kubelet/plugins/${FLOOR_DRIVER} && exec "$0" "$@"`, bin, '--kubeconfig={kubeconfig}', `--drivername=${FLOOR_DRIVER}`, '-v=6', 'kubelet-plugin', '--node-name={nodeName}',
      // The kubelet's (the e2e node's /var/lib is its run dir's var-lib) and containerd's CDI dir (tmpfs /run).
      '--datadir=/var/lib/kubelet/plugins', '--plugin-registration-path=/var/lib/kubelet/plugins_registry', '--cdi-dir=/var/run/cdi',
      // One pod at a time holds one: two spare.
      '--num-devices=3'],
    driverName: FLOOR_DRIVER,
    deviceClass: 'dra-test-driver',
    // Any of its devices (they have no attributes); the class already selects its driver.
    selector: `device.driver == "${FLOOR_DRIVER}"`,
    nri: false,
    devices: 'simulated',
  };
}

/** Runs a build script that prints its binary's path on the last line (reusing a matching build). */
function built(script: string): string {
  const r = spawnSync('bash', [join(repo, script)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${script} failed (exit ${r.status ?? r.signal})`);
  return r.stdout.trim().split('\n').pop()!;
}

/**
 * A second netclaim process under another driver name: proves the plug-in path (class,
 * selector, config, the peer's own device) with a known driver. It is not a peer: it
 * shares netclaim's code, and both NRI plugins see every pod.
 */
export function netclaimTwinSpec(): ForeignDriverSpec {
  return {
    label: 'netclaim-twin',
    command: [join(repo, 'node_modules/.bin/node'), join(repo, 'dist/netclaim.mjs'), 'run', '--driver-name=twin.netclaim.dev', '--node-name={nodeName}',
      '--kubeconfig={kubeconfig}', '--include-kind=macvlan', '--exclude=ncbench*', '--metrics-address=127.0.0.1:9179',
      '--state-dir=/var/lib/netclaim-twin', '--nri-plugin-index=01'],
    driverName: 'twin.netclaim.dev',
    deviceClass: 'netclaim-twin',
    // netclaim names its attributes netclaim.dev/… whatever its driver name (inventory/attributes/names.ts).
    selector: 'device.attributes["netclaim.dev"].?ifName.orValue("") == "{ifName}"',
    config: sameConfig,
  };
}

/** Takes `--values JSON` (chart values for netclaim, e.g. `{"deviceMetadata":false}`) out of `args`. */
export function e2eValuesFromArgs(args: string[]): Record<string, unknown> | undefined {
  const at = args.indexOf('--values');
  if (at < 0) return undefined;
  const v = args.splice(at, 2)[1];
  let parsed: unknown;
  try {
    parsed = JSON.parse(v ?? '');
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('--values: a JSON object of chart values (deploy/helm/netclaim/values.yaml)');
  return parsed as Record<string, unknown>;
}

/** Takes `--peer X` out of `args` (so the suite names stay), resolving it to a spec. */
export function e2ePeerFromArgs(args: string[]): ForeignDriverSpec | undefined {
  const at = args.indexOf('--peer');
  if (at < 0) return undefined;
  const v = args.splice(at, 2)[1];
  if (v === undefined || v.startsWith('--')) throw new Error('--peer: dranet, floor, netclaim-twin or a JSON file (docs/benchmarks.md)');
  if (v === 'dranet') return dranetSpec();
  if (v === 'floor') return floorSpec();
  if (v === 'netclaim-twin') return netclaimTwinSpec();
  return parseForeignDriverSpec(JSON.parse(readFileSync(v, 'utf8')), v);
}
