import { describe, expect, it } from 'vitest';
import {
  bpfProgLoad, clsactAdd, progIdOf, tcBpfFilterAdd, tcxLinkCreate, tcxProgAttach, xdpAttachNetlink, xdpLinkCreate,
} from '../../../test/kernel/bpf-fixture.ts';
import { createNetns, ip, ipJson, kernelAtLeast, testLibc, tool, type TestNetns } from '../../../test/kernel/netns-fixture.ts';
import { NotFoundError } from '../../common/errors.ts';
import { linkGet } from '../netlink/route/link-ops.ts';
import { bpfLinkInfoByFd, bpfProgInfoByFd } from './bpf-syscall.ts';
import { ebpfAttachedList } from './ebpf-attached.ts';
import type { AttachedPrograms } from './ebpf-types.ts';

const l = testLibc;
const hasTcx = kernelAtLeast(6, 6);
const none: AttachedPrograms = { tcFilters: [], tcx: [], xdp: [] };

function vethIn(ns: TestNetns): number {
  ip(ns, 'link', 'add', 'ncv0', 'type', 'veth', 'peer', 'name', 'ncv1');
  ip(ns, 'link', 'set', 'ncv0', 'up');
  ip(ns, 'link', 'set', 'ncv1', 'up');
  return ipJson<{ ifindex: number }[]>(ns, 'link', 'show', 'ncv0')[0]!.ifindex;
}

const attached = (ns: TestNetns, idx: number): AttachedPrograms => ebpfAttachedList(ns.handle, idx, undefined, { libc: l });

/** The oracle for XDP: `ip -j -d link show dev ncv0` (mode 1 = driver, 2 = generic). */
function ipXdp(ns: TestNetns): { mode: number; prog: { id: number; name: string; tag: string } } | undefined {
  return ipJson<{ xdp?: { mode: number; prog: { id: number; name: string; tag: string } } }[]>(ns, '-d', 'link', 'show', 'ncv0')[0]!.xdp;
}

describe(`ebpfAttachedList (${l.backend})`, () => {
  it('reports nothing for an interface without programs, and NotFoundError for a missing one', () => {
    const ns = createNetns('ea');
    const idx = vethIn(ns);
    expect(attached(ns, idx)).toEqual(none);
    clsactAdd(ns.handle, idx);
    expect(attached(ns, idx)).toEqual(none);
    expect(() => attached(ns, 9999)).toThrow(NotFoundError);
  });

  it('reports classic tc filters on ingress and egress with names, ids and tags, as tc shows them', () => {
    const ns = createNetns('ea');
    const idx = vethIn(ns);
    const fd = bpfProgLoad('sched_cls', 'nc_ea_cls', l);
    const prog = bpfProgInfoByFd(l, fd);
    clsactAdd(ns.handle, idx);
    tcBpfFilterAdd(ns.handle, idx, { direction: 'ingress', progFd: fd, name: 'nc_in', prio: 10 });
    tcBpfFilterAdd(ns.handle, idx, { direction: 'egress', progFd: fd, name: 'nc_out', prio: 20, protocol: 0x0800, directAction: false });
    tool('tc', ['-n', ns.name, 'filter', 'add', 'dev', 'ncv0', 'ingress', 'prio', '30', 'protocol', 'all', 'u32', 'match', 'u32', '0', '0']);

    const got = attached(ns, idx);
    expect(got.tcx).toEqual([]);
    expect(got.xdp).toEqual([]);
    expect(got.tcFilters).toEqual([
      { direction: 'ingress', prio: 10, handle: 1, protocol: 'all', protocolNumber: 3, chain: 0, name: 'nc_in', progId: prog.id, tag: prog.tag, directAction: true },
      { direction: 'egress', prio: 20, handle: 1, protocol: 'ip', protocolNumber: 0x0800, chain: 0, name: 'nc_out', progId: prog.id, tag: prog.tag, directAction: false },
    ]);
    // Oracle: tc's view of the same filters (u32 is not eBPF and is left out).
    for (const dir of ['ingress', 'egress'] as const) {
      const shown = (JSON.parse(tool('tc', ['-n', ns.name, '-j', 'filter', 'show', 'dev', 'ncv0', dir])) as
        { kind: string; pref: number; protocol: string; options?: { bpf_name: string; prog: { id: number } } }[])
        .filter((f) => f.kind === 'bpf' && f.options !== undefined)
        .map((f) => ({ prio: f.pref, protocol: f.protocol, name: f.options!.bpf_name, progId: f.options!.prog.id }));
      expect(got.tcFilters.filter((f) => f.direction === dir).map(({ prio, protocol, name, progId }) => ({ prio, protocol, name, progId })))
        .toEqual(shown);
    }
  });

  it.skipIf(!hasTcx)('reports tcx ingress (link-owned, with its link id) and egress (attached without a link)', () => {
    const ns = createNetns('ea');
    const idx = vethIn(ns);
    const inFd = bpfProgLoad('sched_cls', 'nc_ea_tcx_in', l);
    const outFd = bpfProgLoad('sched_cls', 'nc_ea_tcx_out', l);
    const [inProg, outProg] = [bpfProgInfoByFd(l, inFd), bpfProgInfoByFd(l, outFd)];
    const link = bpfLinkInfoByFd(l, tcxLinkCreate(ns.handle, idx, inFd, 'ingress', l));
    tcxProgAttach(ns.handle, idx, outFd, 'egress', l);
    // A second ingress program runs after the first.
    const second = bpfLinkInfoByFd(l, tcxLinkCreate(ns.handle, idx, outFd, 'ingress', l));

    const got = attached(ns, idx);
    expect(got.tcFilters).toEqual([]);
    expect(got.tcx).toEqual([
      { direction: 'ingress', progId: inProg.id, name: 'nc_ea_tcx_in', tag: inProg.tag, linkId: link.id },
      { direction: 'ingress', progId: outProg.id, name: 'nc_ea_tcx_out', tag: outProg.tag, linkId: second.id },
      { direction: 'egress', progId: outProg.id, name: 'nc_ea_tcx_out', tag: outProg.tag },
    ]);
    // tc cannot see tcx programs.
    expect(JSON.parse(tool('tc', ['-n', ns.name, '-j', 'filter', 'show', 'dev', 'ncv0', 'ingress']).trim() || '[]')).toEqual([]);
  });

  it.skipIf(hasTcx)('reports no tcx on kernels before 6.6 (BPF_PROG_QUERY answers EINVAL)', () => {
    const ns = createNetns('ea');
    const idx = vethIn(ns);
    clsactAdd(ns.handle, idx);
    tcBpfFilterAdd(ns.handle, idx, { direction: 'ingress', progFd: bpfProgLoad('sched_cls', 'nc_ea_old', l), name: 'nc_old', prio: 1 });
    const got = attached(ns, idx);
    expect(got.tcx).toEqual([]);
    expect(got.tcFilters).toHaveLength(1);
  });

  it('reports XDP attached over netlink in generic and in driver mode, as ip -d link shows it', () => {
    const ns = createNetns('ea');
    const idx = vethIn(ns);
    const fd = bpfProgLoad('xdp', 'nc_ea_xdp', l);
    const prog = bpfProgInfoByFd(l, fd);
    xdpAttachNetlink(ns.handle, idx, fd, 'generic');
    expect(attached(ns, idx).xdp).toEqual([{ mode: 'generic', progId: prog.id, name: 'nc_ea_xdp', tag: prog.tag }]);
    expect(ipXdp(ns)).toMatchObject({ mode: 2, prog: { id: prog.id, name: 'nc_ea_xdp', tag: prog.tag } });

    const ns2 = createNetns('ea');
    const idx2 = vethIn(ns2);
    xdpAttachNetlink(ns2.handle, idx2, fd, 'driver');
    expect(attached(ns2, idx2).xdp).toEqual([{ mode: 'driver', progId: prog.id, name: 'nc_ea_xdp', tag: prog.tag }]);
    expect(ipXdp(ns2)).toMatchObject({ mode: 1, prog: { id: prog.id } });
  });

  it('reports XDP attached through a bpf_link with the link id, and takes the link record when given', () => {
    const ns = createNetns('ea');
    const idx = vethIn(ns);
    const fd = bpfProgLoad('xdp', 'nc_ea_xlink', l);
    const link = bpfLinkInfoByFd(l, xdpLinkCreate(ns.handle, idx, fd, 'generic', l));
    const want = [{ mode: 'generic', progId: progIdOf(fd, l), name: 'nc_ea_xlink', tag: bpfProgInfoByFd(l, fd).tag, linkId: link.id }];
    expect(attached(ns, idx).xdp).toEqual(want);
    expect(ebpfAttachedList(ns.handle, idx, linkGet(ns.handle, idx), { libc: l }).xdp).toEqual(want);
    expect(ipXdp(ns)?.prog.id).toBe(link.progId);
  });

  it('reads another namespace\'s interface even where the same ifindex exists in both', () => {
    const a = createNetns('ea');
    const b = createNetns('ea');
    const idx = vethIn(a);
    expect(vethIn(b)).toBe(idx);
    const [aCls, bCls, aXdp, bXdp] = [
      bpfProgLoad('sched_cls', 'nc_ea_a_cls', l), bpfProgLoad('sched_cls', 'nc_ea_b_cls', l),
      bpfProgLoad('xdp', 'nc_ea_a_xdp', l), bpfProgLoad('xdp', 'nc_ea_b_xdp', l),
    ];
    for (const [ns, cls, xdp] of [[a, aCls, aXdp], [b, bCls, bXdp]] as const) {
      clsactAdd(ns.handle, idx);
      tcBpfFilterAdd(ns.handle, idx, { direction: 'ingress', progFd: cls, name: `${ns === a ? 'a' : 'b'}_filter`, prio: 1 });
      if (hasTcx) tcxLinkCreate(ns.handle, idx, cls, 'egress', l);
      xdpLinkCreate(ns.handle, idx, xdp, 'generic', l);
    }
    for (const [ns, tag] of [[a, 'a'], [b, 'b']] as const) {
      const got = attached(ns, idx);
      expect(got.tcFilters.map((f) => [f.direction, f.name])).toEqual([['ingress', `${tag}_filter`]]);
      expect(got.tcx.map((t) => [t.direction, t.name])).toEqual(hasTcx ? [['egress', `nc_ea_${tag}_cls`]] : []);
      expect(got.xdp.map((x) => [x.mode, x.name, x.linkId !== undefined])).toEqual([['generic', `nc_ea_${tag}_xdp`, true]]);
    }
  });

  it('lists every candidate link when one program is link-attached to the same ifindex in two namespaces', () => {
    const a = createNetns('ea');
    const b = createNetns('ea');
    const idx = vethIn(a);
    expect(vethIn(b)).toBe(idx);
    const fd = bpfProgLoad('xdp', 'nc_ea_shared', l);
    const ids = [a, b].map((ns) => bpfLinkInfoByFd(l, xdpLinkCreate(ns.handle, idx, fd, 'generic', l)).id);
    for (const ns of [a, b]) {
      const [x] = attached(ns, idx).xdp;
      expect(x).toMatchObject({ mode: 'generic', name: 'nc_ea_shared', linkIdCandidates: ids });
      expect(x!.linkId).toBeUndefined();
    }
  });
});
