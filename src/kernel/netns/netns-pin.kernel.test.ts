/**
 * Pinning a namespace to a file (a bind mount, as `ip netns add` does) on
 * both FFI backends: the pin keeps the namespace (and a veth in it) alive
 * after every other reference is gone; releasing it lets the namespace die;
 * pinning twice is a no-op, pinning another namespace onto a pin is refused.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createNetns, ip } from '../../../test/kernel/netns-fixture.ts';
import { loadLibc, type FfiBackend } from '../libc/index.ts';
import { isNetnsFile, mountPropagation, netnsInode, netnsPin, netnsUnpin } from './netns-pin.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) {
    try {
      execFileSync('umount', ['-l', join(d, 'pin')], { stdio: 'ignore' });
    } catch {
      /* not mounted */
    }
    rmSync(d, { recursive: true, force: true });
  }
});

const links = (path: string): string[] =>
  (JSON.parse(execFileSync('nsenter', [`--net=${path}`, 'ip', '-j', 'link', 'show'], { encoding: 'utf8' })) as { ifname: string }[]).map((l) => l.ifname).sort();

describe.each<FfiBackend>(['koffi', 'ffi-rs'])('netns pins on %s', (backend) => {
  const libc = loadLibc(backend);

  it('a pin outlives every other reference to the namespace; releasing it lets the namespace go', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nc-pin-'));
    dirs.push(dir);
    const ns = createNetns('pin');
    ip(ns, 'link', 'add', 'ncpa', 'type', 'veth', 'peer', 'name', 'ncpb');
    const pin = join(dir, 'pin');
    netnsPin(libc, ns.path, pin);
    expect(netnsInode(pin)).toBe(netnsInode(ns.path));
    netnsPin(libc, ns.path, pin); // again: nothing changes
    const other = createNetns('pin');
    expect(() => netnsPin(libc, other.path, pin)).toThrow(/pins another namespace/);

    ns.handle.close();
    execFileSync('ip', ['netns', 'delete', ns.name]);
    expect(links(pin)).toEqual(['lo', 'ncpa', 'ncpb']);
    expect(['shared', 'slave', 'private', 'unbindable']).toContain(mountPropagation(dir));

    netnsUnpin(libc, pin);
    expect(existsSync(pin)).toBe(false);
    expect(isNetnsFile(pin)).toBe(false);
    netnsUnpin(libc, pin); // already gone: fine
  });

  it('refuses a source that is not a namespace; mount(2) errors come back with their errno', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nc-pin-'));
    dirs.push(dir);
    expect(() => netnsPin(libc, join(dir, 'nothing'), join(dir, 'pin'))).toThrow(/is not a network namespace/);
    expect(libc.mount('/nonexistent-nc-source', join(dir, 'x'), 0x1000)).toBe(-1);
    expect(libc.errno()).toBe(2); // ENOENT
    expect(libc.umount2(join(dir, 'not-mounted'), 2)).toBe(-1);
  });
});
