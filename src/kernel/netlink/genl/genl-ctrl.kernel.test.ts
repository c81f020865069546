/**
 * Family resolution against the running kernel, checked with iproute2's
 * `genl ctrl get` (run in the test namespace; family ids are global).
 */
import { describe, expect, it } from 'vitest';
import { NotFoundError } from '../../../common/errors.ts';
import { KernelError } from '../../errors.ts';
import { createNetns, hasTool, testLibc, tool } from '../../../../test/kernel/netns-fixture.ts';
import { genlFamilyForget, genlFamilyResolve } from './genl-ctrl.ts';

// `genl help` exits non-zero after printing usage; only a missing binary matters.
const hasGenl = hasTool('genl', ['help']);

/** `genl ctrl get name NAME` parsed: id, version, maxattr, command ids, multicast groups. */
function genlCtrlGet(ns: string, name: string) {
  const out = tool('ip', ['netns', 'exec', ns, 'genl', 'ctrl', 'get', 'name', name]);
  const head = /ID: 0x([0-9a-f]+)\s+Version: 0x([0-9a-f]+)\s+header size: (\d+)\s+max attribs: (\d+)/.exec(out)!;
  const groups = out.split('multicast groups:')[1] ?? '';
  const cmds = (out.split('commands supported:')[1] ?? '').split('multicast groups:')[0]!;
  return {
    id: parseInt(head[1]!, 16), version: parseInt(head[2]!, 16), hdrSize: Number(head[3]), maxAttr: Number(head[4]),
    cmds: [...cmds.matchAll(/ID-0x([0-9a-f]+)/g)].map((m) => parseInt(m[1]!, 16)),
    mcastGroups: [...groups.matchAll(/ID-0x([0-9a-f]+)\s+name: (\S+)/g)].map((m) => [m[2]!, parseInt(m[1]!, 16)] as const),
  };
}

describe(`generic netlink family resolution (${testLibc.backend})`, () => {
  it.skipIf(!hasGenl)('resolves ethtool as `genl ctrl get` reports it (needs iproute2 genl)', () => {
    const ns = createNetns();
    const f = genlFamilyResolve(ns.handle, 'ethtool');
    const want = genlCtrlGet(ns.name, 'ethtool');
    expect({ id: f.id, version: f.version, hdrSize: f.hdrSize, maxAttr: f.maxAttr }).toEqual({
      id: want.id, version: want.version, hdrSize: want.hdrSize, maxAttr: want.maxAttr,
    });
    expect(f.ops.map((o) => o.cmd)).toEqual(want.cmds);
    expect([...f.mcastGroups]).toEqual(want.mcastGroups);
    expect(f.mcastGroups.get('monitor')).toBeGreaterThan(0);
  });

  it('resolves the controller itself (nlctrl, id 0x10, group notify)', () => {
    const ns = createNetns();
    const f = genlFamilyResolve(ns.handle, 'nlctrl');
    expect(f.id).toBe(0x10);
    expect(f.mcastGroups.has('notify')).toBe(true);
  });

  it('caches per handle: the second resolution sends nothing; forgetting re-resolves', () => {
    const ns = createNetns();
    const a = genlFamilyResolve(ns.handle, 'ethtool');
    expect(genlFamilyResolve(ns.handle, 'ethtool')).toBe(a);
    genlFamilyForget(ns.handle, 'ethtool');
    const b = genlFamilyResolve(ns.handle, 'ethtool');
    expect(b).not.toBe(a);
    expect(b).toEqual(a);
    // Another namespace's handle resolves on its own socket, to the same (global) id.
    const other = createNetns();
    const c = genlFamilyResolve(other.handle, 'ethtool');
    expect(c).not.toBe(a);
    expect(c.id).toBe(a.id);
  });

  it('a family the kernel does not have is NotFoundError, caused by ENOENT', () => {
    const ns = createNetns();
    let err: unknown;
    try {
      genlFamilyResolve(ns.handle, 'ncnosuchfam');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NotFoundError);
    const cause = (err as NotFoundError).cause;
    expect(cause).toBeInstanceOf(KernelError);
    expect((cause as KernelError).errnoName).toBe('ENOENT');
    // Not cached: the next attempt asks the kernel again (and fails again).
    expect(() => genlFamilyResolve(ns.handle, 'ncnosuchfam')).toThrow(NotFoundError);
  });
});
