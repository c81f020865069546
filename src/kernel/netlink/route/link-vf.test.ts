import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertDecoderTotal } from '../../../../test/fuzz/decoder-fuzz.ts';
import { ConfigError, ProtocolError } from '../../../common/errors.ts';
import { forEachAttr } from '../attrs.ts';
import { forEachMessage } from '../message.ts';
import { NlWriter } from '../writer.ts';
import { decodeLink } from './link-codec.ts';
import { IFLA } from './link-constants.ts';
import type { Link, LinkVf } from './link-types.ts';
import { IFLA_VF, IFLA_VF_INFO, decodeVfInfoList, encodeVfInfoList } from './link-vf.ts';
import { goldenFixture } from '../../../../test/fixtures/golden.ts';

const FIXTURE = goldenFixture('link/netdevsim-pf-vfs');

function decodeOne(buf: Buffer): Link {
  const out: Link[] = [];
  forEachMessage(buf, buf.length, (m) => { out.push(decodeLink(buf, m)); });
  if (out.length !== 1) throw new Error(`expected one message, got ${out.length}`);
  return out[0]!;
}

/** The payload region of the fixture's IFLA_VFINFO_LIST. */
function vfListRegion(buf: Buffer): { off: number; len: number } {
  let r: { off: number; len: number } | undefined;
  forEachAttr(buf, 32, buf.length, (t, off, len) => { if (t === IFLA.IFLA_VFINFO_LIST) r = { off, len }; });
  if (r === undefined) throw new Error('fixture has no IFLA_VFINFO_LIST');
  return r;
}

/** Encodes `vfs` and returns the IFLA_VFINFO_LIST payload. */
function encoded(vfs: readonly LinkVf[]): Buffer {
  const w = new NlWriter();
  encodeVfInfoList(w, vfs);
  return Buffer.from(w.bytes.subarray(4, w.length));
}

const decodeAll = (b: Buffer, addrLen?: number): LinkVf[] => decodeVfInfoList(b, 0, b.length, addrLen);

/** What `ip link set vf` configured before the capture (see the fixture's header). */
const CAPTURED_VFS: readonly LinkVf[] = [
  {
    index: 0, mac: '00:00:00:00:00:00', vlan: 5, qos: 0, vlanProtocol: '802.1ad', minTxRate: 50, maxTxRate: 200,
    spoofChk: false, linkState: 'auto', rssQueryEn: true, trust: false,
  },
  {
    index: 1, mac: '02:11:22:33:44:55', vlan: 7, qos: 3, vlanProtocol: '802.1Q', minTxRate: 0, maxTxRate: 0,
    spoofChk: true, linkState: 'disable', rssQueryEn: false, trust: true,
  },
];

describe('decodeVfInfoList: golden netdevsim PF captured from Linux 6.1 (QEMU lane)', () => {
  it('decodeLink fills numVf and vfs, next to the parent device and switch port', () => {
    const l = decodeOne(FIXTURE);
    expect(l).toMatchObject({
      index: 2, name: 'eth0', mac: '02:00:00:00:00:aa', numVf: 2, parentDevName: 'netdevsim4242',
      parentDevBusName: 'netdevsim', physPortName: 'p1',
    });
    expect(l.physSwitchId).toMatch(/^[0-9a-f]{64}$/);
    expect(l.vfs).toEqual(CAPTURED_VFS);
  });

  it('decodes the nest alone; the address length picks the MAC bytes', () => {
    const { off, len } = vfListRegion(FIXTURE);
    expect(decodeVfInfoList(FIXTURE, off, len)).toEqual(CAPTURED_VFS);
    const ib = decodeVfInfoList(FIXTURE, off, len, 20);
    expect(ib[1]!.mac).toBe(`02:11:22:33:44:55${':00'.repeat(14)}`);
    expect(decodeVfInfoList(FIXTURE, off, len, 0)[1]!.mac).toBeUndefined();
    expect(decodeVfInfoList(FIXTURE, off, len, 99)[1]!.mac!.split(':')).toHaveLength(32);
  });

  it('an empty list (a PF with no VFs enabled) decodes to []; non-VF entries are skipped', () => {
    expect(decodeAll(Buffer.alloc(0))).toEqual([]);
    expect(decodeAll(Buffer.from('0800020001000000', 'hex'))).toEqual([]);
  });
});

/** One IFLA_VF_INFO with raw struct attributes `[type, ...u32]`. */
function vfInfo(...attrs: [number, ...number[]][]): Buffer {
  const w = new NlWriter();
  const info = w.nestStart(IFLA_VF_INFO.IFLA_VF_INFO, false);
  for (const [type, ...v] of attrs) {
    const t = w.nestStart(type, false);
    for (const x of v) w.u32(x);
    w.nestEnd(t);
  }
  w.nestEnd(info);
  return Buffer.from(w.bytes);
}

describe('decodeVfInfoList: hand-built (IB GUIDs, unreported settings, old kernels, malformed)', () => {
  it('IB node and port GUIDs, most significant byte first, as iproute2 prints them', () => {
    // struct ifla_vf_guid { u32 vf; u64 guid; }: the guid sits at offset 8.
    const lo = 0x44556677; const hi = 0x00112233;
    const [vf] = decodeAll(vfInfo([IFLA_VF.IFLA_VF_IB_NODE_GUID, 3, 0, lo, hi], [IFLA_VF.IFLA_VF_IB_PORT_GUID, 3, 0, lo + 1, hi]));
    expect(vf).toEqual({ index: 3, nodeGuid: '00:11:22:33:44:55:66:77', portGuid: '00:11:22:33:44:55:66:78' });
  });

  it('a setting of -1 (driver did not report it) is absent; any nonzero value is true', () => {
    const [vf] = decodeAll(vfInfo(
      [IFLA_VF.IFLA_VF_SPOOFCHK, 1, 0xffffffff], [IFLA_VF.IFLA_VF_TRUST, 1, 2], [IFLA_VF.IFLA_VF_RSS_QUERY_EN, 1, 0xffffffff],
    ));
    expect(vf).toEqual({ index: 1, trust: true });
  });

  it('IFLA_VF_TX_RATE alone (kernels before 3.16) is the max rate; IFLA_VF_RATE wins when present', () => {
    expect(decodeAll(vfInfo([IFLA_VF.IFLA_VF_TX_RATE, 0, 300]))).toEqual([{ index: 0, maxTxRate: 300 }]);
    expect(decodeAll(vfInfo([IFLA_VF.IFLA_VF_TX_RATE, 0, 300], [IFLA_VF.IFLA_VF_RATE, 0, 10, 20])))
      .toEqual([{ index: 0, minTxRate: 10, maxTxRate: 20 }]);
  });

  it('IFLA_VF_VLAN alone has no protocol', () => {
    expect(decodeAll(vfInfo([IFLA_VF.IFLA_VF_VLAN, 2, 100, 5]))).toEqual([{ index: 2, vlan: 100, qos: 5 }]);
  });

  it('rejects short structs, VF numbers that disagree, unknown link states and entries with no struct', () => {
    expect(() => decodeAll(vfInfo([IFLA_VF.IFLA_VF_MAC, 0, 0]))).toThrow(/IFLA_VF_MAC needs 36 bytes/);
    expect(() => decodeAll(vfInfo([IFLA_VF.IFLA_VF_RATE, 0, 1]))).toThrow(ProtocolError);
    expect(() => decodeAll(vfInfo([IFLA_VF.IFLA_VF_TRUST, 0, 1], [IFLA_VF.IFLA_VF_SPOOFCHK, 1, 1]))).toThrow(/VF 1 inside VF 0/);
    expect(() => decodeAll(vfInfo([IFLA_VF.IFLA_VF_LINK_STATE, 0, 3]))).toThrow(/not a known state/);
    expect(() => decodeAll(vfInfo())).toThrow(/without any VF struct/);
    expect(() => decodeAll(vfInfo([IFLA_VF.IFLA_VF_STATS]))).toThrow(ProtocolError);
  });
});

describe('encodeVfInfoList', () => {
  it('writes the form `ip link set vf` sends, exact bytes', () => {
    const hex = encoded([{ index: 1, mac: '02:11:22:33:44:55', vlan: 7, qos: 3, spoofChk: true, trust: true, linkState: 'disable' }])
      .toString('hex');
    expect(hex.slice(0, 8)).toBe('60000100'); // IFLA_VF_INFO, 96 bytes
    expect(hex.slice(8)).toBe([
      '28000100', '01000000', '021122334455', '00'.repeat(26), // IFLA_VF_MAC {vf 1, mac[32]}
      '10000200', '01000000', '07000000', '03000000', // IFLA_VF_VLAN {vf 1, vlan 7, qos 3}
      '0c000400', '01000000', '01000000', // IFLA_VF_SPOOFCHK on
      '0c000500', '01000000', '02000000', // IFLA_VF_LINK_STATE disable
      '0c000900', '01000000', '01000000', // IFLA_VF_TRUST on
    ].join(''));
  });

  it('a VLAN protocol goes out as IFLA_VF_VLAN_LIST (be16 protocol, padded to 16); rates together', () => {
    expect(encoded([{ index: 0, vlan: 5, vlanProtocol: '802.1ad', maxTxRate: 200 }]).toString('hex')).toBe([
      '2c000100', // IFLA_VF_INFO, 44 bytes
      '18000c00', '14000100', '00000000', '05000000', '00000000', '88a8', '0000', // VLAN_LIST > VLAN_INFO
      '10000600', '00000000', '00000000', 'c8000000', // IFLA_VF_RATE {vf 0, min 0, max 200}
    ].join(''));
  });

  it('refuses a malformed MAC with ConfigError', () => {
    expect(() => encoded([{ index: 0, mac: 'nope' }])).toThrow(ConfigError);
  });

  const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((a) => [...a].map((b) => b.toString(16).padStart(2, '0')).join(':'));
  const u32 = fc.nat({ max: 0xffff_fffe });
  const vlanPart = fc.option(fc.record({
    vlan: fc.integer({ min: 0, max: 4095 }), qos: fc.integer({ min: 0, max: 7 }),
    vlanProtocol: fc.option(fc.constantFrom('802.1Q' as const, '802.1ad' as const), { nil: undefined }),
  }), { nil: undefined });
  const ratePart = fc.option(fc.record({ minTxRate: u32, maxTxRate: u32 }), { nil: undefined });
  const vf = fc.tuple(
    fc.nat({ max: 1023 }), vlanPart, ratePart,
    fc.record({
      mac, spoofChk: fc.boolean(), trust: fc.boolean(), rssQueryEn: fc.boolean(),
      linkState: fc.constantFrom('auto' as const, 'enable' as const, 'disable' as const),
    }, { requiredKeys: ['mac'] }),
  ).map(([index, v, r, rest]): LinkVf => {
    const out: Record<string, unknown> = { index, ...rest, ...r };
    if (v !== undefined) {
      out['vlan'] = v.vlan; out['qos'] = v.qos;
      if (v.vlanProtocol !== undefined) out['vlanProtocol'] = v.vlanProtocol;
    }
    return out as unknown as LinkVf;
  });

  it('round trip: encoded VFs decode back to the same records', () => {
    fc.assert(fc.property(fc.array(vf, { maxLength: 8 }), (vfs) => {
      expect(decodeAll(encoded(vfs))).toEqual(vfs);
    }));
  });

  it('fuzz: decodeVfInfoList and decodeLink only throw ProtocolError', () => {
    const { off, len } = vfListRegion(FIXTURE);
    const seeds = [
      Buffer.from(FIXTURE.subarray(off, off + len)),
      encoded([{ index: 0, vlan: 5, vlanProtocol: '802.1ad', minTxRate: 1, maxTxRate: 2 }]),
      vfInfo([IFLA_VF.IFLA_VF_IB_NODE_GUID, 3, 0, 1, 2], [IFLA_VF.IFLA_VF_LINK_STATE, 3, 1]),
    ];
    assertDecoderTotal((b) => decodeAll(b), seeds);
    assertDecoderTotal((b) => decodeAll(b, 20), seeds, 500);
    assertDecoderTotal((b) => { forEachMessage(b, b.length, (m) => { decodeLink(b, m); }); }, [FIXTURE], 1000);
  });
});
