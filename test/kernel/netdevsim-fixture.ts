/**
 * netdevsim devices for kernel tests: simulated NICs with switch ports,
 * SR-IOV VFs and devlink, from the `netdevsim` module (QEMU lane only; the
 * host kernel has none). A device is created by writing "ID PORTS" to
 * /sys/bus/netdevsim/new_device, and its netdevs register in the WRITER's
 * network namespace, so the write happens inside the test namespace: the
 * test's own "host" NIC never appears in the machine's namespace. Each
 * device is deleted after the test (before its namespace), even on failure.
 * Kernel 6.1 quirk: netdevsim has no sriov_totalvfs; the VF limit is the
 * debugfs file netdevsim<ID>/max_vfs (default 4).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { afterEach } from 'vitest';
import { ipJson, type TestNetns } from './netns-fixture.ts';

const BUS = '/sys/bus/netdevsim';
const DEBUGFS = '/sys/kernel/debug/netdevsim';

export interface TestNetdevsim {
  /** The bus device id: the device is `netdevsim<ID>` (IFLA_PARENT_DEV_NAME of its netdevs). */
  readonly id: number;
  /** `netdevsim<ID>`. */
  readonly devName: string;
  /** The netdevs' names in the test namespace, one per port, in port order. */
  readonly netdevs: readonly string[];
  /** /sys/bus/netdevsim/devices/netdevsim<ID> (sriov_numvfs, new_port, del_port). */
  readonly sysfsPath: string;
  /** Where the kernel's debugfs knobs for it live (max_vfs, ports/...), when debugfs is mounted. */
  readonly debugfsPath: string;
}

export interface NetdevsimOptions {
  /** Ports (netdevs) to create; 1 by default. */
  readonly ports?: number;
  /** SR-IOV VFs to enable on the device (sriov_numvfs); none by default. */
  readonly vfs?: number;
  /** Queues per port (the combined channel maximum, `ethtool -l`); the kernel's default (1) when omitted. */
  readonly queues?: number;
}

/** True when the running kernel has the netdevsim bus (module loaded or built in). */
export function hasNetdevsim(): boolean {
  return existsSync(`${BUS}/new_device`);
}

const live = new Set<number>();
let counter = 0;

/** A device id unique across parallel test processes, below 2^31. */
function nextId(): number {
  counter += 1;
  return (process.pid % 2_000_000) * 1000 + (counter % 1000);
}

function deleteDevice(id: number): void {
  if (!live.delete(id)) return;
  try {
    writeFileSync(`${BUS}/del_device`, String(id));
  } catch {
    /* already gone */
  }
}

function deleteAll(): void {
  for (const id of [...live]) deleteDevice(id);
}

// Registered after netns-fixture's hook (imported above), so with vitest's
// stacked after-hooks it runs first: devices go before their namespaces.
afterEach(deleteAll);
process.on('exit', deleteAll);

/** `ip -d -j link` fields that tie a netdev to its netdevsim device. */
interface IpNsimLink { ifindex: number; ifname: string; parentdev?: string; phys_port_name?: string }

/**
 * Creates a netdevsim device whose netdevs appear inside `ns`, optionally
 * with `vfs` SR-IOV VFs (raising the debugfs max_vfs limit when needed).
 * Deleted after the test. Equivalent to:
 * `ip netns exec NS sh -c 'echo "ID PORTS [QUEUES]" > /sys/bus/netdevsim/new_device'`
 */
export function createNetdevsim(ns: TestNetns, opts: NetdevsimOptions = {}): TestNetdevsim {
  const ports = opts.ports ?? 1;
  const id = nextId();
  const devName = `netdevsim${id}`;
  // Synchronous write on the main thread while it is inside the namespace.
  const spec = opts.queues !== undefined ? `${id} ${ports} ${opts.queues}` : `${id} ${ports}`;
  ns.handle.within(() => { writeFileSync(`${BUS}/new_device`, spec); });
  live.add(id);
  const sysfsPath = `${BUS}/devices/${devName}`;
  const debugfsPath = `${DEBUGFS}/${devName}`;
  try {
    if (opts.vfs !== undefined && opts.vfs > 0) setNumVfs({ sysfsPath, debugfsPath }, opts.vfs);
    const netdevs = ipJson<IpNsimLink[]>(ns, '-d', 'link', 'show')
      .filter((l) => l.parentdev === devName)
      .sort((a, b) => (a.phys_port_name ?? '').localeCompare(b.phys_port_name ?? '', 'en', { numeric: true }) || a.ifindex - b.ifindex)
      .map((l) => l.ifname);
    if (netdevs.length !== ports) throw new Error(`${devName}: expected ${ports} netdevs in ${ns.name}, found ${netdevs.length}`);
    return { id, devName, netdevs, sysfsPath, debugfsPath };
  } catch (err) {
    deleteDevice(id);
    throw err;
  }
}

/**
 * Enables `n` VFs (0 disables them). sysfs refuses a change from one nonzero
 * count to another, so that goes through 0; the debugfs limit is raised
 * while no VF exists.
 */
export function setNumVfs(dev: Pick<TestNetdevsim, 'sysfsPath' | 'debugfsPath'>, n: number): void {
  const file = `${dev.sysfsPath}/sriov_numvfs`;
  if (Number(readFileSync(file, 'utf8')) > 0) writeFileSync(file, '0');
  const maxFile = `${dev.debugfsPath}/max_vfs`;
  if (n > 0 && existsSync(maxFile) && Number(readFileSync(maxFile, 'utf8')) < n) writeFileSync(maxFile, String(n));
  if (n > 0) writeFileSync(file, String(n));
}
