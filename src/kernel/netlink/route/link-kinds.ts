/**
 * Registry of per-kind link codecs (IFLA_INFO_DATA): decoding what the kernel
 * reports for a kind, and encoding what creating one needs. One small file
 * per kind under kinds/.
 */
import { ConfigError } from '../../../common/errors.ts';
import type { NlWriter } from '../writer.ts';
import { decodeBond, encodeBond } from './kinds/bond.ts';
import { decodeBridge, encodeBridge } from './kinds/bridge.ts';
import { decodeDummy } from './kinds/dummy.ts';
import { decodeIpvlan, encodeIpvlan } from './kinds/ipvlan.ts';
import { decodeMacvlan, encodeMacvlan } from './kinds/macvlan.ts';
import { decodeTun } from './kinds/tun.ts';
import { decodeVeth, encodeVeth } from './kinds/veth.ts';
import { decodeVlan, encodeVlan } from './kinds/vlan.ts';
import { decodeVrf, encodeVrf } from './kinds/vrf.ts';
import { decodeVxlan, encodeVxlan } from './kinds/vxlan.ts';
import { IFLA_INFO } from './link-constants.ts';
import type { LinkKindData, LinkKindSpec } from './link-types.ts';

type KindDecoder = (buf: Buffer, off: number, len: number) => LinkKindData;

/** IFLA_INFO_KIND → decoder of its IFLA_INFO_DATA; built once. */
const DECODERS: ReadonlyMap<string, KindDecoder> = new Map<string, KindDecoder>([
  ['veth', decodeVeth],
  ['vlan', decodeVlan],
  ['macvlan', (b, o, l) => decodeMacvlan(b, o, l, 'macvlan')],
  ['macvtap', (b, o, l) => decodeMacvlan(b, o, l, 'macvtap')],
  ['ipvlan', (b, o, l) => decodeIpvlan(b, o, l, 'ipvlan')],
  ['ipvtap', (b, o, l) => decodeIpvlan(b, o, l, 'ipvtap')],
  ['vxlan', decodeVxlan],
  ['bridge', decodeBridge],
  ['vrf', decodeVrf],
  ['bond', decodeBond],
  ['dummy', decodeDummy],
  ['tun', decodeTun],
]);

/** The kinds `decodeKindData` understands (others decode as `{kind:'other'}`). */
export const DECODED_KINDS: readonly string[] = [...DECODERS.keys()];

/**
 * Decodes IFLA_INFO_DATA of `kind` at `buf[off, off+len)` (len 0 when the
 * kernel sent none). Unknown kinds → `{kind:'other', name}`. Malformed data
 * raises a ProtocolError.
 */
export function decodeKindData(kind: string, buf: Buffer, off: number, len: number): LinkKindData {
  const decode = DECODERS.get(kind);
  return decode ? decode(buf, off, len) : { kind: 'other', name: kind };
}

/** Writes IFLA_INFO_KIND and IFLA_INFO_DATA for `spec` inside an open IFLA_LINKINFO nest. */
export function encodeKindSpec(w: NlWriter, spec: LinkKindSpec): void {
  w.attrString(IFLA_INFO.IFLA_INFO_KIND, spec.kind);
  if (spec.kind === 'dummy') return; // dummy takes no IFLA_INFO_DATA
  const data = w.nestStart(IFLA_INFO.IFLA_INFO_DATA);
  switch (spec.kind) {
    case 'veth': encodeVeth(w, spec); break;
    case 'vlan': encodeVlan(w, spec); break;
    case 'macvlan':
    case 'macvtap': encodeMacvlan(w, spec); break;
    case 'ipvlan': encodeIpvlan(w, spec); break;
    case 'vxlan': encodeVxlan(w, spec); break;
    case 'bridge': encodeBridge(w, spec); break;
    case 'vrf': encodeVrf(w, spec); break;
    case 'bond': encodeBond(w, spec); break;
    default: {
      const never: never = spec;
      throw new ConfigError(`encodeKindSpec: spec.kind ${JSON.stringify((never as { kind: unknown }).kind)} is not a kind netclaim can create`, {
        context: { field: 'spec.kind' },
      });
    }
  }
  w.nestEnd(data);
}
