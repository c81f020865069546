import { readlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createNetns, ipJson, testLibc } from '../../../test/kernel/netns-fixture.ts';
import { KernelError } from '../errors.ts';
import type { Libc } from '../libc/index.ts';
import { NlWriter } from '../netlink/writer.ts';
import { RTM } from '../netlink/route/rtnl-constants.ts';
import { NetnsHandle } from './handle.ts';

/** Names of links in the socket's namespace, via a raw RTM_GETLINK dump. */
function rawLinkNames(h: NetnsHandle): string[] {
  const w = new NlWriter().beginMessage(RTM.RTM_GETLINK, 0).zeros(16);
  w.endMessage();
  return h.route.dump(w, 'RTM_GETLINK', (buf, m) => {
    // IFLA_IFNAME (3) is always present; find it by walking attributes after ifinfomsg.
    let p = m.off + 16;
    while (p < m.off + m.len) {
      const len = buf.readUInt16LE(p);
      if (buf.readUInt16LE(p + 2) === 3) return buf.toString('utf8', p + 4, p + len - 1);
      p += (len + 3) & ~3;
    }
    return undefined;
  });
}

describe(`NetnsHandle (${testLibc.backend})`, () => {
  it('opens sockets inside the namespace and returns the thread home', () => {
    const ns = createNetns();
    const before = readlinkSync('/proc/thread-self/ns/net');
    expect(rawLinkNames(ns.handle)).toEqual(['lo']);
    expect(readlinkSync('/proc/thread-self/ns/net')).toBe(before);
    // The socket is cached: the same object on each access.
    expect(ns.handle.route).toBe(ns.handle.route);
    expect(ipJson<{ ifname: string }[]>(ns, 'link').map((l) => l.ifname)).toEqual(['lo']);
  });

  it('identifies the namespace by inode and closes idempotently', () => {
    const ns = createNetns();
    const again = NetnsHandle.open(ns.path, { libc: testLibc });
    expect(again.inode).toBe(ns.handle.inode);
    expect(NetnsHandle.current({ libc: testLibc }).inode).not.toBe(ns.handle.inode);
    again.close();
    again.close();
    expect(again.closed).toBe(true);
    expect(() => again.route).toThrow(/closed/);
  });

  it('refuses an async function inside the setns window', () => {
    const ns = createNetns();
    expect(() => ns.handle.within(async () => 1)).toThrow(/synchronous/);
    expect(readlinkSync('/proc/thread-self/ns/net')).toBe(readlinkSync('/proc/self/ns/net'));
  });

  it('fails with a KernelError naming the path when the namespace does not exist', () => {
    expect(() => NetnsHandle.open('/run/netns/nc-does-not-exist', { libc: testLibc })).toThrow(KernelError);
    try {
      NetnsHandle.open('/run/netns/nc-does-not-exist', { libc: testLibc });
    } catch (e) {
      expect((e as KernelError).errnoName).toBe('ENOENT');
      expect((e as KernelError).message).toContain('/run/netns/nc-does-not-exist');
    }
  });

  it('treats a failure to switch back as fatal (fault injected: the second setns fails)', () => {
    const ns = createNetns();
    let calls = 0;
    const faulty: Libc = {
      ...testLibc,
      setns: (fd, t) => (++calls === 2 ? -1 : testLibc.setns(fd, t)),
      errno: () => (calls === 2 ? 1 : testLibc.errno()),
    };
    const home = NetnsHandle.current({ libc: testLibc });
    const h = NetnsHandle.open(ns.path, {
      libc: faulty,
      onFatal: (err) => { throw err; },
    });
    try {
      expect(() => h.within(() => 1)).toThrow(expect.objectContaining({ code: 'KERNEL_NETNS_RETURN_FAILED' }));
    } finally {
      // Put the thread back ourselves (the real handler would have aborted).
      testLibc.setns(home.fd, 0x40000000);
      home.close();
      h.close();
    }
    expect(readlinkSync('/proc/thread-self/ns/net')).toBe(readlinkSync('/proc/self/ns/net'));
  });
});
