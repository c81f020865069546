/** VRF (drivers/net/vrf.c): one attribute, the routing table (never 0, RT_TABLE_UNSPEC). */
import { ProtocolError } from '../../../../common/errors.ts';
import { attrTable, readU32, walkAttrs } from '../../attrs.ts';
import type { NlWriter } from '../../writer.ts';
import type { LinkKindSpec, VrfData } from '../link-types.ts';

export const IFLA_VRF = { IFLA_VRF_TABLE: 1 } as const;

export type VrfSpec = Extract<LinkKindSpec, { kind: 'vrf' }>;

export function encodeVrf(w: NlWriter, spec: VrfSpec): void {
  w.attrU32(IFLA_VRF.IFLA_VRF_TABLE, spec.table);
}

interface Out { table?: number }
const TABLE = attrTable<Out>({
  [IFLA_VRF.IFLA_VRF_TABLE]: (b, o, l, out) => { out.table = readU32(b, o, l); },
});

export function decodeVrf(buf: Buffer, off: number, len: number): VrfData {
  const out: Out = {};
  walkAttrs(buf, off, off + len, TABLE, out);
  if (out.table === undefined) throw new ProtocolError('vrf: IFLA_VRF_TABLE missing');
  return { kind: 'vrf', table: out.table };
}
