/**
 * Shareable parents (docs/sharing.md): links the operator marks, by link kind,
 * by name glob and/or by a CEL expression over the published attributes, to be
 * published once with `allowMultipleAllocations: true` and given to each claim
 * as a sub-interface of its own (macvlan, ipvlan or VLAN) instead of moving the
 * link itself.
 *
 * A parent never leaves the host, so links that cannot move (bridges, bonds,
 * netns-local devices) may be parents: a link the operator names or whose kind
 * it lists is not excluded for being immovable or for its kind not being opted
 * in (exclusions.ts asks `shareableByLink`). The CEL filter can only narrow
 * what is published anyway: it sees attributes, which excluded links have not.
 *
 * The capacity netclaim publishes is the one thing it enforces: the number of
 * sub-interfaces of the parent (Prepare refuses the one over it). No bandwidth
 * capacity is published: nothing here enforces one.
 */
import type { Link } from '../kernel/netlink/route/link-types.ts';
import type { Attributes } from './attributes/limits.ts';
import { MAX_ATTRIBUTES_PER_DEVICE } from './attributes/limits.ts';
import type { DeviceFilter } from './filter-cel.ts';
import type { DeviceKind } from './model.ts';
import { globMatcher } from './options.ts';

/** Default and ceiling of sub-interfaces per parent (the ceiling keeps claim names and netlink churn bounded). */
export const DEFAULT_MAX_SUB_INTERFACES = 16;
export const MAX_SUB_INTERFACES_LIMIT = 1024;

/**
 * Interface names of the sub-interfaces netclaim creates: `ncsub` + 10 hex
 * digits (15 bytes, IFNAMSIZ - 1). Never published (build.ts leaves them
 * out as plumbing), never another agent's.
 */
export const SUB_INTERFACE_PREFIX = 'ncsub';
export const isClaimSubInterfaceName = (name: string): boolean => /^ncsub[0-9a-f]{10}$/.test(name);

export interface ShareableOptions {
  /** IFLA_INFO_KIND values (`bond`, `bridge`, `veth`, `dummy`…) or inventory kinds (`pci`, `vf`) whose links are parents. */
  readonly kinds: readonly string[];
  /** Interface-name globs of parents. */
  readonly names: readonly string[];
  /** When set, a device matched by kind or name is a parent only when this is true for its attributes; alone (no kinds, no names), it selects among every published device. */
  readonly filter?: DeviceFilter;
  /** Sub-interfaces per parent (1 to MAX_SUB_INTERFACES_LIMIT). */
  readonly maxSubInterfaces: number;
}

/** What a parent's device carries: how many sub-interfaces it allows. */
export interface Sharing {
  readonly maxSubInterfaces: number;
  /**
   * The parent can also move into a pod whole (not netns-local: a NIC or VF,
   * a veth; not a bond or bridge): it is published a second time, whole, as
   * `wholeTwinName(name)`, both consuming the one counter of its counter set
   * so the scheduler never allocates both (docs/sharing.md, "Whole vs shared use").
   */
  readonly whole?: boolean;
}

/** The counter each twin of a parent consumes, one of one. */
export const PARENT_COUNTER = 'parent';
const WHOLE_SUFFIX = '-whole';

/**
 * The device name of a parent's whole twin: `<name>-whole`, a DNS label
 * (≤ 63); a longer name is cut and keeps 8 hex digits of a hash of the full
 * one, so two long parents never share a twin name.
 */
export function wholeTwinName(name: string): string {
  const plain = `${name}${WHOLE_SUFFIX}`;
  if (plain.length <= 63) return plain;
  const keep = name.slice(0, 63 - WHOLE_SUFFIX.length - 9).replace(/-+$/, '');
  return `${keep}-${fnv32(name)}${WHOLE_SUFFIX}`;
}

/** The parent a whole twin name stands for among `devices` (undefined: not a twin). */
export function wholeTwinOf<D extends { readonly name: string; readonly sharing?: Sharing }>(name: string, devices: Iterable<D>): D | undefined {
  if (!name.endsWith(WHOLE_SUFFIX)) return undefined;
  for (const d of devices) if (d.sharing?.whole === true && wholeTwinName(d.name) === name) return d;
  return undefined;
}

function fnv32(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

export function shareableEnabled(o: ShareableOptions | undefined): o is ShareableOptions {
  return o !== undefined && (o.kinds.length > 0 || o.names.length > 0 || o.filter !== undefined);
}

/** Whether the link is a parent by its kind or name (before attributes exist). */
export function shareableByLink(l: Pick<Link, 'name' | 'kind'>, o: ShareableOptions | undefined, deviceKind?: DeviceKind): boolean {
  if (!shareableEnabled(o)) return false;
  if (o.kinds.length === 0 && o.names.length === 0) return false;
  if (l.kind !== undefined && o.kinds.includes(l.kind)) return true;
  if (deviceKind !== undefined && o.kinds.includes(deviceKind)) return true;
  return globMatcher(o.names)(l.name) !== undefined;
}

/**
 * The device's sharing, or undefined: a netdev on the host, selected as
 * above, with room for one capacity beside its attributes (attributes plus
 * capacities ≤ 32 per device).
 */
export function sharingOf(
  link: Pick<Link, 'name' | 'kind'> | undefined, kind: DeviceKind, attributes: Attributes, o: ShareableOptions | undefined, movable = false,
): Sharing | undefined {
  if (!shareableEnabled(o) || link === undefined || isClaimSubInterfaceName(link.name)) return undefined;
  const byLink = o.kinds.length === 0 && o.names.length === 0 ? true : shareableByLink(link, o, kind);
  if (!byLink) return undefined;
  if (o.filter !== undefined && o.filter.evaluate(attributes) !== true) return undefined;
  if (countAttributes(attributes) >= MAX_ATTRIBUTES_PER_DEVICE) return undefined;
  return { maxSubInterfaces: o.maxSubInterfaces, ...(movable ? { whole: true } : {}) };
}

function countAttributes(a: Attributes): number {
  return Object.keys(a).length;
}

/** `{ sharing }` for a device object literal, or nothing. */
export function sharingField(
  link: Pick<Link, 'name' | 'kind'> | undefined, kind: DeviceKind, attributes: Attributes, o: ShareableOptions | undefined, movable = false,
): { sharing?: Sharing } {
  const s = sharingOf(link, kind, attributes, o, movable);
  return s === undefined ? {} : { sharing: s };
}
