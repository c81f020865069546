/**
 * A link's error counters: IFLA_STATS64 (`struct rtnl_link_stats64`,
 * include/uapi/linux/if_link.h, Linux 6.18) and IFLA_CARRIER_CHANGES, read
 * with one RTM_GETLINK that does not skip statistics (the link dumps and
 * `linkGet` skip them: RTEXT_FILTER_SKIP_STATS keeps the inventory's replies small).
 * What `ip -s link show dev X` prints.
 */
import { NotFoundError } from '../../../common/errors.ts';
import type { IfIndex } from '../../../common/ids.ts';
import { KernelError } from '../../errors.ts';
import type { NetnsHandle } from '../../netns/handle.ts';
import { attrTable, readU32, walkAttrs } from '../attrs.ts';
import type { NlMessage } from '../message.ts';
import { encodeIfInfoMsg } from './ifinfomsg.ts';
import { IFINFOMSG_LEN, IFLA } from './link-constants.ts';
import { checkUint } from './link-validate.ts';
import { RTM } from './rtnl-constants.ts';

/**
 * The `struct rtnl_link_stats64` fields netclaim reads, by their kernel
 * names, with their u64 index in the struct (the struct only grows at its end).
 */
export const LINK_STATS64_FIELDS = {
  rx_packets: 0, tx_packets: 1, rx_errors: 4, tx_errors: 5, rx_dropped: 6, tx_dropped: 7,
  rx_crc_errors: 12, rx_frame_errors: 13, rx_fifo_errors: 14, rx_missed_errors: 15, tx_carrier_errors: 17,
} as const;
export type LinkStatName = keyof typeof LINK_STATS64_FIELDS;

/** Counters as the kernel reports them; a field the kernel did not send is absent. */
export type LinkCounters = Partial<Record<LinkStatName | 'carrier_changes', number>>;

const FIELDS = Object.entries(LINK_STATS64_FIELDS) as [LinkStatName, number][];

/**
 * Decodes the counters of an RTM_NEWLINK message. u64 values past 2^53 lose
 * precision as numbers; error counters never get there, packet counts would
 * take decades at line rate.
 */
export function decodeLinkCounters(buf: Buffer, m: NlMessage): LinkCounters {
  const out: LinkCounters = {};
  walkAttrs(buf, m.off + IFINFOMSG_LEN, m.off + m.len, COUNTER_ATTRS, out);
  return out;
}

const COUNTER_ATTRS = attrTable<LinkCounters>({
  [IFLA.IFLA_STATS64]: (b, o, l, c) => {
    for (const [name, i] of FIELDS) if ((i + 1) * 8 <= l) c[name] = Number(b.readBigUInt64LE(o + i * 8));
  },
  [IFLA.IFLA_CARRIER_CHANGES]: (b, o, l, c) => { c.carrier_changes = readU32(b, o, l); },
});

/**
 * The error counters of one link by ifindex; a missing link throws NotFoundError.
 * Equivalent to: `ip -s link show dev X`
 */
export function linkCountersGet(h: NetnsHandle, index: IfIndex | number): LinkCounters {
  checkUint(index, 'index', 1, 0x7fff_ffff);
  const w = h.route.writer.reset().beginMessage(RTM.RTM_GETLINK, 0);
  encodeIfInfoMsg(w, { index });
  w.endMessage();
  let found: LinkCounters | undefined;
  try {
    h.route.request(h.route.writer, 'RTM_GETLINK', (buf, m) => { if (m.type === RTM.RTM_NEWLINK) found ??= decodeLinkCounters(buf, m); });
  } catch (err) {
    if (err instanceof KernelError && err.errnoName === 'ENODEV') {
      throw new NotFoundError(`link ifindex ${index} not found in netns ${h.path}`, { cause: err, context: { netns: h.path } });
    }
    throw err;
  }
  if (found === undefined) throw new NotFoundError(`link ifindex ${index}: the kernel sent no RTM_NEWLINK reply`);
  return found;
}
