/**
 * `netclaim inventory` against throwaway namespaces: in process (runInventory
 * takes argv and an output function) for the flag combinations, as a real
 * process for the table on stdout and for --watch, which a signal ends.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runInventory } from '../../src/surfaces/cli/inventory.ts';
import { createNetns, ip, ipJson, uniqueName } from '../kernel/netns-fixture.ts';
import { capture } from './capture.ts';

const bin = new URL('../../bin/netclaim.js', import.meta.url).pathname;
/** A sysfs tree with nothing in it: no PCI functions or RDMA devices to find. */
const emptySys = mkdtempSync(join(tmpdir(), 'nc-sys-'));
for (const d of ['bus/pci/devices', 'class/infiniband', 'class/net']) mkdirSync(join(emptySys, d), { recursive: true });
afterAll(() => rmSync(emptySys, { recursive: true, force: true }));

interface SliceJson {
  driver: string;
  devices: { name: string; attributes: Record<string, Record<string, unknown>> }[];
  exclusions: { ifName?: string; code: string; reason: string }[];
}

describe('netclaim inventory', () => {
  it('--json prints devices as in a ResourceSlice, cross-checked against ip -j, plus exclusions', async () => {
    const ns = createNetns('cli');
    const [a, b, m] = ['a', 'b', 'm'].map((t) => uniqueName(t));
    ip(ns, 'link', 'add', a!, 'mtu', '9000', 'type', 'veth', 'peer', 'name', b!);
    ip(ns, 'link', 'add', m!, 'link', a!, 'type', 'macvlan');
    ip(ns, 'addr', 'add', '10.3.0.1/16', 'dev', m!);
    const run = async (...extra: string[]): Promise<SliceJson> => {
      const r = await capture(runInventory, ['--netns', ns.path, '--sysfs-root', emptySys, '--json', ...extra]);
      expect(r.status, `stderr: ${r.stderr.join('\n')}`).toBe(0);
      return JSON.parse(r.lines.join('\n')) as SliceJson;
    };
    const out = await run('--include-kind', 'macvlan');
    expect(out.driver).toBe('netclaim.dev');
    expect(out.devices.map((d) => d.name)).toEqual([m]);
    const oracle = ipJson<{ ifname: string; ifindex: number; mtu: number; address: string }[]>(ns, 'link', 'show', m!)[0]!;
    expect(out.devices[0]!.attributes).toMatchObject({
      'netclaim.dev/ifName': { string: oracle.ifname }, 'netclaim.dev/mtu': { int: oracle.mtu },
      'netclaim.dev/mac': { string: oracle.address }, 'netclaim.dev/ipv4': { string: '10.3.0.1/16' }, 'netclaim.dev/type': { string: 'macvlan' },
    });
    expect(out.exclusions.map((e) => [e.ifName, e.code]).sort()).toEqual([[a, 'kind-not-included'], [b, 'kind-not-included'], ['lo', 'loopback']].sort());
    // By default no virtual kind is published.
    expect((await run()).devices).toEqual([]);
    // Options: kinds (comma lists, repeated, and the --include-veth alias), names excluded, a CEL filter, DraNet names.
    expect((await run('--include-kind', 'macvlan,veth', '--exclude', b!)).devices.map((d) => d.name).sort()).toEqual([a, m].sort());
    expect((await run('--include-kind', 'macvlan', '--include-veth')).devices.map((d) => d.name).sort()).toEqual([a, b, m].sort());
    expect((await run('--include-kind', '*', '--filter', 'device.attributes["netclaim.dev"].type == "veth" && device.attributes["netclaim.dev"].mtu == 9000')).devices.map((d) => d.name)).toEqual([a]);
    expect(Object.keys((await run('--naming', 'dranet', '--include-kind', 'macvlan')).devices[0]!.attributes)).toContain('dra.net/ifName');
    // The node's InternalIP makes its interface an uplink.
    expect((await run('--include-kind', 'macvlan', '--node-ip', '10.3.0.1')).exclusions.find((e) => e.ifName === m)).toMatchObject({ code: 'uplink' });
  });

  it('prints a readable table with the excluded interfaces and why', () => {
    const ns = createNetns('cli');
    const m = uniqueName('m');
    ip(ns, 'link', 'add', m, 'type', 'vxlan', 'id', '5', 'dstport', '4789');
    const text = execFileSync(process.execPath, [bin, 'inventory', '--netns', ns.path, '--sysfs-root', emptySys, '--include-kind', 'vxlan'], { encoding: 'utf8' });
    expect(text).toMatch(new RegExp(`^DEVICE\\s+KIND\\s+INTERFACE\\s+PCI\\s+NUMA\\s+PCIE ROOT\\s+RDMA\\s+SPEED\\s+STATE\\n${m}\\s+virtual\\s+${m}\\s`));
    expect(text).toContain('EXCLUDED\n  netdev lo: loopback interface [loopback]');
  });

  it('refuses bad flag values with the flag in the message, exit code 2, before any discovery', async () => {
    const ns = createNetns('cli');
    for (const [args, msg] of [
      [['--filter', 'device.attributes['], /--filter: invalid CEL expression/], [['--filter', '1'], /--filter: invalid CEL expression: its type is int/],
      [['--naming', 'x'], /--naming must be/], [['--node-ip', 'nope'], /--node-ip: "nope" is not an IP address/],
      [['--include-kind', 'Mac Vlan'], /--include-kind: "Mac Vlan" is not a link kind/], [['--sysfs-root', '/etc'], /--sysfs-root: "\/etc" does not look like sysfs/],
    ] as const) {
      const r = await capture(runInventory, ['--netns', ns.path, ...args]);
      expect(r.status, r.stderr.join('\n')).toBe(2);
      expect(r.stderr[0]).toMatch(msg);
    }
  });
});

describe('netclaim inventory --watch', () => {
  it('prints the initial set, then one JSON line per change, and exits cleanly on SIGTERM', async () => {
    const { spawn } = await import('node:child_process');
    const ns = createNetns('cli');
    const m = uniqueName('m');
    ip(ns, 'link', 'add', m, 'type', 'vxlan', 'id', '5', 'dstport', '4789');
    const child = spawn(process.execPath, [bin, 'inventory', '--watch', '--json', '--netns', ns.path, '--sysfs-root', emptySys, '--include-kind', 'vxlan,dummy,macvlan,veth'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let buf = '';
    const waitFor = (pred: (l: string) => boolean, ms = 15_000): Promise<string> => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching line; got ${lines.join(' | ')}`)), ms);
      const check = (): void => {
        const hit = lines.find(pred);
        if (hit) { clearTimeout(timer); child.stdout.off('data', onData); resolve(hit); }
      };
      const onData = (): void => check();
      child.stdout.on('data', onData);
      check();
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => { buf += d; const parts = buf.split('\n'); buf = parts.pop()!; lines.push(...parts); });
    try {
      const initial = JSON.parse(await waitFor((l) => l.includes('"event":"initial"'))) as { devices: { name: string }[] };
      expect(initial.devices.map((d) => d.name)).toEqual([m]);
      ip(ns, 'link', 'set', m, 'mtu', '1400');
      const change = JSON.parse(await waitFor((l) => l.includes('"event":"change"'))) as { changed: { name: string; attributes: Record<string, unknown> }[] };
      expect(change.changed).toEqual([{ name: m, attributes: { 'netclaim.dev/mtu': { int: 1400 } } }]);
    } finally {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
