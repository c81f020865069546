/**
 * The side-by-side e2e bench's peer, from the command line:
 *
 *   --peer dranet          the reference peer, built by bench/peers/build-dranet.sh
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
  const r = spawnSync('bash', [join(repo, 'bench/peers/build-dranet.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`bench/peers/build-dranet.sh failed (exit ${r.status ?? r.signal})`);
  const bin = r.stdout.trim().split('\n').pop()!;
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
  if (v === undefined || v.startsWith('--')) throw new Error('--peer: dranet, netclaim-twin or a JSON file (docs/benchmarks.md)');
  if (v === 'dranet') return dranetSpec();
  if (v === 'netclaim-twin') return netclaimTwinSpec();
  return parseForeignDriverSpec(JSON.parse(readFileSync(v, 'utf8')), v);
}
