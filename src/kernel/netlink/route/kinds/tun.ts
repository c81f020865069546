/**
 * tun/tap (drivers/net/tun.c): IFLA_INFO_KIND `tun` for both; IFLA_TUN_TYPE
 * tells them apart. Decode only: tun devices are made with TUNSETIFF, not
 * RTM_NEWLINK.
 */
import { attrTable, readU8, walkAttrs } from '../../attrs.ts';
import type { TunData } from '../link-types.ts';

export const IFLA_TUN = {
  IFLA_TUN_OWNER: 1, IFLA_TUN_GROUP: 2, IFLA_TUN_TYPE: 3, IFLA_TUN_PI: 4, IFLA_TUN_VNET_HDR: 5,
  IFLA_TUN_PERSIST: 6, IFLA_TUN_MULTI_QUEUE: 7, IFLA_TUN_NUM_QUEUES: 8, IFLA_TUN_NUM_DISABLED_QUEUES: 9,
} as const;

/** IFLA_TUN_TYPE values (linux/if_tun.h IFF_TUN / IFF_TAP). */
export const TUN_TYPE = { IFF_TUN: 0x0001, IFF_TAP: 0x0002 } as const;

interface Out { type?: number }
const TABLE = attrTable<Out>({
  [IFLA_TUN.IFLA_TUN_TYPE]: (b, o, l, out) => { out.type = readU8(b, o, l); },
});

export function decodeTun(buf: Buffer, off: number, len: number): TunData {
  const out: Out = {};
  walkAttrs(buf, off, off + len, TABLE, out);
  const type = out.type === TUN_TYPE.IFF_TUN ? 'tun' : out.type === TUN_TYPE.IFF_TAP ? 'tap' : undefined;
  return { kind: 'tun', ...(type !== undefined ? { type } : {}) };
}
