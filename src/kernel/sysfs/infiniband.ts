/**
 * RDMA devices from sysfs: `class/infiniband/<dev>` (node type, GUIDs,
 * firmware, PCI function, ports), their character devices
 * (`class/infiniband_verbs/uverbsN`, `class/infiniband_mad/{umad,issm}N`,
 * the legacy `class/infiniband_cm/ucmN`, each naming its device in `ibdev`),
 * the shared `rdma_cm` misc device, and the netdevs behind RoCE GIDs.
 * What `ibv_devinfo` and `ls -l /dev/infiniband` show. `class/infiniband`
 * is netns-tagged (drivers/infiniband/core/device.c: `ib_class` has
 * `.ns_type`/`.namespace`), so it lists the devices of the reading sysfs
 * mount's namespace: in `shared` RDMA netns mode every device (each other
 * namespace gets a compat device), whichever namespace its netdev is in; in
 * `exclusive` mode only the devices that belong to that namespace, so an
 * RDMA device moved into a pod is no longer listed on the host.
 */
import { join, basename } from 'node:path';
import { NotFoundError } from '../../common/errors.ts';
import { isPciAddress } from './pci-address.ts';
import {
  DEFAULT_SYSFS_ROOT,
  isPlainName,
  listDir,
  naturalCompare,
  pathExists,
  readAttr,
  realpathOrUndefined,
} from './sysfs-files.ts';
import type { IbDevice, IbPort, RdmaCharDevice } from './sysfs-types.ts';

/** Where the character devices of each class live, and the kind each entry name means. */
const CHAR_CLASSES: readonly { readonly dir: string; readonly re: RegExp; readonly kind: RdmaCharDevice['kind'] }[] = [
  { dir: 'infiniband_verbs', re: /^uverbs\d+$/, kind: 'uverbs' },
  { dir: 'infiniband_mad', re: /^umad\d+$/, kind: 'umad' },
  { dir: 'infiniband_mad', re: /^issm\d+$/, kind: 'issm' },
  { dir: 'infiniband_cm', re: /^ucm\d+$/, kind: 'ucm' },
];

export const DEV_INFINIBAND = '/dev/infiniband';

/** `1: CA` → `CA`, `4: ACTIVE` → `ACTIVE`, `5: LinkUp` → `LinkUp`. */
const stripCode = (v: string | undefined): string | undefined =>
  v === undefined || v === '' ? undefined : v.replace(/^\d+:\s*/, '');

/** `231:192` → major/minor, when well formed. */
function devNumbers(dir: string): { major?: number; minor?: number } {
  const m = /^(\d+):(\d+)$/.exec(readAttr(join(dir, 'dev')) ?? '');
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : {};
}

/** RDMA device name → its character devices, from one pass over the char-device classes. */
function charDeviceIndex(root: string): Map<string, RdmaCharDevice[]> {
  const index = new Map<string, RdmaCharDevice[]>();
  for (const { dir, re, kind } of CHAR_CLASSES) {
    const classDir = join(root, 'class', dir);
    for (const entry of listDir(classDir).sort(naturalCompare)) {
      if (!re.test(entry)) continue;
      const ibdev = readAttr(join(classDir, entry, 'ibdev'));
      if (!ibdev) continue;
      const list = index.get(ibdev) ?? [];
      list.push({ path: `${DEV_INFINIBAND}/${entry}`, kind, ...devNumbers(join(classDir, entry)) });
      index.set(ibdev, list);
    }
  }
  return index;
}

function readPort(portDir: string, port: number): IbPort {
  const state = stripCode(readAttr(join(portDir, 'state')));
  const physState = stripCode(readAttr(join(portDir, 'phys_state')));
  const linkLayer = readAttr(join(portDir, 'link_layer'));
  const rate = readAttr(join(portDir, 'rate'));
  return {
    port,
    ...(state !== undefined && { state }),
    ...(physState !== undefined && { physState }),
    ...(linkLayer && { linkLayer }),
    ...(rate && { rate }),
  };
}

const portNumbers = (dir: string): number[] =>
  listDir(join(dir, 'ports'))
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .sort((a, b) => a - b);

function deviceDir(root: string, name: string): string {
  const dir = join(root, 'class', 'infiniband', name);
  if (!isPlainName(name) || !pathExists(dir)) {
    throw new NotFoundError(`RDMA device ${JSON.stringify(name)} not found under ${join(root, 'class', 'infiniband')}`, {
      context: { rdmaDevice: name },
    });
  }
  return dir;
}

function readDevice(root: string, name: string, chars: ReadonlyMap<string, RdmaCharDevice[]>): IbDevice {
  const dir = deviceDir(root, name);
  const nodeType = stripCode(readAttr(join(dir, 'node_type')));
  const nodeGuid = readAttr(join(dir, 'node_guid'));
  const sysImageGuid = readAttr(join(dir, 'sys_image_guid'));
  const fwVersion = readAttr(join(dir, 'fw_ver'));
  const parent = realpathOrUndefined(join(dir, 'device'));
  const pci = parent === undefined ? undefined : basename(parent);
  return {
    name,
    ...(nodeType !== undefined && { nodeType }),
    ...(nodeGuid && { nodeGuid }),
    ...(sysImageGuid && { sysImageGuid }),
    ...(fwVersion && { fwVersion }),
    ...(pci !== undefined && isPciAddress(pci) && { pciAddress: pci }),
    ports: portNumbers(dir).map((p) => readPort(join(dir, 'ports', String(p)), p)),
    charDevices: chars.get(name) ?? [],
  };
}

/**
 * One RDMA device; throws NotFoundError when `class/infiniband/<name>` is missing.
 * Equivalent to: `ibv_devinfo -d <name>` plus `ls /sys/class/infiniband_*` for its char devices.
 */
export function readIbDevice(root: string, name: string): IbDevice {
  return readDevice(root, name, charDeviceIndex(root));
}

/**
 * Every RDMA device, in natural name order (`mlx5_2` before `mlx5_10`).
 * Equivalent to: `rdma dev show` / `ibv_devinfo -l`.
 */
export function listIbDevices(root: string = DEFAULT_SYSFS_ROOT): IbDevice[] {
  const chars = charDeviceIndex(root);
  const out: IbDevice[] = [];
  for (const name of listDir(join(root, 'class', 'infiniband')).sort(naturalCompare)) {
    try {
      out.push(readDevice(root, name, chars));
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }
  return out;
}

/** True when the `rdma_cm` misc device exists (module rdma_ucm loaded). */
export function rdmaCmPresent(root: string = DEFAULT_SYSFS_ROOT): boolean {
  return pathExists(join(root, 'class', 'misc', 'rdma_cm'));
}

/** `/dev/infiniband/rdma_cm`, shared by every RDMA device, when present. */
export function rdmaCmCharDevice(root: string = DEFAULT_SYSFS_ROOT): RdmaCharDevice | undefined {
  const dir = join(root, 'class', 'misc', 'rdma_cm');
  if (!pathExists(dir)) return undefined;
  return { path: `${DEV_INFINIBAND}/rdma_cm`, kind: 'rdma_cm', ...devNumbers(dir) };
}

/**
 * The netdevs behind a device's GIDs (`ports/N/gid_attrs/ndevs/M`), in port
 * then GID order, without duplicates — the RoCE netdev(s) of the device.
 * Unused GID entries fail to read (EINVAL) and are skipped; InfiniBand ports
 * have no netdev here (find an IPoIB netdev through the PCI function's `net/`).
 * Throws NotFoundError when the device is missing.
 * Equivalent to: `rdma link show <name>/<port>` (its `netdev` field).
 */
export function ibDeviceNetdevs(root: string, name: string): string[] {
  const dir = deviceDir(root, name);
  const seen = new Set<string>();
  for (const port of portNumbers(dir)) {
    const ndevs = join(dir, 'ports', String(port), 'gid_attrs', 'ndevs');
    for (const gid of listDir(ndevs).sort(naturalCompare)) {
      const ndev = readAttr(join(ndevs, gid));
      if (ndev) seen.add(ndev);
    }
  }
  return [...seen];
}
