/**
 * Removing an XDP program over rtnetlink: RTM_SETLINK with
 * IFLA_XDP{IFLA_XDP_FD = -1, IFLA_XDP_FLAGS = the mode's XDP_FLAGS_*_MODE}.
 * Each mode (driver, generic, offload) holds its own program and is
 * detached on its own. Nothing attached in that mode is not an error. A
 * bpf_link owning the attachment makes the kernel answer EBUSY ("Can't
 * replace active BPF XDP link"): detach the link instead (ebpf-detach.ts).
 */
import type { NetnsHandle } from '../netns/handle.ts';
import { encodeIfInfoMsg } from '../netlink/route/ifinfomsg.ts';
import { IFLA, IFLA_XDP_ATTR } from '../netlink/route/link-constants.ts';
import { RTM } from '../netlink/route/rtnl-constants.ts';
import type { NlWriter } from '../netlink/writer.ts';
import { XDP_FLAGS } from './bpf-constants.ts';
import type { XdpProgram } from './ebpf-types.ts';

/** The IFLA_XDP_FLAGS mode bit of each attach mode. */
export const XDP_MODE_FLAGS: Readonly<Record<XdpProgram['mode'], number>> = {
  driver: XDP_FLAGS.XDP_FLAGS_DRV_MODE,
  generic: XDP_FLAGS.XDP_FLAGS_SKB_MODE,
  offload: XDP_FLAGS.XDP_FLAGS_HW_MODE,
};

/** RTM_SETLINK for interface `ifindex` with IFLA_XDP{FD = -1, FLAGS = mode}. */
export function encodeXdpDetach(w: NlWriter, ifindex: number, mode: XdpProgram['mode']): NlWriter {
  w.beginMessage(RTM.RTM_SETLINK, 0);
  encodeIfInfoMsg(w, { index: ifindex });
  const nest = w.nestStart(IFLA.IFLA_XDP);
  w.attrS32(IFLA_XDP_ATTR.IFLA_XDP_FD, -1).attrU32(IFLA_XDP_ATTR.IFLA_XDP_FLAGS, XDP_MODE_FLAGS[mode]);
  w.nestEnd(nest).endMessage();
  return w;
}

/**
 * Detaches the XDP program of `mode` from an interface of `h`'s namespace.
 * Equivalent to: `ip link set dev X xdpdrv|xdpgeneric|xdpoffload off`
 */
export function xdpDetachNetlink(h: NetnsHandle, ifindex: number, mode: XdpProgram['mode']): void {
  h.route.request(encodeXdpDetach(h.route.writer.reset(), ifindex, mode), 'RTM_SETLINK');
}
