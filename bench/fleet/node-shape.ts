/**
 * The simulated GPU node: a DGX H100-class server as the kernel shows it to
 * netclaim, run through the real sysfs readers and the real inventory
 * builder, with the link state of each NIC settable (a flap).
 *
 * Layout (three flavours, so the fleet has 8, 12 and 16 RDMA NICs per node):
 * - 8 compute ConnectX-7 ports (15b3:1021, one PF each, RoCE, 400 Gb/s), each
 *   behind its own PCIe root complex together with one H100 SXM GPU
 *   (10de:2330), pairs 0–3 on NUMA node 0 and 4–7 on NUMA node 1;
 * - 12: plus two dual-port ConnectX-7 adapters for storage / in-band traffic,
 *   one per NUMA node, on roots without a GPU;
 * - 16: plus two more of those (illustrative: a rail-doubled storage fabric);
 * - the onboard Intel I350 `eno1` carries the node's default route (the
 *   uplink, never published), `eno2` is cabled but unused (published).
 *
 * Sources: NVIDIA DGX H100 User Guide, "Hardware overview" / "Network
 * connections" (8 single-port ConnectX-7 for the compute fabric, 2 dual-port
 * ConnectX-7 for storage and in-band management, 2 CPU sockets, each GPU
 * paired with one compute NIC under a PCIe switch); the PCIe/NUMA pairing
 * itself as in test/fixtures/topologies/gce-a3-ultra.ts (the same GPU–NIC
 * root sharing on GCE's 8 × H200 shape); mlx5 naming and devlink port names
 * from drivers/net/ethernet/mellanox/mlx5/core/en/devlink.c (shared/reference/
 * node-topologies.md §5). Bus numbers and MACs are illustrative.
 *
 * What a flap changes (drivers/net/ethernet/mellanox/mlx5/core/en_main.c,
 * net/core/link_watch.c): operstate UP ↔ DOWN, IFF_RUNNING and IFF_LOWER_UP,
 * ethtool speed unknown while down, and the RDMA port ACTIVE ↔ DOWN.
 */
import { buildInventory } from '../../src/inventory/build.ts';
import { sysfsFacts } from '../../src/inventory/collect.ts';
import type { Device, InventorySnapshot } from '../../src/inventory/model.ts';
import { DEFAULT_OPTIONS } from '../../src/inventory/options.ts';
import type { EthtoolLinkModes } from '../../src/kernel/netlink/genl/ethtool-types.ts';
import type { Link } from '../../src/kernel/netlink/route/link-types.ts';
import { addr, defaultRoute, link } from '../../test/inventory/snapshot-builders.ts';
import { tempSysfs, writeIbDevice, writePciFunction, writeRdmaCm, writeRootPort, type SysfsWriter } from '../../test/fixtures/sysfs/sysfs-writer.ts';
import { ETH_PORT, mlxGuid, mlxSwitchId, rdmaPort, writeConnectX, writeOnboardI350 } from '../../test/fixtures/topologies/machines.ts';
import { loopback, NO_CARRIER, UP, writeLinks } from '../../test/fixtures/topologies/netdevs.ts';

export type NicCount = 8 | 12 | 16;

/** One RDMA NIC of the shape. */
export interface NicSpec {
  readonly ifName: string;
  readonly bdf: string;
  readonly root: string;
  readonly numa: number;
  readonly rdma: string;
  readonly port: string;
  /** The GPU sharing this NIC's root complex, if any. */
  readonly gpu?: string;
}

/** One GPU, for the GPU driver's slice. */
export interface GpuSpec {
  readonly index: number;
  readonly bdf: string;
  readonly root: string;
  readonly numa: number;
}

/** A string attribute's value. */
export const str = (v: unknown): string | undefined => (v as { string?: string } | undefined)?.string;
const hex2 = (n: number): string => n.toString(16).padStart(2, '0');
/** Compute pairs' root buses (as on the A3 Ultra fixture): NIC at bus+1, GPU at bus+2. */
const COMPUTE_ROOTS = [0x07, 0x17, 0x27, 0x37, 0x87, 0x97, 0xa7, 0xc7];
/** Storage adapters' root buses (dual-port ConnectX-7), NUMA 0, 1, 0, 1. */
const STORAGE_ROOTS = [0x4d, 0xcd, 0x5d, 0xdd];

export function shapeNics(count: NicCount): { nics: NicSpec[]; gpus: GpuSpec[] } {
  const nics: NicSpec[] = [];
  const gpus: GpuSpec[] = [];
  COMPUTE_ROOTS.forEach((b, i) => {
    const root = `pci0000:${hex2(b)}`;
    const numa = i < 4 ? 0 : 1;
    const gpu = `0000:${hex2(b + 2)}:00.0`;
    gpus.push({ index: i, bdf: gpu, root, numa });
    nics.push({ ifName: `enp${b + 1}s0np0`, bdf: `0000:${hex2(b + 1)}:00.0`, root, numa, rdma: `mlx5_${i}`, port: 'p0', gpu });
  });
  for (let a = 0; a < (count - 8) / 2; a++) {
    const b = STORAGE_ROOTS[a]!;
    for (let p = 0; p < 2; p++) {
      nics.push({ ifName: `enp${b + 1}s0f${p}np${p}`, bdf: `0000:${hex2(b + 1)}:00.${p}`, root: `pci0000:${hex2(b)}`, numa: a % 2, rdma: `mlx5_${8 + 2 * a + p}`, port: `p${p}` });
    }
  }
  return { nics, gpus };
}

/** A per-node MAC for NIC `i` (locally administered range, so never a real vendor's). */
export const nicMac = (node: number, i: number): string => `02:88:${hex2((node >> 8) & 0xff)}:${hex2(node & 0xff)}:${hex2(i)}:00`;

function writeShape(w: SysfsWriter, nics: readonly NicSpec[], links: readonly Link[]): void {
  const { eno1, eno2 } = writeOnboardI350(w);
  const parents: Record<string, string> = { '0000:03:00.0': eno1, '0000:03:00.1': eno2 };
  const adapters = new Map<string, NicSpec[]>();
  for (const n of nics) adapters.set(n.root, [...(adapters.get(n.root) ?? []), n]);
  let uverbs = 0;
  for (const [root, ports] of adapters) {
    const bus = root.slice(-2);
    const first = ports[0]!;
    const fns = writeConnectX(w, { root, rootPort: `0000:${bus}:01.0`, bus: first.bdf.slice(5, 7), ports: ports.length, numaNode: first.numa });
    if (first.gpu !== undefined) {
      const gpuPort = writeRootPort(w, root, `0000:${bus}:02.0`, first.numa);
      writePciFunction(w, { address: first.gpu, parent: gpuPort, vendor: '10de', device: '2330', subVendor: '10de', subDevice: '16c1', classCode: '030200', driver: 'nvidia', numaNode: first.numa, revision: 'a1' });
    }
    const guid = mlxGuid(nicMac(0, nics.indexOf(first)));
    for (const n of ports) {
      parents[n.bdf] = fns[n.bdf]!;
      writeIbDevice(w, fns[n.bdf]!, {
        name: n.rdma, nodeType: '1: CA', nodeGuid: mlxGuid(nicMac(0, nics.indexOf(n))), sysImageGuid: guid, fwVer: '28.39.1002',
        ports: [{ ...ETH_PORT, rate: '400 Gb/sec (4X NDR)', ndevs: [n.ifName, n.ifName, '', ''] }], uverbs: uverbs, umad: uverbs,
      });
      uverbs++;
    }
  }
  writeRdmaCm(w);
  writeLinks(w, links, parents);
}

function shapeLinks(node: number, nics: readonly NicSpec[], down: ReadonlySet<number>): Link[] {
  const i350 = { parentDevBusName: 'pci', mtu: 1500 } as const;
  const switchOf = new Map<string, string>();
  return [
    loopback(),
    link(2, 'eno1', { ...i350, flags: UP, mac: `3c:ec:ef:${hex2(node >> 8)}:${hex2(node & 0xff)}:b0`, parentDevName: '0000:03:00.0' }),
    link(3, 'eno2', { ...i350, flags: NO_CARRIER, operState: 'DOWN', mac: `3c:ec:ef:${hex2(node >> 8)}:${hex2(node & 0xff)}:b1`, parentDevName: '0000:03:00.1' }),
    ...nics.map((n, i) => {
      const mac = nicMac(node, i);
      if (!switchOf.has(n.root)) switchOf.set(n.root, mlxSwitchId(mlxGuid(mac)));
      const isDown = down.has(i);
      return link(4 + i, n.ifName, {
        flags: isDown ? NO_CARRIER : UP, operState: isDown ? 'DOWN' : 'UP', mtu: 4200, mac, permMac: mac,
        parentDevName: n.bdf, parentDevBusName: 'pci', physPortName: n.port, physSwitchId: switchOf.get(n.root)!, numVf: 0,
      });
    }),
  ];
}

/** A node flavour: its sysfs facts read once (the same hardware on every node of the flavour). */
export interface NodeShape {
  readonly nicCount: NicCount;
  readonly nics: readonly NicSpec[];
  readonly gpus: readonly GpuSpec[];
  /** The node's devices with NICs in `down` (indices into `nics`) flapped down: the real inventory builder's output. */
  devices(node: number, down: ReadonlySet<number>): readonly Device[];
  /**
   * The same devices, assembled from two builds of node 0 (all up, all down) with the node's MACs
   * put in: ~100× cheaper, so the simulator's one thread keeps up with a fleet-wide flap the way a
   * thousand separate daemons would. node-shape.test.ts checks it equals `devices()`.
   */
  fastDevices(node: number, down: ReadonlySet<number>): readonly Device[];
  dispose(): void;
}

export function nodeShape(nicCount: NicCount): NodeShape {
  const { nics, gpus } = shapeNics(nicCount);
  const w = tempSysfs();
  try {
    const template = shapeLinks(0, nics, new Set());
    writeShape(w, nics, template);
    const facts = sysfsFacts(w.root, template);
    const up: EthtoolLinkModes = { speed: 400_000, duplex: 'full', autoneg: false, lanes: 4 };
    const devices = (node: number, down: ReadonlySet<number>): readonly Device[] => {
      const links = shapeLinks(node, nics, down);
      const snapshot: InventorySnapshot = {
        links,
        addrs: [addr(1, '127.0.0.1/8', 'host'), addr(2, `10.${node >> 8}.${node & 0xff}.10/16`)],
        defaultRoutes: [defaultRoute(2, 2, 100, { gateway: '10.0.0.1' })],
        ...facts,
        rdmaPorts: nics.map((n, i) => ({ ...rdmaPort(i, n.rdma, 1, links[3 + i]), ...(down.has(i) ? { state: 'DOWN', physState: 'DISABLED' } : {}) })),
        rdmaNetnsMode: 'shared',
        ethtool: new Map(nics.map((_, i) => [4 + i, down.has(i) ? {} : up])),
        ebpf: new Map(),
      };
      return buildInventory(snapshot, { ...DEFAULT_OPTIONS, nodeIps: [`10.${node >> 8}.${node & 0xff}.10`] }).devices;
    };
    const allUp = devices(0, new Set());
    const allDown = devices(0, new Set(nics.map((_, i) => i)));
    const nicOf = allUp.map((d) => nics.findIndex((n) => n.bdf === str(d.attributes['resource.kubernetes.io/pciBusID'])));
    const MAC = 'netclaim.dev/mac';
    const fastDevices = (node: number, down: ReadonlySet<number>): readonly Device[] => allUp.map((d, j) => {
      const i = nicOf[j]!;
      const base = i >= 0 && down.has(i) ? allDown[j]! : d;
      const mac = i >= 0 ? nicMac(node, i) : `3c:ec:ef:${hex2(node >> 8)}:${hex2(node & 0xff)}:b1`; // eno2
      return { ...base, attributes: { ...base.attributes, [MAC]: { string: mac } } };
    });
    return { nicCount, nics, gpus, devices, fastDevices, dispose: () => w.dispose() };
  } catch (err) {
    w.dispose();
    throw err;
  }
}
