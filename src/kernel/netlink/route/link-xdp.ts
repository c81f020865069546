/**
 * The IFLA_XDP nest of a link message (include/uapi/linux/if_link.h,
 * enum IFLA_XDP_*; net/core/rtnetlink.c rtnl_xdp_fill). The kernel sends the
 * nest for every link, with IFLA_XDP_ATTACHED = XDP_ATTACHED_NONE when no
 * program is attached; that decodes to `undefined`. In a single mode the
 * kernel sends IFLA_XDP_PROG_ID plus that mode's *_PROG_ID; in
 * XDP_ATTACHED_MULTI only the per-mode ids.
 */
import { ProtocolError } from '../../../common/errors.ts';
import { attrTable, readU32, readU8, walkAttrs } from '../attrs.ts';
import { IFLA_XDP_ATTR, XDP_ATTACHED } from './link-constants.ts';
import type { LinkXdp, XdpMode } from './link-types.ts';

interface XdpDraft {
  attached?: number;
  progId?: number;
  driverProgId?: number;
  genericProgId?: number;
  offloadProgId?: number;
}

const XDP_ATTRS = attrTable<XdpDraft>({
  [IFLA_XDP_ATTR.IFLA_XDP_ATTACHED]: (b, o, l, d) => { d.attached = readU8(b, o, l); },
  [IFLA_XDP_ATTR.IFLA_XDP_PROG_ID]: (b, o, l, d) => { d.progId = readU32(b, o, l); },
  [IFLA_XDP_ATTR.IFLA_XDP_DRV_PROG_ID]: (b, o, l, d) => { d.driverProgId = readU32(b, o, l); },
  [IFLA_XDP_ATTR.IFLA_XDP_SKB_PROG_ID]: (b, o, l, d) => { d.genericProgId = readU32(b, o, l); },
  [IFLA_XDP_ATTR.IFLA_XDP_HW_PROG_ID]: (b, o, l, d) => { d.offloadProgId = readU32(b, o, l); },
});

/** IFLA_XDP_ATTACHED value → mode; index 0 (XDP_ATTACHED_NONE) has none. */
const MODES: readonly (XdpMode | undefined)[] = (() => {
  const m: (XdpMode | undefined)[] = [];
  m[XDP_ATTACHED.XDP_ATTACHED_NONE] = undefined;
  m[XDP_ATTACHED.XDP_ATTACHED_DRV] = 'driver';
  m[XDP_ATTACHED.XDP_ATTACHED_SKB] = 'generic';
  m[XDP_ATTACHED.XDP_ATTACHED_HW] = 'offload';
  m[XDP_ATTACHED.XDP_ATTACHED_MULTI] = 'multi';
  return m;
})();

/** Decodes the IFLA_XDP nest at `buf[off, off+len)`; `undefined` when nothing is attached. */
export function decodeLinkXdp(buf: Buffer, off: number, len: number): LinkXdp | undefined {
  const d: XdpDraft = {};
  walkAttrs(buf, off, off + len, XDP_ATTRS, d);
  if (d.attached === undefined || d.attached === XDP_ATTACHED.XDP_ATTACHED_NONE) return undefined;
  const mode = MODES[d.attached];
  if (mode === undefined) throw new ProtocolError(`IFLA_XDP_ATTACHED value ${d.attached} is not a known mode`);
  return {
    mode,
    ...(d.progId !== undefined ? { progId: d.progId } : {}),
    ...(d.driverProgId !== undefined ? { driverProgId: d.driverProgId } : {}),
    ...(d.genericProgId !== undefined ? { genericProgId: d.genericProgId } : {}),
    ...(d.offloadProgId !== undefined ? { offloadProgId: d.offloadProgId } : {}),
  };
}
