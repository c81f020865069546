import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createNetns, ip, ipJson, uniqueName } from '../kernel/netns-fixture.ts';

const bin = new URL('../../bin/netclaim.js', import.meta.url).pathname;

describe('netclaim links', () => {
  it('lists a namespace\'s links as JSON, matching ip -j', () => {
    const ns = createNetns();
    const a = uniqueName('c');
    ip(ns, 'link', 'add', a, 'mtu', '9000', 'type', 'veth', 'peer', 'name', uniqueName('d'));
    const out = JSON.parse(execFileSync(process.execPath, [bin, 'links', '--netns', ns.path, '--json'], {
      encoding: 'utf8', env: { ...process.env },
    })) as { name: string; index: number; mtu: number; mac?: string; kind?: string }[];
    const oracle = ipJson<{ ifname: string; ifindex: number; mtu: number; address: string }[]>(ns, 'link');
    expect(out.map((l) => [l.index, l.name, l.mtu, l.mac])).toEqual(oracle.map((l) => [l.ifindex, l.ifname, l.mtu, l.address]));
    expect(out.find((l) => l.name === a)?.kind).toBe('veth');
  });

  it('prints a table without --json', () => {
    const ns = createNetns();
    const text = execFileSync(process.execPath, [bin, 'links', '--netns', ns.path], { encoding: 'utf8' });
    expect(text).toMatch(/^\s+1\s+lo\s+unknown\s+mtu 65536/);
  });
});
