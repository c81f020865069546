/** `netclaim links` against a throwaway namespace, in process (cli.test.ts runs it as a process). */
import { describe, expect, it } from 'vitest';
import { runLinks } from '../../src/surfaces/cli/links.ts';
import { createNetns, ip, ipJson, uniqueName } from '../kernel/netns-fixture.ts';
import { capture } from './capture.ts';

describe('netclaim links', () => {
  it('lists a namespace\'s links as JSON, matching ip -j', async () => {
    const ns = createNetns();
    const a = uniqueName('c');
    ip(ns, 'link', 'add', a, 'mtu', '9000', 'type', 'veth', 'peer', 'name', uniqueName('d'));
    const r = await capture(runLinks, ['--netns', ns.path, '--json']);
    expect(r.status, r.stderr.join('\n')).toBe(0);
    const out = JSON.parse(r.lines.join('\n')) as { name: string; index: number; mtu: number; mac?: string; kind?: string }[];
    const oracle = ipJson<{ ifname: string; ifindex: number; mtu: number; address: string }[]>(ns, 'link');
    expect(out.map((l) => [l.index, l.name, l.mtu, l.mac])).toEqual(oracle.map((l) => [l.ifindex, l.ifname, l.mtu, l.address]));
    expect(out.find((l) => l.name === a)?.kind).toBe('veth');
  });

  it('prints a table without --json', async () => {
    const ns = createNetns();
    const r = await capture(runLinks, ['--netns', ns.path]);
    expect(r.lines.join('\n')).toMatch(/^\s+1\s+lo\s+unknown\s+mtu 65536/);
  });
});
