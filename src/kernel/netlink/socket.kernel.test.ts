import { describe, expect, it } from 'vitest';
import { createNetns, ip, ipJson, testLibc, uniqueName } from '../../../test/kernel/netns-fixture.ts';
import { KernelError } from '../errors.ts';
import type { Libc } from '../libc/index.ts';
import { NetnsHandle } from '../netns/handle.ts';
import { NLM_F_DUMP_INTR, NETLINK_ROUTE } from './constants.ts';
import { forEachAttr, readString } from './attrs.ts';
import type { NlMessage } from './message.ts';
import { RTM } from './route/rtnl-constants.ts';
import { NetlinkSocket } from './socket.ts';
import { NlWriter } from './writer.ts';

const linkName = (buf: Buffer, m: NlMessage): string | undefined => {
  let name: string | undefined;
  forEachAttr(buf, m.off + 16, m.off + m.len, (t, o, l) => { if (t === 3) name = readString(buf, o, l); });
  return name;
};

const getLinks = (w: NlWriter): NlWriter => {
  w.reset().beginMessage(RTM.RTM_GETLINK, 0).zeros(16).attrU32(29 /* IFLA_EXT_MASK */, 1 << 3).endMessage();
  return w;
};

/** A socket opened inside `ns` on a possibly fault-injecting Libc. */
const socketIn = (path: string, l: Libc, opts = {}): NetlinkSocket => {
  const h = NetnsHandle.open(path, { libc: testLibc });
  try {
    return h.within(() => new NetlinkSocket(l, NETLINK_ROUTE, { netnsLabel: path, ...opts }));
  } finally {
    h.close();
  }
};

describe(`NetlinkSocket (${testLibc.backend})`, () => {
  it('turns a negative ack into a KernelError with errno name, op, extack and netns', () => {
    const ns = createNetns();
    const v = uniqueName('v');
    ip(ns, 'link', 'add', v, 'type', 'veth', 'peer', 'name', uniqueName('p'));
    const index = ipJson<{ ifindex: number }[]>(ns, 'link', 'show', v)[0]!.ifindex;
    const w = ns.handle.route.writer.reset();
    w.beginMessage(RTM.RTM_NEWLINK, 0).u8(0).u8(0).u16(0).s32(index).u32(0).u32(0).attrU32(4, 70000).endMessage();
    let err: unknown;
    try { ns.handle.route.request(w, 'RTM_NEWLINK'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(KernelError);
    expect(err).toMatchObject({
      code: 'KERNEL_NETLINK_ERROR', errno: 22, errnoName: 'EINVAL', op: 'RTM_NEWLINK',
      extack: 'mtu greater than device maximum', netns: ns.path,
    });
    expect((err as Error).message).toBe(`RTM_NEWLINK failed: EINVAL: mtu greater than device maximum (netns ${ns.path})`);
  });

  it('processes a batch, drains every ack, reports the first error and stays usable', () => {
    const ns = createNetns();
    const s = ns.handle.route;
    const w = s.writer.reset();
    // lo up (ok), a missing ifindex (ENODEV), lo up again (ok).
    for (const index of [1, 999999, 1]) {
      w.beginMessage(RTM.RTM_NEWLINK, 0).u8(0).u8(0).u16(0).s32(index).u32(1).u32(1).endMessage();
    }
    expect(() => s.request(w, 'RTM_NEWLINK')).toThrow(expect.objectContaining({ errnoName: 'ENODEV' }));
    expect(s.dump(getLinks(s.writer), 'RTM_GETLINK', linkName)).toEqual(['lo']);
  });

  it('grows its receive buffer when a datagram is truncated and re-runs the dump', () => {
    const ns = createNetns();
    const names = Array.from({ length: 20 }, () => uniqueName('t'));
    for (let i = 0; i < names.length; i += 2) ip(ns, 'link', 'add', names[i]!, 'type', 'veth', 'peer', 'name', names[i + 1]!);
    const s = socketIn(ns.path, testLibc, { recvBufferSize: 256 });
    try {
      const got = s.dump(getLinks(s.writer), 'RTM_GETLINK', linkName);
      expect(got.sort()).toEqual(['lo', ...names].sort());
    } finally {
      s.close();
    }
  });

  it('retries a dump flagged NLM_F_DUMP_INTR, then gives up with KERNEL_DUMP_INTERRUPTED', () => {
    const ns = createNetns();
    // Fault injection: the kernel cannot be made to interrupt a dump on demand,
    // so a Libc wrapper sets NLM_F_DUMP_INTR on the first message of the first `n` dumps.
    let interruptNext = 0;
    const flaky: Libc = {
      ...testLibc,
      recv: (fd, buf, len, flags) => {
        const n = testLibc.recv(fd, buf, len, flags);
        if (n >= 16 && interruptNext > 0 && buf.readUInt16LE(4) === RTM.RTM_NEWLINK) {
          buf.writeUInt16LE(buf.readUInt16LE(6) | NLM_F_DUMP_INTR, 6);
          interruptNext--;
        }
        return n;
      },
    };
    const s = socketIn(ns.path, flaky, { dumpRetries: 3 });
    try {
      interruptNext = 2;
      expect(s.dump(getLinks(s.writer), 'RTM_GETLINK', linkName)).toEqual(['lo']);
      expect(interruptNext).toBe(0);
      interruptNext = 100;
      expect(() => s.dump(getLinks(s.writer), 'RTM_GETLINK', linkName))
        .toThrow(expect.objectContaining({ code: 'KERNEL_DUMP_INTERRUPTED', op: 'RTM_GETLINK' }));
      expect(interruptNext).toBe(96); // 1 try + 3 retries
    } finally {
      s.close();
    }
  });

  it('times out with KERNEL_TIMEOUT when no answer comes (fault injected: the request is dropped)', () => {
    const ns = createNetns();
    const dropSends: Libc = { ...testLibc, send: (_fd, _b, len) => len };
    const s = socketIn(ns.path, dropSends, { timeoutMs: 100 });
    try {
      const t0 = Date.now();
      expect(() => s.request(getLinks(s.writer), 'RTM_GETLINK'))
        .toThrow(expect.objectContaining({ code: 'KERNEL_TIMEOUT', errnoName: 'EAGAIN' }));
      expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    } finally {
      s.close();
    }
  });

  it('ignores stale replies from an earlier request', () => {
    const ns = createNetns();
    const s = ns.handle.route;
    // Leave an unread answer in the queue: a GETLINK for lo sent behind the socket's back.
    const w = new NlWriter().beginMessage(RTM.RTM_GETLINK, 1 /* REQUEST */, 7, s.portId).u8(0).u8(0).u16(0).s32(1).u32(0).u32(0);
    w.endMessage();
    testLibc.send(s.fd, w.bytes, w.length, 0);
    expect(s.dump(getLinks(s.writer), 'RTM_GETLINK', linkName)).toEqual(['lo']);
  });

  it('reads an abandoned dump to its end, so the next dump is not refused with EBUSY', () => {
    const ns = createNetns();
    for (let i = 0; i < 30; i++) ip(ns, 'link', 'add', uniqueName('a'), 'type', 'veth', 'peer', 'name', uniqueName('b'));
    const s = ns.handle.route;
    const boom = (): never => { throw new Error('decoder failed'); };
    expect(() => s.dump(getLinks(s.writer), 'RTM_GETLINK', boom)).toThrow('decoder failed');
    expect(s.dump(getLinks(s.writer), 'RTM_GETLINK', linkName)).toHaveLength(61);
  });

  it('refuses use after close, and close is idempotent', () => {
    const ns = createNetns();
    const s = socketIn(ns.path, testLibc);
    s.close();
    s.close();
    expect(() => s.dump(getLinks(s.writer), 'RTM_GETLINK', linkName)).toThrow(expect.objectContaining({ code: 'KERNEL_CLOSED' }));
  });
});
