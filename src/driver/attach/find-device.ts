/**
 * Finding a device again, on the host or in a pod, from the identity Prepare
 * stored: its host ifindex and name (fast path, one request), else its
 * permanent MAC or PCI address (one link dump), else its name. Names and
 * ifindexes change (the kernel may return a device from a dying namespace
 * as `devN`, and gives it a new ifindex when the old one is taken); the
 * permanent MAC and the PCI address do not, but virtual devices have neither.
 */
import { NotFoundError } from '../../common/errors.ts';
import { linkGet, linkGetByName, linkList } from '../../kernel/netlink/route/link-ops.ts';
import type { Link } from '../../kernel/netlink/route/link-types.ts';
import type { NetnsHandle } from '../../kernel/netns/handle.ts';
import type { DeviceIdentity } from '../record-model.ts';

const ZERO_MAC = /^(?:00:)*00$/;

/** A MAC worth comparing: lower-case, and not all zeros (virtual devices report zeros or nothing). */
function realMac(mac: string | undefined): string | undefined {
  if (mac === undefined || ZERO_MAC.test(mac)) return undefined;
  return mac.toLowerCase();
}

const pciOf = (l: Link): string | undefined => (l.parentDevBusName === 'pci' ? l.parentDevName : undefined);

/**
 * Whether the device dies with a pod's namespace rather than coming back: a
 * virtual netdev (veth, macvlan...: no bus device), which the kernel
 * destroys with the namespace. The kernel gives every other netdev (PCI,
 * VF, netdevsim, Hyper-V...) back to the host, asynchronously, so such a
 * device missing right after its namespace died is on its way back, not
 * gone. Records written before the kind was stored: no PCI address and no
 * permanent MAC.
 */
export function diesWithNamespace(id: DeviceIdentity): boolean {
  if (id.kind !== undefined) return id.kind === 'virtual';
  return id.pciAddress === undefined && realMac(id.permMac) === undefined;
}

/** A stable attribute that both sides have and that differs: certainly another device. */
export function contradicts(l: Link, id: DeviceIdentity): boolean {
  const a = realMac(id.permMac);
  const b = realMac(l.permMac);
  if (a !== undefined && b !== undefined && a !== b) return true;
  const pci = pciOf(l);
  return id.pciAddress !== undefined && pci !== undefined && pci !== id.pciAddress;
}

/** Both sides have a stable attribute, and it agrees. */
function stableMatch(l: Link, id: DeviceIdentity): boolean {
  const a = realMac(id.permMac);
  if (a !== undefined && realMac(l.permMac) === a) return true;
  return id.pciAddress !== undefined && pciOf(l) === id.pciAddress;
}

/** The MACs worth comparing, normalised. */
const realMacs = (macs: readonly (string | undefined)[]): string[] => macs.map(realMac).filter((m) => m !== undefined);

/**
 * For a device without permanent MAC or PCI address: one of the MACs it may
 * have (a pod may hold another virtual device with the same ifindex), else,
 * with no MAC to go by, the ifindex.
 */
function weakMatch(l: Link, id: DeviceIdentity, macs: readonly string[]): boolean {
  if (realMac(id.permMac) !== undefined && realMac(l.permMac) !== undefined) return false;
  return macs.length > 0 ? macs.includes(realMac(l.mac) ?? '') : l.index === id.ifIndex;
}

/**
 * Whether a link (found by name) is the device: its permanent MAC or PCI
 * address agrees, or, for devices without either, it carries one of `macs`
 * (the one the attach gave it, or its host one).
 */
export function isDevice(l: Link, id: DeviceIdentity, macs: readonly (string | undefined)[] = []): boolean {
  return !contradicts(l, id) && (stableMatch(l, id) || weakMatch(l, id, realMacs(macs)));
}

function getOrUndefined<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/** The link named `name` in `h`'s namespace, if it exists and is the device. */
export function findByName(h: NetnsHandle, name: string, id: DeviceIdentity, macs: readonly (string | undefined)[] = []): Link | undefined {
  const l = getOrUndefined(() => linkGetByName(h, name));
  return l !== undefined && isDevice(l, id, macs) ? l : undefined;
}

export interface FindOptions {
  /**
   * A name (or ifindex) match counts only if the device is provably the same
   * (isDevice): a device with the same name and ifindex may be another one.
   */
  readonly strict?: boolean;
  /** The MACs the device may have (its pod and host ones), for devices without stable identity. */
  readonly macs?: readonly (string | undefined)[];
}

/**
 * The device in `h`'s namespace: by ifindex and name, else by permanent MAC,
 * else by PCI address (several netdevs on one function: the one with the
 * name or ifindex, else the first), else by name, else (strict) as `devN`
 * with one of its MACs. Undefined when absent.
 */
export function findDevice(h: NetnsHandle, id: DeviceIdentity, names: readonly string[], opts: FindOptions = {}): Link | undefined {
  const macs = realMacs(opts.macs ?? []);
  const ok = (x: Link): boolean => !contradicts(x, id) && (opts.strict !== true || stableMatch(x, id) || weakMatch(x, id, macs));
  if (id.ifIndex !== undefined) {
    const l = getOrUndefined(() => linkGet(h, id.ifIndex!));
    if (l !== undefined && names.includes(l.name) && ok(l)) return l;
  }
  const links = linkList(h);
  const perm = realMac(id.permMac);
  if (perm !== undefined) {
    const l = links.find((x) => realMac(x.permMac) === perm);
    if (l !== undefined) return l;
  }
  if (id.pciAddress !== undefined) {
    const onFn = links.filter((x) => pciOf(x) === id.pciAddress);
    const l = onFn.find((x) => names.includes(x.name)) ?? onFn.find((x) => x.index === id.ifIndex) ?? onFn[0];
    if (l !== undefined) return l;
  }
  return links.find((x) => names.includes(x.name) && ok(x))
    // Returned by the kernel from a dying namespace where its name was taken: `dev<ifindex>`, known by its MAC.
    ?? (macs.length === 0 ? undefined : links.find((x) => DEV_N.test(x.name) && macs.includes(realMac(x.mac) ?? '') && !contradicts(x, id)));
}

const DEV_N = /^dev\d+$/;

/**
 * A name free in `h`'s namespace for a device whose own name is taken
 * there: `ncret<ifindex>`, with a suffix if even that is taken.
 */
export function fallbackName(h: NetnsHandle, ifIndex: number): string {
  const base = `ncret${ifIndex}`.slice(0, 13);
  for (let i = 0; i < 100; i++) {
    const name = i === 0 ? base : `${base}-${i}`.slice(0, 15);
    if (getOrUndefined(() => linkGetByName(h, name)) === undefined) return name;
  }
  return `${base.slice(0, 11)}%d`;
}
