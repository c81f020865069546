import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertDecoderTotal } from '../../../../test/fuzz/decoder-fuzz.ts';
import { ConfigError, ProtocolError } from '../../../common/errors.ts';
import { forEachAttr } from '../attrs.ts';
import { forEachMessage, type NlMessage } from '../message.ts';
import { NlWriter } from '../writer.ts';
import { encodeIfInfoMsg } from './ifinfomsg.ts';
import { decodeLink, encodeLinkChange } from './link-codec.ts';
import { IFF, IFLA, IFLA_XDP_ATTR } from './link-constants.ts';
import type { Link, LinkChange } from './link-types.ts';
import { decodeLinkXdp } from './link-xdp.ts';
import { goldenFixture } from '../../../../test/fixtures/golden.ts';

const fixture = (name: string): Buffer => goldenFixture(`link/${name}`);

/** Decodes the one message in `buf`. */
function decodeOne(buf: Buffer): Link {
  const out: Link[] = [];
  forEachMessage(buf, buf.length, (m) => { out.push(decodeLink(buf, m)); });
  if (out.length !== 1) throw new Error(`expected one message, got ${out.length}`);
  return out[0]!;
}

const FIXTURES = ['lo', 'ncv0', 'ncv1', 'ncbr0', 'ncvx0', 'ncv2', 'xdp-multi'] as const;
const seeds = FIXTURES.map(fixture);

/** What every device on this kernel reports alike (Linux 6.18 defaults). */
const DEFAULTS = {
  txQueueLen: 1000, group: 0, gsoMaxSegs: 65535, gsoMaxSize: 65536, groMaxSize: 65536,
  gsoIpv4MaxSize: 65536, groIpv4MaxSize: 65536, tsoMaxSize: 524280, tsoMaxSegs: 65535,
} as const;
const ETHER = { type: 1, minMtu: 68, maxMtu: 65535, broadcast: 'ff:ff:ff:ff:ff:ff' } as const;

describe('decodeLink: golden RTM_NEWLINK captured from Linux 6.18', () => {
  const without = ({ kindData: _k, ...rest }: Link) => rest;

  it('lo: loopback, no link info, no XDP', () => {
    expect(decodeOne(fixture('lo'))).toEqual({
      ...DEFAULTS, index: 1, name: 'lo', type: 772, flags: IFF.IFF_UP | IFF.IFF_LOOPBACK | IFF.IFF_RUNNING | IFF.IFF_LOWER_UP,
      up: true, operState: 'UNKNOWN', mtu: 65536, minMtu: 0, maxMtu: 0, altNames: [], numTxQueues: 1, numRxQueues: 1,
      carrier: true, mac: '00:00:00:00:00:00', broadcast: '00:00:00:00:00:00',
      netnsImmutable: true, // the kernel's own answer (IFLA_NETNS_IMMUTABLE): loopback never moves
    });
  });

  it('veth with alias, alternative name and MTU 9000; its peer is IFLA_LINK', () => {
    const l = decodeOne(fixture('ncv0'));
    expect(without(l)).toEqual({
      ...DEFAULTS, ...ETHER, index: 3, name: 'ncv0', flags: IFF.IFF_BROADCAST | IFF.IFF_MULTICAST, up: false,
      operState: 'DOWN', mtu: 9000, altNames: ['ncv0-alternative-name'], alias: 'pod uplink', numTxQueues: 2,
      numRxQueues: 2, carrier: false, mac: '02:00:00:00:00:01', kind: 'veth', link: 2, netnsImmutable: false,
    });
    expect(l.xdp).toBeUndefined();
  });

  it('veth enslaved to a bridge: master and slave kind', () => {
    const l = decodeOne(fixture('ncv1'));
    expect(l).toMatchObject({ index: 2, name: 'ncv1', kind: 'veth', slaveKind: 'bridge', master: 4, link: 3, mac: '02:00:00:00:00:02' });
    expect(l.alias).toBeUndefined();
  });

  it('bridge, up without carrier', () => {
    expect(without(decodeOne(fixture('ncbr0')))).toEqual({
      ...DEFAULTS, ...ETHER, index: 4, name: 'ncbr0', flags: IFF.IFF_UP | IFF.IFF_BROADCAST | IFF.IFF_MULTICAST,
      up: true, operState: 'DOWN', mtu: 1500, altNames: [], numTxQueues: 1, numRxQueues: 1, carrier: false,
      mac: '02:00:00:00:00:10', kind: 'bridge', netnsImmutable: true,
    });
  });

  it('vxlan: smaller TSO limit, kind data in IFLA_INFO_DATA', () => {
    const l = decodeOne(fixture('ncvx0'));
    expect(without(l)).toEqual({
      ...DEFAULTS, ...ETHER, tsoMaxSize: 65536, index: 5, name: 'ncvx0', flags: IFF.IFF_BROADCAST | IFF.IFF_MULTICAST,
      up: false, operState: 'DOWN', mtu: 1500, altNames: [], numTxQueues: 1, numRxQueues: 1, carrier: true,
      mac: '02:00:00:00:00:20', kind: 'vxlan', netnsImmutable: false,
    });
  });

  it('veth whose peer lives in another namespace: IFLA_LINK_NETNSID', () => {
    expect(decodeOne(fixture('ncv2'))).toMatchObject({ index: 6, name: 'ncv2', kind: 'veth', link: 2, linkNetnsId: 0 });
  });

  it('per-kind data: veth peer index, vxlan id/port/local, bridge', () => {
    expect(decodeOne(fixture('ncv0')).kindData).toEqual({ kind: 'veth', peerIndex: 2 });
    expect(decodeOne(fixture('ncv2')).kindData).toEqual({ kind: 'veth', peerIndex: 2 });
    expect(decodeOne(fixture('ncvx0')).kindData).toMatchObject({ kind: 'vxlan', id: 42, port: 4789, local: '10.0.0.1', learning: true });
    expect(decodeOne(fixture('ncbr0')).kindData).toMatchObject({ kind: 'bridge' });
  });

  it('always calls the kind registry when IFLA_INFO_KIND is present', () => {
    for (const n of ['ncv0', 'ncbr0', 'ncvx0'] as const) expect(decodeOne(fixture(n)).kindData).toBeDefined();
    expect(decodeOne(fixture('lo')).kindData).toBeUndefined();
  });
});

/** A link message with `body` after IFLA_IFNAME, built with the writer. */
function linkMessage(body: (w: NlWriter) => void, index = 7): Buffer {
  const w = new NlWriter().beginMessage(16, 2);
  encodeIfInfoMsg(w, { type: 1, index });
  w.attrString(IFLA.IFLA_IFNAME, 'ncx0');
  body(w);
  w.endMessage();
  return Buffer.from(w.bytes);
}

describe('decodeLink: hand-built attributes (hardware NICs, XDP)', () => {
  it('XDP in two modes (hand-written fixture)', () => {
    expect(decodeOne(fixture('xdp-multi')).xdp).toEqual({ mode: 'multi', genericProgId: 17, driverProgId: 18 });
  });

  it('XDP modes: driver, generic, offload; NONE decodes to absent', () => {
    const xdp = (attached: number, ids: [number, number][]) => decodeOne(linkMessage((w) => {
      const n = w.nestStart(IFLA.IFLA_XDP);
      w.attrU8(IFLA_XDP_ATTR.IFLA_XDP_ATTACHED, attached);
      for (const [t, v] of ids) w.attrU32(t, v);
      w.nestEnd(n);
    })).xdp;
    const { IFLA_XDP_PROG_ID: P, IFLA_XDP_DRV_PROG_ID: D, IFLA_XDP_SKB_PROG_ID: S, IFLA_XDP_HW_PROG_ID: H } = IFLA_XDP_ATTR;
    expect(xdp(1, [[D, 5], [P, 5]])).toEqual({ mode: 'driver', progId: 5, driverProgId: 5 });
    expect(xdp(2, [[S, 6], [P, 6]])).toEqual({ mode: 'generic', progId: 6, genericProgId: 6 });
    expect(xdp(3, [[H, 9], [P, 9]])).toEqual({ mode: 'offload', progId: 9, offloadProgId: 9 });
    expect(xdp(0, [])).toBeUndefined();
    expect(() => xdp(9, [])).toThrow(ProtocolError);
  });

  it('a PCI NIC: permanent MAC, parent device and bus, port names and ids, VFs', () => {
    const l = decodeOne(linkMessage((w) => {
      w.attrBytes(IFLA.IFLA_PERM_ADDRESS, Buffer.from('b8cef6000102', 'hex'));
      w.attrString(IFLA.IFLA_PARENT_DEV_NAME, '0000:3b:00.0');
      w.attrString(IFLA.IFLA_PARENT_DEV_BUS_NAME, 'pci');
      w.attrString(IFLA.IFLA_PHYS_PORT_NAME, 'p0');
      w.attrBytes(IFLA.IFLA_PHYS_PORT_ID, Buffer.from('00112233', 'hex'));
      w.attrBytes(IFLA.IFLA_PHYS_SWITCH_ID, Buffer.from('aabbccddeeff0011', 'hex'));
      w.attrU32(IFLA.IFLA_NUM_VF, 8);
      w.attrU8(IFLA.IFLA_OPERSTATE, 6);
      w.attrU8(IFLA.IFLA_CARRIER, 1);
      w.attrU8(IFLA.IFLA_NETNS_IMMUTABLE, 1); // 67 (6.15+): an mlx5 uplink in switchdev mode
    }));
    expect(l).toEqual({
      index: 7, name: 'ncx0', type: 1, flags: 0, up: false, operState: 'UP', mtu: 0, altNames: [],
      permMac: 'b8:ce:f6:00:01:02', parentDevName: '0000:3b:00.0', parentDevBusName: 'pci', physPortName: 'p0',
      physPortId: '00112233', physSwitchId: 'aabbccddeeff0011', numVf: 8, carrier: true, netnsImmutable: true,
    });
  });

  it('rejects a message without a name, with ifindex 0, or with a short ifinfomsg', () => {
    const m = (buf: Buffer): NlMessage => ({ type: 16, flags: 0, seq: 0, pid: 0, off: 0, len: buf.length });
    const noName = Buffer.alloc(16);
    noName.writeInt32LE(3, 4);
    expect(() => decodeLink(noName, m(noName))).toThrow(/IFLA_IFNAME/);
    expect(() => decodeLink(Buffer.alloc(16), m(Buffer.alloc(16)))).toThrow(ProtocolError);
    expect(() => decodeLink(Buffer.alloc(8), m(Buffer.alloc(8)))).toThrow(ProtocolError);
  });
});

describe('encodeLinkChange', () => {
  it('writes one RTM_NEWLINK: move + rename + MTU + MAC + up, exact bytes', () => {
    const w = new NlWriter();
    encodeLinkChange(w, 5, { netnsFd: 7, name: 'ncx1', mtu: 1400, mac: '02:00:00:00:00:AA', up: true });
    expect(w.bytes.toString('hex')).toBe([
      '48000000', '1000', '0000', '00000000', '00000000', // nlmsghdr: len 72, RTM_NEWLINK
      '00', '00', '0000', '05000000', '01000000', '01000000', // ifinfomsg: index 5, flags/change IFF_UP
      '08001c00', '07000000', // IFLA_NET_NS_FD 7
      '09000300', '6e63783100', '000000', // IFLA_IFNAME "ncx1"
      '08000400', '78050000', // IFLA_MTU 1400
      '0a000100', '0200000000aa', '0000', // IFLA_ADDRESS
    ].join(''));
  });

  it('down sets IFF_UP in change only; RTM_SETLINK on request; an empty alias has no payload', () => {
    const w = new NlWriter();
    encodeLinkChange(w, 2, { up: false, alias: '' }, 19);
    expect(w.bytes.toString('hex')).toBe('24000000' + '1300' + '0000' + '0'.repeat(16)
      + '0000' + '0000' + '02000000' + '00000000' + '01000000' + '04001400');
  });

  const change = fc.record({
    name: fc.stringMatching(/^[a-z0-9_.-]{3,15}$/),
    mtu: fc.integer({ min: 1, max: 0x7fffffff }),
    mac: fc.uint8Array({ minLength: 6, maxLength: 20 }).map((a) => [...a].map((b) => b.toString(16).padStart(2, '0')).join(':')),
    alias: fc.string({ maxLength: 80 }).filter((s) => !s.includes('\0') && Buffer.byteLength(s) <= 255),
    up: fc.boolean(),
    txQueueLen: fc.nat(),
    gsoMaxSize: fc.nat(), gsoMaxSegs: fc.nat(), groMaxSize: fc.nat(), gsoIpv4MaxSize: fc.nat(), groIpv4MaxSize: fc.nat(),
    master: fc.nat({ max: 0x7fffffff }),
    netnsFd: fc.nat({ max: 0x7fffffff }),
  }, { requiredKeys: ['name'] });

  it('round trip: what the request carries decodes back to the same fields', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 0x7fffffff }), change, (index, c) => {
      const w = new NlWriter();
      encodeLinkChange(w, index, c as LinkChange);
      const l = decodeOne(Buffer.from(w.bytes));
      const expected: Record<string, unknown> = { ...c };
      delete expected['netnsFd'];
      expect(l).toMatchObject(expected);
      expect(l.index).toBe(index);
      if (c.up === undefined) expect(l.flags).toBe(0);
      let fd: number | undefined;
      forEachAttr(w.bytes, 32, w.length, (t, o) => { if (t === IFLA.IFLA_NET_NS_FD) fd = w.bytes.readUInt32LE(o); });
      expect(fd).toBe(c.netnsFd);
    }), { numRuns: 300 });
  });

  it.each([
    [{ name: '' }, 'name'], [{ name: 'a-name-of-16-chr' }, 'name'], [{ name: 'a/b' }, 'name'], [{ name: 'a b' }, 'name'],
    [{ name: 'a:b' }, 'name'], [{ name: '..' }, 'name'], [{ mtu: 0 }, 'mtu'], [{ mtu: 1500.5 }, 'mtu'], [{ mtu: -1 }, 'mtu'],
    [{ mac: '02:00:00:00:00' + ':zz' }, 'mac'], [{ mac: '2:0:0:0:0:1' }, 'mac'], [{ mac: '' }, 'mac'],
    [{ alias: 'x'.repeat(256) }, 'alias'], [{ txQueueLen: -1 }, 'txQueueLen'], [{ gsoMaxSize: 2 ** 32 }, 'gsoMaxSize'],
    [{ groMaxSize: Number.NaN }, 'groMaxSize'], [{ master: -3 }, 'master'], [{ netnsFd: 1.5 }, 'netnsFd'],
  ] as [LinkChange, string][])('rejects %j naming the field %s, writing nothing', (c, field) => {
    const w = new NlWriter();
    expect(() => encodeLinkChange(w, 3, { mtu: 1500, ...c })).toThrow(ConfigError);
    try { encodeLinkChange(w, 3, c); } catch (e) { expect((e as ConfigError).context['field']).toBe(field); }
    expect(w.length).toBe(0);
  });

  it('rejects an ifindex that is not a positive integer', () => {
    expect(() => encodeLinkChange(new NlWriter(), 0, { up: true })).toThrow(/index/);
  });
});

describe('decoders are total (fuzz)', () => {
  it('decodeLink over whole messages', () => {
    assertDecoderTotal((buf) => forEachMessage(buf, buf.length, (m) => { decodeLink(buf, m); }), seeds);
  });

  it('decodeLink over raw payloads', () => {
    const payloads = seeds.map((s) => s.subarray(16));
    assertDecoderTotal((buf) => decodeLink(buf, { type: 16, flags: 0, seq: 0, pid: 0, off: 0, len: buf.length }), payloads);
  });

  it('decodeLinkXdp', () => {
    const nest = fixture('xdp-multi').subarray(48);
    assertDecoderTotal((buf) => decodeLinkXdp(buf, 0, buf.length), [nest]);
  });
});
