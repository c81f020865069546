/**
 * SR-IOV virtual functions of a link: the IFLA_VFINFO_LIST nest
 * (include/uapi/linux/if_link.h, enum IFLA_VF_*). The kernel fills it in
 * net/core/rtnetlink.c rtnl_fill_vfinfo, only when the request's
 * IFLA_EXT_MASK has RTEXT_FILTER_VF and the driver has ndo_get_vf_config;
 * the same layout, one IFLA_VF_INFO per VF, is what `ip link set vf` sends
 * (do_setvfinfo). Every IFLA_VF_* payload is a fixed struct that starts with
 * the VF number.
 */
import { ProtocolError } from '../../../common/errors.ts';
import { attrTable, forEachAttr, readHwAddr, walkAttrs } from '../attrs.ts';
import type { NlWriter } from '../writer.ts';
import { ETH_P } from './kinds/vlan.ts';
import { IFLA } from './link-constants.ts';
import type { LinkVf, VfLinkState } from './link-types.ts';
import { parseHwAddr } from './link-validate.ts';

/** Entries of IFLA_VFINFO_LIST (enum IFLA_VF_INFO_*). */
export const IFLA_VF_INFO = { IFLA_VF_INFO: 1 } as const;

/** Attributes of one IFLA_VF_INFO (enum IFLA_VF_*, values checked against Linux 6.1 and 6.18 headers). */
export const IFLA_VF = {
  IFLA_VF_MAC: 1, IFLA_VF_VLAN: 2, IFLA_VF_TX_RATE: 3, IFLA_VF_SPOOFCHK: 4, IFLA_VF_LINK_STATE: 5,
  IFLA_VF_RATE: 6, IFLA_VF_RSS_QUERY_EN: 7, IFLA_VF_STATS: 8, IFLA_VF_TRUST: 9, IFLA_VF_IB_NODE_GUID: 10,
  IFLA_VF_IB_PORT_GUID: 11, IFLA_VF_VLAN_LIST: 12, IFLA_VF_BROADCAST: 13,
} as const;

/** Entries of IFLA_VF_VLAN_LIST (enum IFLA_VF_VLAN_INFO_*). */
export const IFLA_VF_VLAN_INFO = { IFLA_VF_VLAN_INFO: 1 } as const;

/** IFLA_VF_LINK_STATE values (enum IFLA_VF_LINK_STATE_*). */
export const IFLA_VF_LINK_STATE = {
  IFLA_VF_LINK_STATE_AUTO: 0, IFLA_VF_LINK_STATE_ENABLE: 1, IFLA_VF_LINK_STATE_DISABLE: 2,
} as const;
const LINK_STATES: readonly VfLinkState[] = ['auto', 'enable', 'disable'];

/**
 * Struct sizes as the kernel sends them (x86_64/arm64 alignment):
 * ifla_vf_mac {u32 vf; u8 mac[32]}, ifla_vf_vlan {u32 vf, vlan, qos},
 * ifla_vf_vlan_info {u32 vf, vlan, qos; be16 vlan_proto} padded to 16,
 * ifla_vf_tx_rate {u32 vf, rate}, ifla_vf_rate {u32 vf, min, max},
 * {u32 vf, setting} for spoofchk/link state/rss query/trust,
 * ifla_vf_guid {u32 vf; u64 guid} with the guid at offset 8.
 */
export const VF_STRUCT = {
  MAC: 36, MAC_MAX: 32, VLAN: 12, VLAN_INFO: 16, TX_RATE: 8, RATE: 12, SETTING: 8, GUID: 16,
} as const;

/** A u32 setting of -1: the driver did not report it (rtnl_fill_vfinfo presets -1). */
const UNREPORTED = 0xffff_ffff;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
interface VfDraft { vf: Partial<Mutable<LinkVf>>; addrLen: number; txRate?: number; hasRate: boolean }

/** Checks a fixed struct's size and its VF number (every struct repeats it; they must agree). */
function vfStruct(buf: Buffer, off: number, len: number, size: number, what: string, d: VfDraft): void {
  if (len < size) throw new ProtocolError(`${what} needs ${size} bytes, has ${len}`);
  const index = buf.readUInt32LE(off);
  if (d.vf.index === undefined) d.vf.index = index;
  else if (d.vf.index !== index) throw new ProtocolError(`${what} names VF ${index} inside VF ${d.vf.index}'s IFLA_VF_INFO`);
}

type SettingKey = 'spoofChk' | 'trust' | 'rssQueryEn';

/** A `{u32 vf; u32 setting}` flag; -1 means the driver did not report it, and it stays absent. */
const setting = (key: SettingKey, what: string) => (b: Buffer, o: number, l: number, d: VfDraft): void => {
  vfStruct(b, o, l, VF_STRUCT.SETTING, what, d);
  const v = b.readUInt32LE(o + 4);
  if (v !== UNREPORTED) d.vf[key] = v !== 0;
};

/** A GUID as iproute2 prints it: the u64 value's bytes, most significant first. */
function guid(buf: Buffer, off: number): string {
  return readHwAddr(Buffer.from(buf.subarray(off + 8, off + 16)).reverse(), 0, 8);
}

const vlanProtocol = (p: number): NonNullable<LinkVf['vlanProtocol']> =>
  (p === ETH_P.ETH_P_8021Q ? '802.1Q' : p === ETH_P.ETH_P_8021AD ? '802.1ad' : p);

const VLAN_LIST_ATTRS = attrTable<VfDraft>({
  [IFLA_VF_VLAN_INFO.IFLA_VF_VLAN_INFO]: (b, o, l, d) => {
    vfStruct(b, o, l, 14, 'IFLA_VF_VLAN_INFO', d); // 14 bytes of fields; the kernel pads to 16
    d.vf.vlan = b.readUInt32LE(o + 4);
    d.vf.qos = b.readUInt32LE(o + 8);
    const p = b.readUInt16BE(o + 12);
    if (p !== 0) d.vf.vlanProtocol = vlanProtocol(p); // 0: never set (netdevsim on 6.1, before any VLAN)
  },
});

const VF_ATTRS = attrTable<VfDraft>({
  [IFLA_VF.IFLA_VF_MAC]: (b, o, l, d) => {
    vfStruct(b, o, l, VF_STRUCT.MAC, 'IFLA_VF_MAC', d);
    if (d.addrLen > 0) d.vf.mac = readHwAddr(b, o + 4, d.addrLen);
  },
  [IFLA_VF.IFLA_VF_VLAN]: (b, o, l, d) => {
    vfStruct(b, o, l, VF_STRUCT.VLAN, 'IFLA_VF_VLAN', d);
    d.vf.vlan ??= b.readUInt32LE(o + 4); // IFLA_VF_VLAN_LIST, when present, also has the protocol
    d.vf.qos ??= b.readUInt32LE(o + 8);
  },
  [IFLA_VF.IFLA_VF_VLAN_LIST]: (b, o, l, d) => {
    // One entry (MAX_VLAN_LIST_LEN is 1); it supersedes IFLA_VF_VLAN, which carries no protocol.
    walkAttrs(b, o, o + l, VLAN_LIST_ATTRS, d);
  },
  [IFLA_VF.IFLA_VF_TX_RATE]: (b, o, l, d) => {
    vfStruct(b, o, l, VF_STRUCT.TX_RATE, 'IFLA_VF_TX_RATE', d);
    d.txRate = b.readUInt32LE(o + 4);
  },
  [IFLA_VF.IFLA_VF_RATE]: (b, o, l, d) => {
    vfStruct(b, o, l, VF_STRUCT.RATE, 'IFLA_VF_RATE', d);
    d.vf.minTxRate = b.readUInt32LE(o + 4);
    d.vf.maxTxRate = b.readUInt32LE(o + 8);
    d.hasRate = true;
  },
  [IFLA_VF.IFLA_VF_SPOOFCHK]: setting('spoofChk', 'IFLA_VF_SPOOFCHK'),
  [IFLA_VF.IFLA_VF_TRUST]: setting('trust', 'IFLA_VF_TRUST'),
  [IFLA_VF.IFLA_VF_RSS_QUERY_EN]: setting('rssQueryEn', 'IFLA_VF_RSS_QUERY_EN'),
  [IFLA_VF.IFLA_VF_LINK_STATE]: (b, o, l, d) => {
    vfStruct(b, o, l, VF_STRUCT.SETTING, 'IFLA_VF_LINK_STATE', d);
    const v = b.readUInt32LE(o + 4);
    const state = LINK_STATES[v];
    if (state === undefined) throw new ProtocolError(`IFLA_VF_LINK_STATE value ${v} is not a known state`);
    d.vf.linkState = state;
  },
  [IFLA_VF.IFLA_VF_IB_NODE_GUID]: (b, o, l, d) => {
    vfStruct(b, o, l, VF_STRUCT.GUID, 'IFLA_VF_IB_NODE_GUID', d);
    d.vf.nodeGuid = guid(b, o);
  },
  [IFLA_VF.IFLA_VF_IB_PORT_GUID]: (b, o, l, d) => {
    vfStruct(b, o, l, VF_STRUCT.GUID, 'IFLA_VF_IB_PORT_GUID', d);
    d.vf.portGuid = guid(b, o);
  },
});

function finish(d: VfDraft): LinkVf {
  const { index } = d.vf;
  if (index === undefined) throw new ProtocolError('IFLA_VF_INFO without any VF struct (no VF number)');
  if (!d.hasRate && d.txRate !== undefined) d.vf.maxTxRate = d.txRate; // kernels before 3.16: IFLA_VF_TX_RATE only
  return { ...d.vf, index };
}

/**
 * Decodes the IFLA_VFINFO_LIST nest at `buf[off, off+len)`. `addrLen` is the
 * link's hardware address length (6 for Ethernet, 20 for IPoIB): the kernel
 * sends each VF MAC as a 32-byte array and only that many bytes count
 * (0 omits the MAC). Settings the driver does not report are absent.
 */
export function decodeVfInfoList(buf: Buffer, off: number, len: number, addrLen = 6): LinkVf[] {
  const n = Math.min(Math.max(Math.trunc(addrLen), 0), VF_STRUCT.MAC_MAX);
  const vfs: LinkVf[] = [];
  forEachAttr(buf, off, off + len, (type, o, l) => {
    if (type !== IFLA_VF_INFO.IFLA_VF_INFO) return;
    const d: VfDraft = { vf: {}, addrLen: n, hasRate: false };
    walkAttrs(buf, o, o + l, VF_ATTRS, d);
    vfs.push(finish(d));
  });
  return vfs;
}

/** Writes a `{u32 vf; u32 a; u32 b; ...}` struct attribute. */
function u32Struct(w: NlWriter, type: number, ...v: number[]): void {
  const t = w.nestStart(type, false);
  for (const x of v) w.u32(x);
  w.nestEnd(t);
}

const bit = (v: boolean): number => (v ? 1 : 0);

/**
 * Writes an IFLA_VFINFO_LIST with one IFLA_VF_INFO per VF, in the form
 * `ip link set dev X vf N ...` sends and the kernel reports: only the fields
 * set are written. `vlan` goes out as IFLA_VF_VLAN (802.1Q), or as
 * IFLA_VF_VLAN_LIST when `vlanProtocol` is set; `qos` defaults to 0. The
 * rates go out together as IFLA_VF_RATE, an absent one as 0 (no limit).
 * A malformed MAC throws ConfigError; the caller checks the other values
 * (VF numbers, VLAN 0-4095, qos 0-7). GUIDs are not written. A VF with no
 * field set gets an empty IFLA_VF_INFO, which the kernel ignores.
 */
export function encodeVfInfoList(w: NlWriter, vfs: readonly LinkVf[]): void {
  const list = w.nestStart(IFLA.IFLA_VFINFO_LIST, false);
  for (const vf of vfs) {
    const info = w.nestStart(IFLA_VF_INFO.IFLA_VF_INFO, false);
    const i = vf.index;
    if (vf.mac !== undefined) {
      const mac = Buffer.alloc(VF_STRUCT.MAC_MAX);
      parseHwAddr(vf.mac, `vfs[${i}].mac`).copy(mac);
      const t = w.nestStart(IFLA_VF.IFLA_VF_MAC, false);
      w.u32(i).raw(mac);
      w.nestEnd(t);
    }
    if (vf.vlan !== undefined && vf.vlanProtocol === undefined) u32Struct(w, IFLA_VF.IFLA_VF_VLAN, i, vf.vlan, vf.qos ?? 0);
    if (vf.vlan !== undefined && vf.vlanProtocol !== undefined) {
      const p = vf.vlanProtocol === '802.1Q' ? ETH_P.ETH_P_8021Q : vf.vlanProtocol === '802.1ad' ? ETH_P.ETH_P_8021AD : vf.vlanProtocol;
      const vl = w.nestStart(IFLA_VF.IFLA_VF_VLAN_LIST, false);
      const t = w.nestStart(IFLA_VF_VLAN_INFO.IFLA_VF_VLAN_INFO, false);
      w.u32(i).u32(vf.vlan).u32(vf.qos ?? 0).u8(p >> 8).u8(p & 0xff).zeros(2);
      w.nestEnd(t);
      w.nestEnd(vl);
    }
    if (vf.minTxRate !== undefined || vf.maxTxRate !== undefined) {
      u32Struct(w, IFLA_VF.IFLA_VF_RATE, i, vf.minTxRate ?? 0, vf.maxTxRate ?? 0);
    }
    if (vf.spoofChk !== undefined) u32Struct(w, IFLA_VF.IFLA_VF_SPOOFCHK, i, bit(vf.spoofChk));
    if (vf.linkState !== undefined) u32Struct(w, IFLA_VF.IFLA_VF_LINK_STATE, i, LINK_STATES.indexOf(vf.linkState));
    if (vf.rssQueryEn !== undefined) u32Struct(w, IFLA_VF.IFLA_VF_RSS_QUERY_EN, i, bit(vf.rssQueryEn));
    if (vf.trust !== undefined) u32Struct(w, IFLA_VF.IFLA_VF_TRUST, i, bit(vf.trust));
    w.nestEnd(info);
  }
  w.nestEnd(list);
}
