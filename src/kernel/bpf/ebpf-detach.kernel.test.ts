/**
 * ebpfDetachAll on veths in throwaway namespaces: programs attached the
 * ways discovery sees them (test/kernel/bpf-fixture.ts), detached, and the
 * result checked with `tc -j filter show`, `ip -j -d link show` (XDP) and
 * BPF_PROG_QUERY (tcx, which neither tc nor Debian 12's bpftool can see).
 */
import { describe, expect, it } from 'vitest';
import {
  bpfProgLoad, clsactAdd, tcBpfFilterAdd, tcxLinkCreate, tcxProgAttach, xdpAttachNetlink, xdpLinkCreate,
} from '../../../test/kernel/bpf-fixture.ts';
import { createNetns, ip, ipJson, kernelAtLeast, testLibc, tool, type TestNetns } from '../../../test/kernel/netns-fixture.ts';
import { NotFoundError, StateError } from '../../common/errors.ts';
import { KernelError } from '../errors.ts';
import { TC_PARENT_EGRESS, TC_PARENT_INGRESS } from '../netlink/route/tc-filter-constants.ts';
import { BPF_ATTACH_TYPE } from './bpf-constants.ts';
import { bpfLinkInfoByFd, bpfProgInfoByFd, bpfProgQuery } from './bpf-syscall.ts';
import { ebpfAttachedList } from './ebpf-attached.ts';
import { ebpfDetachAll, type DetachedPrograms } from './ebpf-detach.ts';
import type { AttachedPrograms } from './ebpf-types.ts';

const l = testLibc;
const hasTcx = kernelAtLeast(6, 6);
const none: AttachedPrograms = { tcFilters: [], tcx: [], xdp: [] };
const nothing: DetachedPrograms = { tc: [], tcx: [], xdp: [] };

function vethIn(ns: TestNetns, ...extra: string[]): number {
  ip(ns, 'link', 'add', 'ncv0', ...extra, 'type', 'veth', 'peer', 'name', 'ncv1');
  ip(ns, 'link', 'set', 'ncv0', 'up');
  ip(ns, 'link', 'set', 'ncv1', 'up');
  return ipJson<{ ifindex: number }[]>(ns, 'link', 'show', 'ncv0')[0]!.ifindex;
}

const attached = (ns: TestNetns, idx: number): AttachedPrograms => ebpfAttachedList(ns.handle, idx, undefined, { libc: l });

/**
 * The oracle for classic tc: `tc -j filter show dev ncv0 DIR` as `KIND PREF HANDLE` per filter (prio heads
 * left out; u32 also lists its hash table, `fh 800:`).
 */
function tcShow(ns: TestNetns, dir: 'ingress' | 'egress'): string[] {
  const out = tool('tc', ['-n', ns.name, '-j', 'filter', 'show', 'dev', 'ncv0', dir]).trim();
  return (JSON.parse(out || '[]') as { kind: string; pref: number; options?: { handle?: string; fh?: string } }[])
    .filter((f) => f.options !== undefined)
    .map((f) => `${f.kind} ${f.pref} ${f.options!.handle ?? f.options!.fh}`);
}

/** The oracle for XDP: `ip -j -d link show dev ncv0`'s xdp object (absent when nothing is attached). */
const ipXdp = (ns: TestNetns): unknown => ipJson<{ xdp?: unknown }[]>(ns, '-d', 'link', 'show', 'ncv0')[0]!.xdp;

/** BPF_PROG_QUERY program counts of both tcx hooks, run in the namespace. */
const tcxCounts = (ns: TestNetns, idx: number): number[] =>
  ns.handle.within(() => [BPF_ATTACH_TYPE.BPF_TCX_INGRESS, BPF_ATTACH_TYPE.BPF_TCX_EGRESS].map((t) => bpfProgQuery(l, idx, t).progIds.length));

describe(`ebpfDetachAll (${l.backend})`, () => {
  it('detaches nothing from an interface without programs (a clsact and a u32 filter stay); a missing one is NotFoundError', () => {
    const ns = createNetns('ed');
    const idx = vethIn(ns);
    expect(ebpfDetachAll(ns.handle, idx, l)).toEqual(nothing);
    clsactAdd(ns.handle, idx);
    tool('tc', ['-n', ns.name, 'filter', 'add', 'dev', 'ncv0', 'ingress', 'prio', '5', 'protocol', 'all', 'u32', 'match', 'u32', '0', '0']);
    expect(ebpfDetachAll(ns.handle, idx, l)).toEqual(nothing);
    expect(tcShow(ns, 'ingress')).toEqual(['u32 5 800:', 'u32 5 800::800']);
    expect(() => ebpfDetachAll(ns.handle, 9999, l)).toThrow(NotFoundError);
  });

  it('deletes every cls_bpf filter on both hooks, leaving other kinds and the clsact qdisc, as tc shows', () => {
    const ns = createNetns('ed');
    const idx = vethIn(ns);
    const fd = bpfProgLoad('sched_cls', 'nc_ed_cls', l);
    const progId = bpfProgInfoByFd(l, fd).id;
    clsactAdd(ns.handle, idx);
    tcBpfFilterAdd(ns.handle, idx, { direction: 'ingress', progFd: fd, name: 'nc_in_a', prio: 10 });
    tcBpfFilterAdd(ns.handle, idx, { direction: 'ingress', progFd: fd, name: 'nc_in_b', prio: 10, handle: 2 });
    tcBpfFilterAdd(ns.handle, idx, { direction: 'egress', progFd: fd, name: 'nc_out', prio: 20, protocol: 0x86dd, directAction: false });
    tool('tc', ['-n', ns.name, 'filter', 'add', 'dev', 'ncv0', 'egress', 'prio', '30', 'protocol', 'all', 'u32', 'match', 'u32', '0', '0']);
    expect(tcShow(ns, 'ingress')).toEqual(['bpf 10 0x2', 'bpf 10 0x1']);
    expect(tcShow(ns, 'egress')).toEqual(['bpf 20 0x1', 'u32 30 800:', 'u32 30 800::800']);

    const got = ebpfDetachAll(ns.handle, idx, l);
    expect(got.tcx).toEqual([]);
    expect(got.xdp).toEqual([]);
    expect(got.tc).toEqual([
      { parent: TC_PARENT_INGRESS, prio: 10, handle: 2, name: 'nc_in_b', progId },
      { parent: TC_PARENT_INGRESS, prio: 10, handle: 1, name: 'nc_in_a', progId },
      { parent: TC_PARENT_EGRESS, prio: 20, handle: 1, name: 'nc_out', progId },
    ]);
    expect(tcShow(ns, 'ingress')).toEqual([]);
    expect(tcShow(ns, 'egress')).toEqual(['u32 30 800:', 'u32 30 800::800']);
    expect(tool('tc', ['-n', ns.name, 'qdisc', 'show', 'dev', 'ncv0'])).toMatch(/qdisc clsact/);
    expect(attached(ns, idx)).toEqual(none);
  });

  it.skipIf(!hasTcx)('detaches tcx programs: link-owned through their link, the others by program (BPF_PROG_QUERY is then empty)', () => {
    const ns = createNetns('ed');
    const idx = vethIn(ns);
    const aFd = bpfProgLoad('sched_cls', 'nc_ed_tcx_a', l);
    const bFd = bpfProgLoad('sched_cls', 'nc_ed_tcx_b', l);
    const [a, b] = [bpfProgInfoByFd(l, aFd).id, bpfProgInfoByFd(l, bFd).id];
    const linkFd = tcxLinkCreate(ns.handle, idx, aFd, 'ingress', l);
    const linkId = bpfLinkInfoByFd(l, linkFd).id;
    tcxProgAttach(ns.handle, idx, bFd, 'ingress', l);
    tcxProgAttach(ns.handle, idx, aFd, 'egress', l);
    expect(tcxCounts(ns, idx)).toEqual([2, 1]);

    const got = ebpfDetachAll(ns.handle, idx, l);
    expect(got.tc).toEqual([]);
    expect(got.xdp).toEqual([]);
    expect(got.tcx).toEqual([
      { direction: 'ingress', progId: a, linkId },
      { direction: 'ingress', progId: b },
      { direction: 'egress', progId: a },
    ]);
    expect(tcxCounts(ns, idx)).toEqual([0, 0]);
    expect(attached(ns, idx)).toEqual(none);
    // The link object lives on (its fd is still open), detached from any device.
    expect(bpfLinkInfoByFd(l, linkFd)).toMatchObject({ id: linkId, ifindex: 0 });
  });

  it('detaches XDP attached over netlink, generic and driver mode, as ip -d link then shows', () => {
    const ns = createNetns('ed');
    const idx = vethIn(ns);
    const fd = bpfProgLoad('xdp', 'nc_ed_xdp', l);
    const progId = bpfProgInfoByFd(l, fd).id;
    xdpAttachNetlink(ns.handle, idx, fd, 'generic');
    expect(ipXdp(ns)).toMatchObject({ mode: 2 });
    expect(ebpfDetachAll(ns.handle, idx, l)).toEqual({ ...nothing, xdp: [{ mode: 'generic', progId }] });
    expect(ipXdp(ns)).toBeUndefined();

    xdpAttachNetlink(ns.handle, idx, fd, 'driver');
    expect(ipXdp(ns)).toMatchObject({ mode: 1 });
    expect(ebpfDetachAll(ns.handle, idx, l)).toEqual({ ...nothing, xdp: [{ mode: 'driver', progId }] });
    expect(ipXdp(ns)).toBeUndefined();
    expect(attached(ns, idx)).toEqual(none);
  });

  it('detaches XDP owned by a bpf_link (netlink answers EBUSY) through that link', () => {
    const ns = createNetns('ed');
    const idx = vethIn(ns);
    const fd = bpfProgLoad('xdp', 'nc_ed_xlink', l);
    const linkFd = xdpLinkCreate(ns.handle, idx, fd, 'generic', l);
    const link = bpfLinkInfoByFd(l, linkFd);
    expect(link.ifindex).toBe(idx);
    expect(ebpfDetachAll(ns.handle, idx, l)).toEqual({ ...nothing, xdp: [{ mode: 'generic', progId: link.progId, linkId: link.id }] });
    expect(ipXdp(ns)).toBeUndefined();
    expect(bpfLinkInfoByFd(l, linkFd).ifindex).toBe(0);
  });

  it('refuses to guess when one program is link-attached to the same ifindex in two namespaces (both stay)', () => {
    const a = createNetns('ed');
    const b = createNetns('ed');
    const idx = vethIn(a);
    expect(vethIn(b)).toBe(idx);
    const fd = bpfProgLoad('xdp', 'nc_ed_shared', l);
    const ids = [a, b].map((ns) => bpfLinkInfoByFd(l, xdpLinkCreate(ns.handle, idx, fd, 'generic', l)).id);
    let err: unknown;
    try {
      ebpfDetachAll(a.handle, idx, l);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateError);
    expect((err as StateError).context).toMatchObject({ ifindex: idx, linkIdCandidates: ids });
    expect((err as StateError).cause).toBeInstanceOf(KernelError);
    expect(((err as StateError).cause as KernelError).errnoName).toBe('EBUSY');
    expect(ipXdp(a)).toMatchObject({ mode: 2 });
    expect(ipXdp(b)).toMatchObject({ mode: 2 });
  });

  it('detaches everything at once, only in the handle\'s namespace (the same ifindex elsewhere keeps its programs)', () => {
    const a = createNetns('ed');
    const b = createNetns('ed');
    const idx = vethIn(a);
    expect(vethIn(b)).toBe(idx);
    const cls = bpfProgLoad('sched_cls', 'nc_ed_all_cls', l);
    const xdp = bpfProgLoad('xdp', 'nc_ed_all_xdp', l);
    for (const ns of [a, b]) {
      clsactAdd(ns.handle, idx);
      tcBpfFilterAdd(ns.handle, idx, { direction: 'egress', progFd: cls, name: 'nc_all', prio: 1 });
      if (hasTcx) tcxLinkCreate(ns.handle, idx, cls, 'ingress', l);
      xdpAttachNetlink(ns.handle, idx, xdp, 'generic');
    }
    const before = attached(b, idx);
    const got = ebpfDetachAll(a.handle, idx, l);
    expect([got.tc.length, got.tcx.length, got.xdp.length]).toEqual([1, hasTcx ? 1 : 0, 1]);
    expect(attached(a, idx)).toEqual(none);
    expect(ebpfDetachAll(a.handle, idx, l)).toEqual(nothing);
    expect(attached(b, idx)).toEqual(before);
    expect(tcShow(b, 'egress')).toEqual(['bpf 1 0x1']);
    expect(ipXdp(b)).toMatchObject({ mode: 2 });
  });
});
