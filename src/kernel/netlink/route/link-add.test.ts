import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../common/errors.ts';
import { ifIndex } from '../../../common/ids.ts';
import { NlWriter } from '../writer.ts';
import { validateLinkAddSpec } from './link-add-validate.ts';
import { encodeLinkAdd, encodeLinkDelete } from './link-add.ts';
import type { LinkAddSpec } from './link-types.ts';

/** Hex with spaces and `|` separators for readability. */
const hex = (...parts: string[]): string => parts.join('').replace(/[\s|]/g, '');
const request = (s: LinkAddSpec): string => encodeLinkAdd(new NlWriter(), s).bytes.toString('hex');

// nlmsghdr: len u32, type u16 (RTM_NEWLINK 0x10), flags u16 (NLM_F_CREATE|NLM_F_EXCL 0x0600), seq 0, pid 0
// (the socket stamps NLM_F_REQUEST|NLM_F_ACK, seq and pid at send time).
// ifinfomsg: family u8, pad u8, type u16, index s32, flags u32, change u32.
// nlattr: len u16 (header + payload, unpadded), type u16 (NLA_F_NESTED 0x8000 on nests), payload padded to 4.
describe('encodeLinkAdd: exact request bytes', () => {
  it('veth with its peer in another netns, up, mtu and macs', () => {
    const s: LinkAddSpec = {
      name: 'ncv0', up: true, mtu: 1400, mac: '02:00:00:00:00:01',
      spec: { kind: 'veth', peer: { name: 'ncv1', netnsFd: 7, mac: '02:00:00:00:00:02', numTxQueues: 2, numRxQueues: 2 } },
    };
    expect(request(s)).toBe(hex(
      '98000000 1000 0006 00000000 00000000', // nlmsghdr, 152 bytes
      '00 00 0000 00000000 01000000 01000000', // ifinfomsg: flags IFF_UP, change IFF_UP
      '0900 0300 6e637630 00 000000', // IFLA_IFNAME "ncv0"
      '0800 0400 78050000', // IFLA_MTU 1400
      '0a00 0100 020000000001 0000', // IFLA_ADDRESS
      '5800 1280', // IFLA_LINKINFO (nested), 88
      '  0900 0100 76657468 00 000000', //  IFLA_INFO_KIND "veth"
      '  4800 0280', //  IFLA_INFO_DATA (nested), 72
      '    4400 0100', //    VETH_INFO_PEER, 68 (struct + attrs: no NLA_F_NESTED)
      '      00 00 0000 00000000 00000000 00000000', //      peer ifinfomsg
      '      0900 0300 6e637631 00 000000', //      IFLA_IFNAME "ncv1"
      '      0800 1c00 07000000', //      IFLA_NET_NS_FD 7
      '      0a00 0100 020000000002 0000', //      IFLA_ADDRESS
      '      0800 1f00 02000000', //      IFLA_NUM_TX_QUEUES 2
      '      0800 2000 02000000', //      IFLA_NUM_RX_QUEUES 2
    ));
  });

  it('vlan: parent in IFLA_LINK, id and 802.1ad protocol (big-endian)', () => {
    expect(request({ name: 'ncvl', spec: { kind: 'vlan', parent: ifIndex(5), id: 100, protocol: '802.1ad' } })).toBe(hex(
      '58000000 1000 0006 00000000 00000000',
      '00 00 0000 00000000 00000000 00000000',
      '0900 0300 6e63766c 00 000000', // IFLA_IFNAME "ncvl"
      '0800 0500 05000000', // IFLA_LINK 5
      '2400 1280', // IFLA_LINKINFO, 36
      '  0900 0100 766c616e 00 000000', //  "vlan"
      '  1400 0280', //  IFLA_INFO_DATA, 20
      '    0600 0100 6400 0000', //    IFLA_VLAN_ID 100 (u16)
      '    0600 0500 88a8 0000', //    IFLA_VLAN_PROTOCOL ETH_P_8021AD (be16)
    ));
  });

  it('macvlan: parent in IFLA_LINK, mode bridge, mtu', () => {
    expect(request({ name: 'ncmv', mtu: 9000, spec: { kind: 'macvlan', parent: ifIndex(3), mode: 'bridge' } })).toBe(hex(
      '58000000 1000 0006 00000000 00000000',
      '00 00 0000 00000000 00000000 00000000',
      '0900 0300 6e636d76 00 000000', // "ncmv"
      '0800 0400 28230000', // IFLA_MTU 9000
      '0800 0500 03000000', // IFLA_LINK 3
      '1c00 1280', // IFLA_LINKINFO, 28
      '  0c00 0100 6d6163766c616e00', //  "macvlan"
      '  0c00 0280 0800 0100 04000000', //  IFLA_INFO_DATA { IFLA_MACVLAN_MODE MACVLAN_MODE_BRIDGE }
    ));
  });

  it('vxlan: parent in IFLA_VXLAN_LINK, group, local, port (be16), nolearning', () => {
    const s: LinkAddSpec = {
      name: 'ncvx',
      spec: { kind: 'vxlan', id: 4242, group: '239.1.1.1', local: '10.1.2.3', parent: ifIndex(3), port: 4789, learning: false },
    };
    expect(request(s)).toBe(hex(
      '70000000 1000 0006 00000000 00000000', // 112
      '00 00 0000 00000000 00000000 00000000',
      '0900 0300 6e637678 00 000000', // "ncvx"; no IFLA_LINK
      '4400 1280', // IFLA_LINKINFO, 68
      '  0a00 0100 7678 6c61 6e00 0000', //  "vxlan"
      '  3400 0280', //  IFLA_INFO_DATA, 52
      '    0800 0100 92100000', //    IFLA_VXLAN_ID 4242
      '    0800 0200 ef010101', //    IFLA_VXLAN_GROUP 239.1.1.1
      '    0800 0300 03000000', //    IFLA_VXLAN_LINK 3
      '    0800 0400 0a010203', //    IFLA_VXLAN_LOCAL 10.1.2.3
      '    0500 0700 00 000000', //    IFLA_VXLAN_LEARNING 0
      '    0600 0f00 12b5 0000', //    IFLA_VXLAN_PORT 4789 (be16)
    ));
  });

  it('vxlan over IPv6 uses GROUP6/LOCAL6', () => {
    const s: LinkAddSpec = { name: 'ncvx6', spec: { kind: 'vxlan', id: 0xffffff, group: 'fd00::1', local: 'fd00::2' } };
    expect(request(s)).toBe(hex(
      '70000000 1000 0006 00000000 00000000',
      '00 00 0000 00000000 00000000 00000000',
      '0a00 0300 6e6376783600 0000', // "ncvx6"
      '4400 1280',
      '  0a00 0100 7678 6c61 6e00 0000',
      '  3400 0280',
      '    0800 0100 ffffff00', //    IFLA_VXLAN_ID 16777215
      '    1400 1000 fd000000000000000000000000000001', //    IFLA_VXLAN_GROUP6
      '    1400 1100 fd000000000000000000000000000002', //    IFLA_VXLAN_LOCAL6
    ));
  });

  it('vrf: table, up', () => {
    expect(request({ name: 'ncvrf', up: true, spec: { kind: 'vrf', table: 10 } })).toBe(hex(
      '44000000 1000 0006 00000000 00000000', // 68
      '00 00 0000 00000000 01000000 01000000',
      '0a00 0300 6e6376726600 0000', // "ncvrf"
      '1800 1280', // IFLA_LINKINFO, 24
      '  0800 0100 76726600', //  "vrf"
      '  0c00 0280 0800 0100 0a000000', //  IFLA_INFO_DATA { IFLA_VRF_TABLE 10 }
    ));
  });

  it('bond: mode 802.3ad (u8), miimon, tx queues', () => {
    expect(request({ name: 'ncbond', numTxQueues: 4, spec: { kind: 'bond', mode: '802.3ad', miimon: 100 } })).toBe(hex(
      '58000000 1000 0006 00000000 00000000',
      '00 00 0000 00000000 00000000 00000000',
      '0b00 0300 6e63626f6e6400 00', // "ncbond"
      '0800 1f00 04000000', // IFLA_NUM_TX_QUEUES 4
      '2400 1280',
      '  0900 0100 626f6e64 00 000000', //  "bond"
      '  1400 0280', //  IFLA_INFO_DATA, 20
      '    0500 0100 04 000000', //    IFLA_BOND_MODE BOND_MODE_8023AD
      '    0800 0300 64000000', //    IFLA_BOND_MIIMON 100
    ));
  });

  it('dummy with a master and a netns: no IFLA_INFO_DATA', () => {
    expect(request({ name: 'ncd', master: ifIndex(9), netnsFd: 12, spec: { kind: 'dummy' } })).toBe(hex(
      '48000000 1000 0006 00000000 00000000', // 72
      '00 00 0000 00000000 00000000 00000000',
      '0800 0300 6e636400', // "ncd"
      '0800 1c00 0c000000', // IFLA_NET_NS_FD 12
      '0800 0a00 09000000', // IFLA_MASTER 9
      '1000 1280 0a00 0100 64756d6d7900 0000', // IFLA_LINKINFO { IFLA_INFO_KIND "dummy" }
    ));
  });

  it('RTM_DELLINK by index and by name', () => {
    expect(encodeLinkDelete(new NlWriter(), 7).bytes.toString('hex')).toBe(hex(
      '20000000 1100 0000 00000000 00000000', // RTM_DELLINK, 32
      '00 00 0000 07000000 00000000 00000000', // ifi_index 7
    ));
    expect(encodeLinkDelete(new NlWriter(), 0, 'ncv0').bytes.toString('hex')).toBe(hex(
      '2c000000 1100 0000 00000000 00000000',
      '00 00 0000 00000000 00000000 00000000',
      '0900 0300 6e637630 00 000000',
    ));
  });
});

describe('validateLinkAddSpec', () => {
  const ok: LinkAddSpec = { name: 'ncok', spec: { kind: 'dummy' } };
  const bad: [string, LinkAddSpec][] = [
    ['name', { ...ok, name: '' }],
    ['name', { ...ok, name: 'a-name-of-16-byt' }],
    ['name', { ...ok, name: 'has space' }],
    ['name', { ...ok, name: 'a/b' }],
    ['name', { ...ok, name: '..' }],
    ['mtu', { ...ok, mtu: 0 }],
    ['mtu', { ...ok, mtu: 1.5 }],
    ['mac', { ...ok, mac: '02:00:00:00:00' }],
    ['mac', { ...ok, mac: '01:00:5e:00:00:01' }],
    ['mac', { ...ok, mac: '00:00:00:00:00:00' }],
    ['numTxQueues', { ...ok, numTxQueues: 0 }],
    ['numRxQueues', { ...ok, numRxQueues: 4097 }],
    ['netnsFd', { ...ok, netnsFd: -1 }],
    ['master', { ...ok, master: ifIndex(0) }],
    ['spec.peer.name', { ...ok, spec: { kind: 'veth', peer: { name: 'this-is-too-long' } } }],
    ['spec.peer.mac', { ...ok, spec: { kind: 'veth', peer: { name: 'p', mac: 'zz' } } }],
    ['spec.peer.netnsFd', { ...ok, spec: { kind: 'veth', peer: { name: 'p', netnsFd: 1.5 } } }],
    ['spec.id', { ...ok, spec: { kind: 'vlan', parent: ifIndex(2), id: 0 } }],
    ['spec.id', { ...ok, spec: { kind: 'vlan', parent: ifIndex(2), id: 4095 } }],
    ['spec.parent', { ...ok, spec: { kind: 'vlan', parent: ifIndex(0), id: 5 } }],
    ['spec.protocol', { ...ok, spec: { kind: 'vlan', parent: ifIndex(2), id: 5, protocol: 'qinq' as never } }],
    ['spec.mode', { ...ok, spec: { kind: 'macvlan', parent: ifIndex(2), mode: 'nope' as never } }],
    ['spec.mode', { ...ok, spec: { kind: 'ipvlan', parent: ifIndex(2), mode: 'l4' as never } }],
    ['spec.id', { ...ok, spec: { kind: 'vxlan', id: 0x1000000 } }],
    ['spec.port', { ...ok, spec: { kind: 'vxlan', id: 1, port: 65536 } }],
    ['spec.group', { ...ok, spec: { kind: 'vxlan', id: 1, group: '300.1.1.1' } }],
    ['spec.local', { ...ok, spec: { kind: 'vxlan', id: 1, group: '239.1.1.1', local: 'fd00::1' } }],
    ['spec.table', { ...ok, spec: { kind: 'vrf', table: 0 } }],
    ['spec.mode', { ...ok, spec: { kind: 'bond', mode: 'lacp' as never } }],
    ['spec.miimon', { ...ok, spec: { kind: 'bond', miimon: -1 } }],
    ['spec.kind', { ...ok, spec: { kind: 'wireguard' } as never }],
  ];

  it.each(bad)('rejects a bad %s with a ConfigError naming it', (field, spec) => {
    let err: unknown;
    try {
      validateLinkAddSpec(spec);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('CONFIG_INVALID');
    expect((err as ConfigError).message).toContain(`linkAdd: ${field} `);
    expect((err as ConfigError).context.field).toBe(field);
  });

  it('accepts valid specs of every kind', () => {
    const p = ifIndex(2);
    for (const spec of [
      { kind: 'veth', peer: { name: 'ncp', netnsFd: 3, mac: '02:00:00:00:00:01', numTxQueues: 4, numRxQueues: 4 } },
      { kind: 'vlan', parent: p, id: 4094, protocol: '802.1Q' },
      { kind: 'macvlan', parent: p, mode: 'passthru' },
      { kind: 'macvtap', parent: p },
      { kind: 'ipvlan', parent: p, mode: 'l3s' },
      { kind: 'vxlan', id: 0, port: 4789, group: 'ff05::1', local: 'fd00::1', parent: p, learning: true },
      { kind: 'bridge', vlanFiltering: true },
      { kind: 'vrf', table: 0xffffffff },
      { kind: 'bond', mode: 'active-backup', miimon: 0 },
      { kind: 'dummy' },
    ] as const) {
      expect(() => validateLinkAddSpec({ name: 'nc.ok-1', mtu: 1500, up: true, spec })).not.toThrow();
    }
  });
});
