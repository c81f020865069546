import { describe, expect, it } from 'vitest';
import { createNetns, ip, ipJson, testLibc, uniqueName, type TestNetns } from '../../../../test/kernel/netns-fixture.ts';
import { ConfigError } from '../../../common/errors.ts';
import { AF_INET, AF_INET6, type IpFamily } from '../../../common/ip.ts';
import { ruleAdd, ruleDelete, ruleList } from './rule-ops.ts';
import type { Rule, RuleSpec } from './rule-types.ts';
import { kernelError } from '../../../../test/kernel/kernel-error.ts';

/** One rule in a shape both `ip -j rule` and `Rule` can be brought to. */
interface Shape {
  priority: number;
  invert?: true;
  src?: string;
  dst?: string;
  iif?: string;
  oif?: string;
  iifDetached?: true;
  fwmark?: number;
  fwmask?: number;
  table?: number;
  action: string;
  goto?: number;
  l3mdev?: true;
  suppressPrefixLen?: number;
  ipProto?: number;
  sport?: string;
  dport?: string;
  uidRange?: string;
  protocol?: number;
}

type IpRule = Record<string, string | number | null | undefined>;
const TABLES: Record<string, number> = { local: 255, main: 254, default: 253 };
const PROTOS: Record<string, number> = { kernel: 2, boot: 3, static: 4 };
const IPPROTOS: Record<string, number> = { tcp: 6, udp: 17 };

/** `ip -j rule` → Shape. */
function fromIp(r: IpRule): Shape {
  const s: Shape = { priority: Number(r.priority), action: 'table' };
  const range = (k: string): string | undefined =>
    r[k] !== undefined ? `${r[k]}-${r[k]}` : r[`${k}_start`] !== undefined ? `${r[`${k}_start`]}-${r[`${k}_end`]}` : undefined;
  if ('not' in r) s.invert = true;
  if (r.src !== 'all') s.src = `${r.src}/${r.srclen ?? (String(r.src).includes(':') ? 128 : 32)}`;
  if (r.dst !== undefined) s.dst = `${r.dst}/${r.dstlen ?? (String(r.dst).includes(':') ? 128 : 32)}`;
  if (r.iif !== undefined) s.iif = String(r.iif);
  if (r.oif !== undefined) s.oif = String(r.oif);
  if ('iif_detached' in r) s.iifDetached = true;
  if (r.fwmark !== undefined) s.fwmark = Number(r.fwmark);
  if (r.fwmask !== undefined) s.fwmask = Number(r.fwmask);
  if (r.table !== undefined) s.table = TABLES[String(r.table)] ?? Number(r.table);
  if (r.goto !== undefined) { s.action = 'goto'; s.goto = Number(r.goto); }
  if (r.action !== undefined) s.action = String(r.action);
  if ('nop' in r) s.action = 'nop';
  if ('l3mdev' in r) s.l3mdev = true;
  if (r.suppress_prefixlen !== undefined) s.suppressPrefixLen = Number(r.suppress_prefixlen);
  if (r.ipproto !== undefined) s.ipProto = IPPROTOS[String(r.ipproto)] ?? Number(r.ipproto);
  const sport = range('sport');
  const dport = range('dport');
  if (sport) s.sport = sport;
  if (dport) s.dport = dport;
  if (r.uid_start !== undefined) s.uidRange = `${r.uid_start}-${r.uid_end}`;
  if (r.protocol !== undefined) s.protocol = PROTOS[String(r.protocol)] ?? Number(r.protocol);
  return s;
}

/** Rule → Shape, dropping what `ip -j rule` leaves out (proto kernel/unspec, a full fwmask, table 0). */
function fromRule(r: Rule): Shape {
  const s: Shape = { priority: r.priority, action: String(r.action) };
  if (r.invert) s.invert = true;
  if (r.src !== undefined) s.src = r.src;
  if (r.dst !== undefined) s.dst = r.dst;
  if (r.iif !== undefined) s.iif = r.iif;
  if (r.oif !== undefined) s.oif = r.oif;
  if (r.iifDetached) s.iifDetached = true;
  if (r.fwmark !== undefined) s.fwmark = r.fwmark;
  if (r.fwmask !== undefined && r.fwmask !== 0xffff_ffff) s.fwmask = r.fwmask;
  if (r.action === 'table' && !r.l3mdev) s.table = r.table;
  if (r.goto !== undefined) s.goto = r.goto;
  if (r.l3mdev) s.l3mdev = true;
  if (r.suppressPrefixLen !== undefined) s.suppressPrefixLen = r.suppressPrefixLen;
  if (r.ipProto !== undefined) s.ipProto = r.ipProto;
  if (r.sport) s.sport = `${r.sport.start}-${r.sport.end}`;
  if (r.dport) s.dport = `${r.dport.start}-${r.dport.end}`;
  if (r.uidRange) s.uidRange = `${r.uidRange.start}-${r.uidRange.end}`;
  if (r.protocol !== 0 && r.protocol !== 2) s.protocol = r.protocol;
  return s;
}

function expectMatchesIp(ns: TestNetns, family: IpFamily): Rule[] {
  const ours = ruleList(ns.handle, family);
  expect(ours.every((r) => r.family === family)).toBe(true);
  const theirs = ipJson<IpRule[]>(ns, ...(family === AF_INET6 ? ['-6'] : []), 'rule');
  expect(ours.map(fromRule)).toEqual(theirs.map(fromIp));
  return ours;
}

function withVeth(): { ns: TestNetns; a: string; b: string } {
  const ns = createNetns('rl');
  const a = uniqueName('ra');
  const b = uniqueName('rb');
  ip(ns, 'link', 'add', a, 'type', 'veth', 'peer', 'name', b);
  return { ns, a, b };
}


const defaults = (family: IpFamily): Partial<Rule>[] => [
  { family, priority: 0, table: 255, action: 'table', protocol: 2 },
  { family, priority: 32766, table: 254, action: 'table', protocol: 2 },
  ...(family === AF_INET ? [{ family, priority: 32767, table: 253, action: 'table', protocol: 2 } as const] : []),
];

describe(`rule ops (${testLibc.backend})`, () => {
  it('lists the default rules of both families, IPv4 first', () => {
    const ns = createNetns('rl');
    const all = ruleList(ns.handle);
    expect(all).toEqual([...defaults(AF_INET), ...defaults(AF_INET6)].map((d) => expect.objectContaining(d)));
    expectMatchesIp(ns, AF_INET);
    expectMatchesIp(ns, AF_INET6);
  });

  it('adds, lists and deletes IPv4 rules of every kind, as ip rule shows them', () => {
    const { ns, a, b } = withVeth();
    const specs: RuleSpec[] = [
      { src: '10.1.0.0/16', dst: '10.2.0.0/24', table: 100, priority: 100 },
      { fwmark: 0x10, fwmask: 0xff, table: 200, priority: 200 },
      { fwmark: 0x20, table: 201, priority: 201 },
      { iif: a, oif: b, table: 300, priority: 300 },
      { iif: 'ncnothere', table: 301, priority: 301 },
      { l3mdev: true, priority: 1000 },
      { invert: true, src: '10.9.0.0/16', ipProto: 6, sport: { start: 1000, end: 2000 }, dport: { start: 80, end: 80 }, uidRange: { start: 100, end: 200 }, protocol: 4, action: 'prohibit', priority: 400 },
      { dst: '10.3.0.0/24', goto: 100, priority: 50 },
      { action: 'nop', priority: 60 },
      { action: 'blackhole', src: '192.0.2.0/24', priority: 61 },
      { action: 'unreachable', priority: 62 },
      { table: 254, suppressPrefixLen: 0, priority: 63 },
    ];
    for (const s of specs) ruleAdd(ns.handle, s);
    const ours = expectMatchesIp(ns, AF_INET);
    expect(ours.map((r) => r.priority)).toEqual([0, 50, 60, 61, 62, 63, 100, 200, 201, 300, 301, 400, 1000, 32766, 32767]);
    expect(ours.find((r) => r.priority === 301)).toMatchObject({ iif: 'ncnothere', iifDetached: true });
    expect(ours.find((r) => r.priority === 400)).toMatchObject({ invert: true, protocol: 4, action: 'prohibit' });
    expect(ours.find((r) => r.priority === 201)).toMatchObject({ fwmark: 0x20, fwmask: 0xffff_ffff });
    for (const s of specs) ruleDelete(ns.handle, s);
    expect(ruleList(ns.handle, AF_INET)).toEqual(defaults(AF_INET).map((d) => expect.objectContaining(d)));
    expectMatchesIp(ns, AF_INET);
  });

  it('adds, lists and deletes IPv6 rules, leaving IPv4 alone', () => {
    const { ns, a } = withVeth();
    const specs: RuleSpec[] = [
      { src: '2001:db8::/32', table: 1000, priority: 100 },
      { family: AF_INET6, dst: '2001:db8:1::/48', iif: a, table: 1001, priority: 101 },
      { family: AF_INET6, fwmark: 7, table: 1002, priority: 102 },
      { family: AF_INET6, l3mdev: true, priority: 1000 },
    ];
    for (const s of specs) ruleAdd(ns.handle, s);
    const ours = expectMatchesIp(ns, AF_INET6);
    expect(ours.map((r) => r.priority)).toEqual([0, 100, 101, 102, 1000, 32766]);
    expect(ours[1]).toMatchObject({ family: AF_INET6, src: '2001:db8::/32', table: 1000 });
    expectMatchesIp(ns, AF_INET);
    for (const s of specs) ruleDelete(ns.handle, s);
    expect(ruleList(ns.handle, AF_INET6)).toEqual(defaults(AF_INET6).map((d) => expect.objectContaining(d)));
  });

  it('deletes by the fields given: a partial spec removes the first match only', () => {
    const ns = createNetns('rl');
    ruleAdd(ns.handle, { src: '10.5.0.0/16', table: 10, priority: 500 });
    ruleAdd(ns.handle, { src: '10.5.0.0/16', table: 20, priority: 501 });
    ruleDelete(ns.handle, { src: '10.5.0.0/16', table: 20 });
    expect(ruleList(ns.handle, AF_INET).filter((r) => r.src === '10.5.0.0/16').map((r) => r.table)).toEqual([10]);
    ruleDelete(ns.handle, { priority: 500 });
    expect(ruleList(ns.handle, AF_INET).some((r) => r.src === '10.5.0.0/16')).toBe(false);
    expectMatchesIp(ns, AF_INET);
  });

  it('lets the kernel pick a priority when none is given (just below the first non-zero one)', () => {
    const ns = createNetns('rl');
    ruleAdd(ns.handle, { src: '10.6.0.0/16', table: 10 });
    expect(ruleList(ns.handle, AF_INET).find((r) => r.src === '10.6.0.0/16')?.priority).toBe(32765);
  });

  it('refuses a duplicate rule with EEXIST (v4 and v6)', () => {
    const ns = createNetns('rl');
    for (const spec of [{ src: '10.7.0.0/16', table: 10, priority: 700 }, { src: '2001:db8:7::/48', table: 10, priority: 700 }]) {
      ruleAdd(ns.handle, spec);
      const e = kernelError(() => ruleAdd(ns.handle, spec));
      expect(e.errnoName).toBe('EEXIST');
      expect(e.op).toBe('RTM_NEWRULE');
      expect(e.code).toBe('KERNEL_NETLINK_ERROR');
    }
    expect(ipJson<IpRule[]>(ns, 'rule').filter((r) => r.priority === 700)).toHaveLength(1);
  });

  it('fails to delete a missing rule with ENOENT (v4 and v6)', () => {
    const ns = createNetns('rl');
    for (const spec of [{ priority: 12345 }, { src: '10.8.0.0/16' }, { family: AF_INET6, priority: 12345 }] as RuleSpec[]) {
      const e = kernelError(() => ruleDelete(ns.handle, spec));
      expect(e.errnoName).toBe('ENOENT');
      expect(e.op).toBe('RTM_DELRULE');
    }
  });

  it('reports the kernel extack for a backward goto (EINVAL)', () => {
    const ns = createNetns('rl');
    const e = kernelError(() => ruleAdd(ns.handle, { goto: 5, priority: 10 }));
    expect(e.errnoName).toBe('EINVAL');
    expect(e.extack).toMatch(/backward goto/i);
  });

  it('raises ConfigError before sending anything', () => {
    const ns = createNetns('rl');
    const before = ipJson(ns, 'rule');
    expect(() => ruleAdd(ns.handle, { table: 0 })).toThrow(ConfigError);
    expect(() => ruleAdd(ns.handle, { src: '10.0.0.0/40', table: 1 })).toThrow(/rule src:/);
    expect(() => ruleAdd(ns.handle, { priority: 2 ** 32, table: 1 })).toThrow(/rule priority:/);
    expect(() => ruleDelete(ns.handle, { priority: -1 })).toThrow(/rule priority:/);
    expect(ipJson(ns, 'rule')).toEqual(before);
  });
});
