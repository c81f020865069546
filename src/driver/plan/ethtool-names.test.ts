import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  LEGACY_FEATURE_NAMES, closeNames, editDistance, globRegExp, resolveFeatureNames, resolvePrivateFlags,
} from './ethtool-names.ts';

/** The feature names a 6.18 kernel reports for a veth (ETH_SS_FEATURES, in bit order), trimmed to the interesting ones. */
const KNOWN = [
  'tx-scatter-gather', 'tx-checksum-ipv4', 'tx-checksum-ip-generic', 'tx-checksum-ipv6', 'highdma', 'tx-scatter-gather-fraglist',
  'tx-vlan-hw-insert', 'rx-vlan-hw-parse', 'rx-vlan-filter', 'vlan-challenged', 'tx-generic-segmentation', 'rx-gro', 'rx-lro',
  'tx-tcp-segmentation', 'tx-gso-robust', 'tx-tcp-ecn-segmentation', 'tx-tcp-mangleid-segmentation', 'tx-tcp6-segmentation',
  'tx-udp-segmentation', 'tx-checksum-fcoe-crc', 'tx-checksum-sctp', 'rx-ntuple-filter', 'rx-hashing', 'rx-checksum',
  'tx-nocache-copy', 'rx-gro-hw', 'rx-gro-list', 'rx-udp-gro-forwarding',
] as const;

const ok = (requested: Record<string, boolean>, known: readonly string[] = KNOWN): Record<string, boolean> => {
  const r = resolveFeatureNames(requested, known);
  if (!r.ok) throw new Error(`unexpected issues: ${JSON.stringify(r.issues)}`);
  return { ...r.features };
};
const issues = (requested: Record<string, boolean>, known: readonly string[] = KNOWN): readonly { path: string; message: string }[] => {
  const r = resolveFeatureNames(requested, known);
  if (r.ok) throw new Error(`expected issues, got ${JSON.stringify(r.features)}`);
  return r.issues;
};

describe('resolveFeatureNames', () => {
  it('takes kernel names as they are', () => {
    expect(ok({ 'rx-gro': false, 'tx-udp-segmentation': true })).toEqual({ 'rx-gro': false, 'tx-udp-segmentation': true });
    expect(ok({})).toEqual({});
  });

  it('maps ethtool\'s legacy short and long names to the kernel names they stand for', () => {
    expect(ok({ gro: false })).toEqual({ 'rx-gro': false });
    expect(ok({ 'generic-receive-offload': true })).toEqual({ 'rx-gro': true });
    expect(ok({ rx: false })).toEqual({ 'rx-checksum': false });
    expect(ok({ 'rx-checksumming': false })).toEqual({ 'rx-checksum': false });
    expect(ok({ lro: false, 'large-receive-offload': false })).toEqual({ 'rx-lro': false });
    expect(ok({ gso: true })).toEqual({ 'tx-generic-segmentation': true });
    expect(ok({ rxvlan: true, txvlan: false })).toEqual({ 'rx-vlan-hw-parse': true, 'tx-vlan-hw-insert': false });
    expect(ok({ 'rx-vlan-offload': true, 'tx-vlan-offload': false })).toEqual({ 'rx-vlan-hw-parse': true, 'tx-vlan-hw-insert': false });
    expect(ok({ ntuple: true, 'receive-hashing': true })).toEqual({ 'rx-ntuple-filter': true, 'rx-hashing': true });
  });

  it('expands the legacy names that stand for a pattern to every matching feature of the device', () => {
    expect(ok({ tx: false })).toEqual({
      'tx-checksum-ipv4': false, 'tx-checksum-ip-generic': false, 'tx-checksum-ipv6': false, 'tx-checksum-fcoe-crc': false, 'tx-checksum-sctp': false,
    });
    expect(ok({ 'tx-checksumming': true })).toEqual(ok({ tx: true }));
    expect(ok({ sg: false })).toEqual({ 'tx-scatter-gather': false, 'tx-scatter-gather-fraglist': false });
    expect(ok({ 'scatter-gather': false })).toEqual(ok({ sg: false }));
    expect(ok({ tso: false })).toEqual({
      'tx-tcp-segmentation': false, 'tx-tcp-ecn-segmentation': false, 'tx-tcp-mangleid-segmentation': false, 'tx-tcp6-segmentation': false,
    });
    expect(ok({ 'tcp-segmentation-offload': false })).toEqual(ok({ tso: false }));
    // Only the features this device has: a device without IPv6 checksumming gets the rest.
    expect(ok({ tx: false }, ['tx-checksum-ipv4', 'rx-checksum'])).toEqual({ 'tx-checksum-ipv4': false });
  });

  it('matches globs against the device\'s names', () => {
    expect(ok({ 'rx-gro*': false })).toEqual({ 'rx-gro': false, 'rx-gro-hw': false, 'rx-gro-list': false });
    expect(ok({ '*-gro-*': true })).toEqual({ 'rx-gro-hw': true, 'rx-gro-list': true, 'rx-udp-gro-forwarding': true });
    expect(ok({ '*': false })).toEqual(Object.fromEntries(KNOWN.map((n) => [n, false])));
    // Regex metacharacters are literal.
    expect(ok({ 'rx.gro*': true }, ['rx.gro', 'rxxgro'])).toEqual({ 'rx.gro': true });
  });

  it('reports a name the device does not have, with the closest names it has', () => {
    const [i] = issues({ 'rx-gr0': true });
    expect(i!.path).toBe('ethtool.features[rx-gr0]');
    expect(i!.message).toMatch(/^the device has no feature "rx-gr0"; close names: rx-gro\b/u);
    expect(issues({ 'tcp-segmentation': true })[0]!.message).toMatch(/close names: .*tx-tcp-segmentation/u);
    expect(issues({ 'zzzzzzzzzzzz': true })[0]!.message).toBe('the device has no feature "zzzzzzzzzzzz"');
    expect(issues({ gr0: true })[0]!.message).toMatch(/close names: gro\b/u);
  });

  it('reports a legacy name or glob that matches none of the device\'s features', () => {
    // UFO left the kernel in 4.14: `ufo` maps to nothing on a current kernel.
    expect(issues({ ufo: false })).toEqual([{
      path: 'ethtool.features[ufo]', message: '"ufo" stands for tx-udp-fragmentation, which matches none of the device\'s features',
    }]);
    expect(issues({ 'udp-fragmentation-offload': false })[0]!.path).toBe('ethtool.features[udp-fragmentation-offload]');
    expect(issues({ tx: false }, ['rx-gro'])[0]!.message).toBe('"tx" stands for tx-checksum-*, which matches none of the device\'s features');
    expect(issues({ 'foo-*': true })[0]!.message).toBe('"foo-*" stands for foo-*, which matches none of the device\'s features');
  });

  it('reports two names that set one kernel feature to different values, and accepts agreeing ones', () => {
    expect(issues({ gro: true, 'rx-gro': false })).toEqual([{
      path: 'ethtool.features[rx-gro]', message: 'sets rx-gro off, but ethtool.features[gro] sets it on',
    }]);
    expect(issues({ tx: false, 'tx-checksum-ipv4': true, 'tx-checksum-sctp': true })).toEqual([
      { path: 'ethtool.features[tx-checksum-ipv4]', message: 'sets tx-checksum-ipv4 on, but ethtool.features[tx] sets it off' },
      { path: 'ethtool.features[tx-checksum-sctp]', message: 'sets tx-checksum-sctp on, but ethtool.features[tx] sets it off' },
    ]);
    expect(issues({ 'tx-checksum-ipv4': true, tx: false })[0]).toEqual({
      path: 'ethtool.features[tx]', message: 'sets tx-checksum-ipv4 off, but ethtool.features[tx-checksum-ipv4] sets it on',
    });
    expect(issues({ 'rx-gro*': true, 'rx-gro': false, 'rx-gro-list': false })[0]!.message)
      .toBe('sets rx-gro off, but ethtool.features[rx-gro*] sets it on');
    expect(ok({ gro: false, 'rx-gro': false, 'generic-receive-offload': false })).toEqual({ 'rx-gro': false });
    expect(ok({ tso: true, 'tx-tcp6-segmentation': true })).toHaveProperty('tx-tcp6-segmentation', true);
  });

  it('collects every problem, not just the first', () => {
    expect(issues({ ufo: true, nope: true, gro: true, 'rx-gro': false }).map((i) => i.path))
      .toEqual(['ethtool.features[ufo]', 'ethtool.features[nope]', 'ethtool.features[rx-gro]']);
  });

  it('property: a known name resolves to itself; a resolution only ever names known features', () => {
    const known = fc.constantFrom(...KNOWN);
    const legacy = fc.constantFrom(...LEGACY_FEATURE_NAMES.flatMap(([s, l]) => [s, l]));
    const anyName = fc.oneof(known, legacy, fc.stringMatching(/^[a-z0-9*-]{1,12}$/u));
    fc.assert(fc.property(fc.dictionary(anyName, fc.boolean(), { maxKeys: 6 }), (req) => {
      const r = resolveFeatureNames(req, KNOWN);
      if (r.ok) {
        for (const k of Object.keys(r.features)) expect(KNOWN).toContain(k);
        for (const [n, v] of Object.entries(req)) if ((KNOWN as readonly string[]).includes(n)) expect(r.features[n]).toBe(v);
      } else {
        expect(r.issues.length).toBeGreaterThan(0);
        for (const i of r.issues) expect(Object.keys(req).map((n) => `ethtool.features[${n}]`)).toContain(i.path);
      }
    }));
  });

  it('property: requesting the same value under every alias is never a conflict', () => {
    fc.assert(fc.property(fc.constantFrom(...LEGACY_FEATURE_NAMES), fc.boolean(), ([short, long], on) => {
      const a = resolveFeatureNames({ [short]: on }, KNOWN);
      const b = resolveFeatureNames({ [short]: on, [long]: on }, KNOWN);
      // Equal when the names resolve; both refused when they match nothing here (ufo).
      if (a.ok) expect(b).toEqual(a);
      else expect(b.ok).toBe(false);
    }));
  });
});

describe('resolvePrivateFlags', () => {
  it('takes exact names only', () => {
    expect(resolvePrivateFlags({ rx_striding_rq: true, dropless_rq: false }, ['rx_cqe_moder', 'rx_striding_rq', 'dropless_rq']))
      .toEqual({ ok: true, flags: { rx_striding_rq: true, dropless_rq: false } });
    expect(resolvePrivateFlags({}, [])).toEqual({ ok: true, flags: {} });
  });

  it('reports unknown flags with close names, and a device without private flags', () => {
    expect(resolvePrivateFlags({ rx_striding: true, 'rx-striding-rq': true }, ['rx_striding_rq', 'dropless_rq'])).toEqual({
      ok: false,
      issues: [
        { path: 'ethtool.privateFlags[rx_striding]', message: 'the device has no private flag "rx_striding"; close names: rx_striding_rq' },
        { path: 'ethtool.privateFlags[rx-striding-rq]', message: 'the device has no private flag "rx-striding-rq"; close names: rx_striding_rq' },
      ],
    });
    expect(resolvePrivateFlags({ x: true }, [])).toEqual({
      ok: false, issues: [{ path: 'ethtool.privateFlags[x]', message: 'the device has no private flag "x" (its driver reports none)' }],
    });
  });
});

describe('helpers', () => {
  it('globRegExp anchors the pattern and lets * match any run, the empty one too', () => {
    expect(globRegExp('tx-tcp*-segmentation').test('tx-tcp-segmentation')).toBe(true);
    expect(globRegExp('tx-tcp*-segmentation').test('tx-tcp6-segmentation')).toBe(true);
    expect(globRegExp('tx-tcp*-segmentation').test('tx-tcp6-segmentation-x')).toBe(false);
    expect(globRegExp('a(b)?').test('a(b)?')).toBe(true);
  });

  it('editDistance is the Levenshtein distance', () => {
    expect(editDistance('', '')).toBe(0);
    expect(editDistance('gro', 'rx-gro')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    fc.assert(fc.property(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), (a, b) => {
      expect(editDistance(a, b)).toBe(editDistance(b, a));
      expect(editDistance(a, b)).toBeLessThanOrEqual(Math.max(a.length, b.length));
    }));
  });

  it('closeNames returns at most five, nearest first', () => {
    expect(closeNames('rx-gro', KNOWN)[0]).toBe('rx-gro');
    expect(closeNames('tx-checksum', KNOWN).length).toBeLessThanOrEqual(5);
    expect(closeNames('qqqqqqqq', KNOWN)).toEqual([]);
  });
});
