/**
 * macvlan and macvtap (drivers/net/macvlan.c, macvtap.c share one netlink
 * layout). The parent goes in IFLA_LINK. Without IFLA_MACVLAN_MODE the
 * kernel uses vepa.
 */
import { ProtocolError } from '../../../../common/errors.ts';
import { attrTable, readU32, walkAttrs } from '../../attrs.ts';
import type { NlWriter } from '../../writer.ts';
import type { LinkKindSpec, MacvlanData, MacvlanMode } from '../link-types.ts';

export const IFLA_MACVLAN = {
  IFLA_MACVLAN_MODE: 1, IFLA_MACVLAN_FLAGS: 2, IFLA_MACVLAN_MACADDR_MODE: 3, IFLA_MACVLAN_MACADDR: 4,
  IFLA_MACVLAN_MACADDR_DATA: 5, IFLA_MACVLAN_MACADDR_COUNT: 6, IFLA_MACVLAN_BC_QUEUE_LEN: 7,
  IFLA_MACVLAN_BC_QUEUE_LEN_USED: 8, IFLA_MACVLAN_BC_CUTOFF: 9,
} as const;

export const MACVLAN_MODE = {
  MACVLAN_MODE_PRIVATE: 1, MACVLAN_MODE_VEPA: 2, MACVLAN_MODE_BRIDGE: 4, MACVLAN_MODE_PASSTHRU: 8, MACVLAN_MODE_SOURCE: 16,
} as const;

const MODE_VALUE: Readonly<Record<MacvlanMode, number>> = {
  private: MACVLAN_MODE.MACVLAN_MODE_PRIVATE,
  vepa: MACVLAN_MODE.MACVLAN_MODE_VEPA,
  bridge: MACVLAN_MODE.MACVLAN_MODE_BRIDGE,
  passthru: MACVLAN_MODE.MACVLAN_MODE_PASSTHRU,
  source: MACVLAN_MODE.MACVLAN_MODE_SOURCE,
};
const MODE_NAME: ReadonlyMap<number, MacvlanMode> = new Map(
  Object.entries(MODE_VALUE).map(([k, v]) => [v, k as MacvlanMode] as const),
);

export type MacvlanSpec = Extract<LinkKindSpec, { kind: 'macvlan' | 'macvtap' }>;

export function encodeMacvlan(w: NlWriter, spec: MacvlanSpec): void {
  if (spec.mode !== undefined) w.attrU32(IFLA_MACVLAN.IFLA_MACVLAN_MODE, MODE_VALUE[spec.mode]);
}

interface Out { mode?: number }
const TABLE = attrTable<Out>({
  [IFLA_MACVLAN.IFLA_MACVLAN_MODE]: (b, o, l, out) => { out.mode = readU32(b, o, l); },
});

export function decodeMacvlan(buf: Buffer, off: number, len: number, kind: 'macvlan' | 'macvtap' = 'macvlan'): MacvlanData {
  const out: Out = {};
  walkAttrs(buf, off, off + len, TABLE, out);
  const mode = MODE_NAME.get(out.mode ?? MACVLAN_MODE.MACVLAN_MODE_VEPA);
  if (mode === undefined) throw new ProtocolError(`${kind}: unknown IFLA_MACVLAN_MODE ${out.mode}`);
  return { kind, mode };
}
