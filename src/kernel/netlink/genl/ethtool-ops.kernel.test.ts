/**
 * ethtool over generic netlink on veth pairs in throwaway namespaces,
 * checked against the `ethtool` command (run in the same namespace).
 */
import { describe, expect, it } from 'vitest';
import { kernelError } from '../../../../test/kernel/kernel-error.ts';
import {
  ethtool, ethtoolFails, ethtoolK, ethtoolSections, ethtoolSettings, hasEthtool, needsEthtool, numOrNa, renderEthtoolK,
} from '../../../../test/kernel/ethtool-oracle.ts';
import { createNetns, ip, ipJson, testLibc, type TestNetns, uniqueName } from '../../../../test/kernel/netns-fixture.ts';
import {
  ethtoolChannelsGet, ethtoolCoalesceGet, ethtoolFeaturesGet, ethtoolLinkInfoGet, ethtoolLinkModesGet, ethtoolLinkStateGet,
  ethtoolNotSupported, ethtoolPrivFlagsGet, ethtoolRingsGet,
} from './ethtool-ops.ts';
import type { EthtoolChannels } from './ethtool-types.ts';

/** A veth pair inside `ns` (both ends there); returns the first end's name and ifindex. */
function vethIn(ns: TestNetns, ...extra: string[]): { name: string; peer: string; index: number } {
  const name = uniqueName('et');
  const peer = uniqueName('ep');
  ip(ns, 'link', 'add', name, ...extra, 'type', 'veth', 'peer', 'name', peer);
  return { name, peer, index: ipJson<{ ifindex: number }[]>(ns, 'link', 'show', name)[0]!.ifindex };
}

/** `ethtool -l` as our record. */
function channelsFromEthtool(ns: TestNetns, dev: string): EthtoolChannels {
  const s = ethtoolSections(ethtool(ns, '-l', dev));
  const max = s['Pre-set maximums']!;
  const cur = s['Current hardware settings']!;
  const rec: Record<string, number | undefined> = {
    rxMax: numOrNa(max['RX']), txMax: numOrNa(max['TX']), otherMax: numOrNa(max['Other']), combinedMax: numOrNa(max['Combined']),
    rxCount: numOrNa(cur['RX']), txCount: numOrNa(cur['TX']), otherCount: numOrNa(cur['Other']), combinedCount: numOrNa(cur['Combined']),
  };
  return Object.fromEntries(Object.entries(rec).filter(([, v]) => v !== undefined));
}

describe(`ethtool on veth (${testLibc.backend})`, () => {
  it.skipIf(!hasEthtool)(`link modes, link info and link state match \`ethtool DEV\` (${needsEthtool})`, () => {
    const ns = createNetns();
    const v = vethIn(ns);
    // veth reports 10000 Mb/s full duplex, autoneg off, whatever its link state.
    expect(ethtoolLinkModesGet(ns.handle, v.index)).toEqual({ speed: 10000, duplex: 'full', autoneg: false });
    const info = ethtoolLinkInfoGet(ns.handle, v.index)!;
    expect(info).toEqual({ port: 'TP', transceiver: 'internal', phyAddress: 0, mdix: 0, mdixCtrl: 0 });
    expect(ethtoolLinkStateGet(ns.handle, v.index)).toEqual({ linkDetected: false });
    const s = ethtoolSettings(ns, v.name);
    expect(s).toMatchObject({
      'Speed': '10000Mb/s', 'Duplex': 'Full', 'Auto-negotiation': 'off', 'Port': 'Twisted Pair',
      'PHYAD': String(info.phyAddress), 'Transceiver': info.transceiver, 'Link detected': 'no',
      'Supported link modes': 'Not reported',
    });
    ip(ns, 'link', 'set', v.name, 'up');
    ip(ns, 'link', 'set', v.peer, 'up');
    expect(ethtoolLinkStateGet(ns.handle, v.index)).toEqual({ linkDetected: true });
    expect(ethtoolSettings(ns, v.name)['Link detected']).toBe('yes');
  });

  it.skipIf(!hasEthtool)(`features: the whole \`ethtool -k\` listing, [fixed] and [requested] included (${needsEthtool})`, () => {
    const ns = createNetns();
    const v = vethIn(ns);
    const f = ethtoolFeaturesGet(ns.handle, v.index)!;
    expect(renderEthtoolK(f)).toEqual(ethtoolK(ns, v.name));
    // Turning checksumming off drops the TSO features that depend on it: they stay
    // wanted, so ethtool shows them "off [requested on]".
    ethtool(ns, '-K', v.name, 'tx-checksum-ip-generic', 'off', 'rx-gro', 'on');
    const g = ethtoolFeaturesGet(ns.handle, v.index)!;
    expect(g.active['rx-gro']).toBe(true);
    expect(g.active['tx-checksum-ip-generic']).toBe(false);
    expect(g.active['tx-tcp-segmentation']).toBe(false);
    expect(g.wanted['tx-tcp-segmentation']).toBe(true);
    const text = ethtoolK(ns, v.name);
    expect(text).toContain('\ttx-tcp-segmentation: off [requested on]');
    expect(renderEthtoolK(g)).toEqual(text);
    // Every map holds every named feature.
    expect(Object.keys(g.hw)).toEqual(Object.keys(g.active));
    expect(Object.keys(g.nochange)).toEqual(Object.keys(g.wanted));
  });

  it.skipIf(!hasEthtool)(`channels match \`ethtool -l\`, before and after \`ethtool -L\` (${needsEthtool})`, () => {
    const ns = createNetns();
    const v = vethIn(ns, 'numtxqueues', '4', 'numrxqueues', '6');
    expect(ethtoolChannelsGet(ns.handle, v.index)).toEqual(channelsFromEthtool(ns, v.name));
    expect(ethtoolChannelsGet(ns.handle, v.index)).toEqual({ rxMax: 6, txMax: 4, rxCount: 6, txCount: 4 });
    ethtool(ns, '-L', v.name, 'rx', '2', 'tx', '3');
    expect(ethtoolChannelsGet(ns.handle, v.index)).toEqual({ rxMax: 6, txMax: 4, rxCount: 2, txCount: 3 });
    expect(ethtoolChannelsGet(ns.handle, v.index)).toEqual(channelsFromEthtool(ns, v.name));
  });

  it.skipIf(!hasEthtool)(`rings, coalescing and private flags: veth has none (EOPNOTSUPP → undefined), as ethtool says (${needsEthtool})`, () => {
    const ns = createNetns();
    const v = vethIn(ns);
    expect(ethtoolRingsGet(ns.handle, v.index)).toBeUndefined();
    expect(ethtoolCoalesceGet(ns.handle, v.index)).toBeUndefined();
    expect(ethtoolPrivFlagsGet(ns.handle, v.index)).toBeUndefined();
    for (const args of [['-g'], ['-c'], ['--show-priv-flags']]) {
      expect(ethtoolFails(ns, ...args, v.name)).toMatch(/Operation not supported/);
    }
  });

  it('loopback: no link settings (link modes and info undefined), but features and link state', () => {
    const ns = createNetns();
    expect(ethtoolLinkModesGet(ns.handle, 1)).toBeUndefined();
    expect(ethtoolLinkInfoGet(ns.handle, 1)).toBeUndefined();
    expect(ethtoolLinkStateGet(ns.handle, 1)).toEqual({ linkDetected: true });
    const f = ethtoolFeaturesGet(ns.handle, 1)!;
    expect(f.active['loopback']).toBe(true);
    // netns-local is a never-changeable feature of lo up to 6.11 (a device flag since 6.12, no longer a feature).
    if ('netns-local' in f.active) expect(f.nochange['netns-local']).toBe(true);
  });

  it('a missing device is a KernelError (ENODEV, with the kernel\'s message and the ifindex)', () => {
    const ns = createNetns();
    const err = kernelError(() => ethtoolFeaturesGet(ns.handle, 4242));
    expect(err.errnoName).toBe('ENODEV');
    expect(err.op).toBe('ETHTOOL_MSG_FEATURES_GET');
    expect(err.ifindex).toBe(4242);
    expect(err.netns).toBe(ns.path);
    expect(ethtoolNotSupported(err)).toBe(false);
    // Extack text since 5.x: "no device matches ifindex".
    if (err.extack !== undefined) expect(err.extack).toMatch(/no device matches/);
    expect(kernelError(() => ethtoolLinkModesGet(ns.handle, 4242)).errnoName).toBe('ENODEV');
  });

  it('each handle sees its own namespace: the same ifindex is a different device in each', () => {
    const a = createNetns();
    const b = createNetns();
    const va = vethIn(a, 'index', '77', 'numrxqueues', '2', 'numtxqueues', '2');
    const vb = vethIn(b, 'index', '77', 'numrxqueues', '5', 'numtxqueues', '3');
    expect(va.index).toBe(77);
    expect(vb.index).toBe(77);
    ip(b, 'link', 'set', vb.name, 'up');
    ip(b, 'link', 'set', vb.peer, 'up');
    expect(ethtoolChannelsGet(a.handle, 77)).toEqual({ rxMax: 2, txMax: 2, rxCount: 2, txCount: 2 });
    expect(ethtoolChannelsGet(b.handle, 77)).toEqual({ rxMax: 5, txMax: 3, rxCount: 5, txCount: 3 });
    expect(ethtoolLinkStateGet(a.handle, 77)).toEqual({ linkDetected: false });
    expect(ethtoolLinkStateGet(b.handle, 77)).toEqual({ linkDetected: true });
    // And an index that exists only in b is ENODEV through a.
    const onlyB = vethIn(b, 'index', '78');
    expect(ethtoolChannelsGet(b.handle, onlyB.index)).toBeDefined();
    expect(kernelError(() => ethtoolChannelsGet(a.handle, 78)).errnoName).toBe('ENODEV');
  });
});
