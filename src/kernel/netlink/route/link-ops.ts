/**
 * Link operations over rtnetlink: list and get links, and change them with
 * one RTM_NEWLINK per call. Each op takes the NetnsHandle of the namespace
 * the link lives in. A failed change throws a KernelError carrying the op
 * (`RTM_NEWLINK`), errno, the kernel's extack message and the ifindex.
 */
import { NotFoundError } from '../../../common/errors.ts';
import type { IfIndex } from '../../../common/ids.ts';
import { KernelError } from '../../errors.ts';
import type { NetnsHandle } from '../../netns/handle.ts';
import type { NlMessage } from '../message.ts';
import { encodeIfInfoMsg } from './ifinfomsg.ts';
import { decodeLink, encodeLinkChange } from './link-codec.ts';
import { IFLA, IFLA_INFO, RTEXT_FILTER } from './link-constants.ts';
import type { Link, LinkChange } from './link-types.ts';
import { ALTIFNAME_MAX, IFNAME_MAX, checkLinkName, checkUint } from './link-validate.ts';
import { RTM } from './rtnl-constants.ts';

export interface LinkQueryOptions {
  /** Also ask for SR-IOV data (RTEXT_FILTER_VF), which fills `numVf` and `vfs`; off by default (large). */
  readonly vf?: boolean;
}

export interface LinkListOptions extends LinkQueryOptions {
  /** Only links of this IFLA_INFO_KIND (e.g. `veth`). */
  readonly kind?: string;
  /** Only links enslaved to this master. */
  readonly master?: IfIndex;
}

const extMask = (o: LinkQueryOptions): number =>
  RTEXT_FILTER.RTEXT_FILTER_SKIP_STATS | (o.vf === true ? RTEXT_FILTER.RTEXT_FILTER_VF : 0);

const decodeNewLink = (buf: Buffer, m: NlMessage): Link | undefined =>
  (m.type === RTM.RTM_NEWLINK ? decodeLink(buf, m) : undefined);

/**
 * All links of the namespace, statistics skipped. `kind` and `master` filter
 * in the kernel (strict-checked dump) and again here, since a kernel that
 * does not know the kind ignores that filter.
 * Equivalent to: `ip -d link show [type KIND] [master M]`
 */
export function linkList(h: NetnsHandle, opts: LinkListOptions = {}): Link[] {
  const w = h.route.writer.reset().beginMessage(RTM.RTM_GETLINK, 0);
  encodeIfInfoMsg(w);
  w.attrU32(IFLA.IFLA_EXT_MASK, extMask(opts));
  if (opts.master !== undefined) w.attrU32(IFLA.IFLA_MASTER, opts.master);
  if (opts.kind !== undefined) {
    const nest = w.nestStart(IFLA.IFLA_LINKINFO);
    w.attrString(IFLA_INFO.IFLA_INFO_KIND, opts.kind);
    w.nestEnd(nest);
  }
  w.endMessage();
  const { kind, master } = opts;
  if (kind === undefined && master === undefined) return h.route.dump(w, 'RTM_GETLINK', decodeNewLink);
  return h.route.dump(w, 'RTM_GETLINK', (buf, m) => {
    const l = decodeNewLink(buf, m);
    if (l === undefined || (kind !== undefined && l.kind !== kind) || (master !== undefined && l.master !== master)) return undefined;
    return l;
  });
}

/**
 * One link by ifindex; a missing link throws NotFoundError.
 * Equivalent to: `ip -d link show dev X`
 */
export function linkGet(h: NetnsHandle, index: IfIndex | number, opts: LinkQueryOptions = {}): Link {
  checkUint(index, 'index', 1, 0x7fff_ffff);
  const w = h.route.writer.reset().beginMessage(RTM.RTM_GETLINK, 0);
  encodeIfInfoMsg(w, { index });
  w.attrU32(IFLA.IFLA_EXT_MASK, extMask(opts));
  w.endMessage();
  return getOne(h, `ifindex ${index}`, index);
}

/**
 * One link by name or alternative name (the kernel resolves both); a
 * missing link throws NotFoundError. Names longer than IFNAMSIZ-1 can only
 * be alternative names and are sent as IFLA_ALT_IFNAME.
 * Equivalent to: `ip -d link show dev NAME`
 */
export function linkGetByName(h: NetnsHandle, name: string, opts: LinkQueryOptions = {}): Link {
  checkLinkName(name, 'name', ALTIFNAME_MAX);
  const w = h.route.writer.reset().beginMessage(RTM.RTM_GETLINK, 0);
  encodeIfInfoMsg(w);
  w.attrU32(IFLA.IFLA_EXT_MASK, extMask(opts));
  w.attrString(Buffer.byteLength(name) > IFNAME_MAX ? IFLA.IFLA_ALT_IFNAME : IFLA.IFLA_IFNAME, name);
  w.endMessage();
  return getOne(h, `name ${JSON.stringify(name)}`, undefined);
}

function getOne(h: NetnsHandle, what: string, index: number | undefined): Link {
  let found: Link | undefined;
  try {
    h.route.request(h.route.writer, 'RTM_GETLINK', (buf, m) => { found ??= decodeNewLink(buf, m); });
  } catch (err) {
    if (err instanceof KernelError && err.errnoName === 'ENODEV') {
      throw new NotFoundError(`link ${what} not found in netns ${h.path}`, { cause: err, context: { netns: h.path } });
    }
    throw withIfindex(err, index);
  }
  if (found === undefined) throw new NotFoundError(`link ${what}: the kernel sent no RTM_NEWLINK reply`);
  return found;
}

/**
 * Applies every field of `change` in one RTM_NEWLINK: the kernel moves the
 * link first (IFLA_NET_NS_FD), then renames it and sets the rest, then
 * brings it up or down. Inputs are validated before anything is sent.
 * Equivalent to: `ip link set dev X [netns NS] [name N] [mtu M] [address A] [alias S]
 * [txqueuelen Q] [gso_max_size G] [gro_max_size G] [master M | nomaster] [up | down]`
 */
export function linkSet(h: NetnsHandle, index: IfIndex | number, change: LinkChange): void {
  const w = h.route.writer.reset();
  encodeLinkChange(w, index, change);
  try {
    h.route.request(w, 'RTM_NEWLINK');
  } catch (err) {
    throw withIfindex(err, index);
  }
}

/** Equivalent to: `ip link set dev X up` */
export const linkSetUp = (h: NetnsHandle, index: IfIndex | number): void => linkSet(h, index, { up: true });

/** Equivalent to: `ip link set dev X down` */
export const linkSetDown = (h: NetnsHandle, index: IfIndex | number): void => linkSet(h, index, { up: false });

/** Equivalent to: `ip link set dev X mtu MTU` */
export const linkSetMtu = (h: NetnsHandle, index: IfIndex | number, mtu: number): void => linkSet(h, index, { mtu });

/** Equivalent to: `ip link set dev X address aa:bb:cc:dd:ee:ff` */
export const linkSetMac = (h: NetnsHandle, index: IfIndex | number, mac: string): void => linkSet(h, index, { mac });

/**
 * Renames a link. Linux 6.2 and later rename a link that is up; older
 * kernels refuse with EBUSY unless the driver allows live renames.
 * Equivalent to: `ip link set dev X name NAME`
 */
export const linkRename = (h: NetnsHandle, index: IfIndex | number, name: string): void => linkSet(h, index, { name });

/** An empty alias removes it. Equivalent to: `ip link set dev X alias TEXT` */
export const linkSetAlias = (h: NetnsHandle, index: IfIndex | number, alias: string): void => linkSet(h, index, { alias });

/** Equivalent to: `ip link set dev X txqueuelen N` */
export const linkSetTxQueueLen = (h: NetnsHandle, index: IfIndex | number, txQueueLen: number): void =>
  linkSet(h, index, { txQueueLen });

/** At most the device's tsoMaxSize (ERANGE otherwise). Equivalent to: `ip link set dev X gso_max_size N` */
export const linkSetGsoMaxSize = (h: NetnsHandle, index: IfIndex | number, gsoMaxSize: number): void =>
  linkSet(h, index, { gsoMaxSize });

/** Equivalent to: `ip link set dev X gro_max_size N` */
export const linkSetGroMaxSize = (h: NetnsHandle, index: IfIndex | number, groMaxSize: number): void =>
  linkSet(h, index, { groMaxSize });

/** Enslaves a link to a bridge, bond or VRF. Equivalent to: `ip link set dev X master M` */
export const linkSetMaster = (h: NetnsHandle, index: IfIndex | number, master: IfIndex | number): void =>
  linkSet(h, index, { master: master as IfIndex });

/** Equivalent to: `ip link set dev X nomaster` */
export const linkSetNoMaster = (h: NetnsHandle, index: IfIndex | number): void => linkSet(h, index, { master: 0 });

/**
 * Moves a link into `target`'s namespace by fd, renaming it and setting
 * MTU, MAC, GSO/GRO sizes... in the same message, so it never appears in the
 * target under its old name. `index` is the ifindex in `h`'s namespace;
 * the kernel keeps it in the target when it is free there.
 * Equivalent to: `ip link set dev X netns NS [name N] [mtu M] [address A]`
 */
export function linkSetNetns(
  h: NetnsHandle,
  index: IfIndex | number,
  target: NetnsHandle,
  change: Omit<LinkChange, 'netnsFd'> = {},
): void {
  linkSet(h, index, { ...change, netnsFd: target.fd });
}

/** The same KernelError with the ifindex filled in (the socket does not know it); the original is its cause. */
function withIfindex(err: unknown, index: number | undefined): unknown {
  if (!(err instanceof KernelError) || index === undefined || err.ifindex !== undefined) return err;
  return new KernelError(err.code, {
    op: err.op,
    errno: err.errno,
    ifindex: index,
    ...(err.extack !== undefined ? { extack: err.extack } : {}),
    ...(err.extackOffset !== undefined ? { extackOffset: err.extackOffset } : {}),
    ...(err.netns !== undefined ? { netns: err.netns } : {}),
  }, { cause: err });
}
