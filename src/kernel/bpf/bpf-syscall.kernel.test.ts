import { describe, expect, it } from 'vitest';
import {
  bpfProgLoad, clsactAdd, tcBpfFilterAdd, tcxLinkCreate, tcxProgAttach, xdpLinkCreate,
} from '../../../test/kernel/bpf-fixture.ts';
import { kernelError } from '../../../test/kernel/kernel-error.ts';
import { createNetns, ip, ipJson, kernelAtLeast, testLibc, tool, type TestNetns } from '../../../test/kernel/netns-fixture.ts';
import { BPF_ATTACH_TYPE, BPF_LINK_TYPE, BPF_PROG_TYPE } from './bpf-constants.ts';
import {
  bpfLinkInfoByFd, bpfLinkInfoById, bpfLinkList, bpfProgGetFdById, bpfProgGetNextId, bpfProgInfoByFd, bpfProgInfoById,
  bpfProgQuery,
} from './bpf-syscall.ts';

const l = testLibc;
const hasTcx = kernelAtLeast(6, 6);
const MISSING_ID = 0x7fff_fff0;

function vethIn(ns: TestNetns): number {
  ip(ns, 'link', 'add', 'ncv0', 'type', 'veth', 'peer', 'name', 'ncv1');
  return ipJson<{ ifindex: number }[]>(ns, 'link', 'show', 'ncv0')[0]!.ifindex;
}

describe(`bpf(2) wrappers (${l.backend})`, () => {
  it('reads a program\'s info by fd and by id, matching what tc prints for it', () => {
    const ns = createNetns('bs');
    const idx = vethIn(ns);
    const fd = bpfProgLoad('sched_cls', 'nc_bs_prog', l);
    const info = bpfProgInfoByFd(l, fd);
    expect(info).toEqual({ type: BPF_PROG_TYPE.BPF_PROG_TYPE_SCHED_CLS, id: expect.any(Number), tag: expect.stringMatching(/^[0-9a-f]{16}$/), name: 'nc_bs_prog' });
    expect(bpfProgInfoById(l, info.id)).toEqual(info);
    clsactAdd(ns.handle, idx);
    tcBpfFilterAdd(ns.handle, idx, { direction: 'ingress', progFd: fd, name: 'x', prio: 1 });
    const shown = JSON.parse(tool('tc', ['-n', ns.name, '-j', 'filter', 'show', 'dev', 'ncv0', 'ingress']))[1].options.prog;
    expect(shown).toMatchObject({ id: info.id, name: info.name, tag: info.tag });
  });

  it('walks program ids with BPF_PROG_GET_NEXT_ID and finds a loaded one', () => {
    const id = bpfProgInfoByFd(l, bpfProgLoad('xdp', 'nc_bs_walk', l)).id;
    const ids: number[] = [];
    for (let next = bpfProgGetNextId(l, 0); next !== undefined; next = bpfProgGetNextId(l, next)) ids.push(next);
    expect(ids).toContain(id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(bpfProgGetNextId(l, MISSING_ID)).toBeUndefined(); // ids stop below INT_MAX (larger start ids are EINVAL)
  });

  it('answers undefined for a missing id, and a KernelError ENOENT naming the command from the raw call', () => {
    expect(bpfProgInfoById(l, MISSING_ID)).toBeUndefined();
    expect(bpfLinkInfoById(l, MISSING_ID)).toBeUndefined();
    const err = kernelError(() => bpfProgGetFdById(l, MISSING_ID));
    expect(err.errnoName).toBe('ENOENT');
    expect(err.op).toBe('bpf(BPF_PROG_GET_FD_BY_ID)');
  });

  it('reads an XDP link\'s info (type, ids, ifindex) and finds it in the link walk', () => {
    const ns = createNetns('bs');
    const idx = vethIn(ns);
    const prog = bpfProgInfoByFd(l, bpfProgLoad('xdp', 'nc_bs_xdp', l));
    const link = bpfLinkInfoByFd(l, xdpLinkCreate(ns.handle, idx, bpfProgLoad('xdp', 'nc_bs_xdp2', l), 'generic', l));
    expect(link).toMatchObject({ type: BPF_LINK_TYPE.BPF_LINK_TYPE_XDP, ifindex: idx });
    expect(link.progId).not.toBe(prog.id);
    expect(bpfLinkInfoById(l, link.id)).toEqual(link);
    expect(bpfLinkList(l)).toContainEqual(link);
    expect(ipJson<{ xdp?: { prog: { id: number } } }[]>(ns, '-d', 'link', 'show', 'ncv0')[0]!.xdp?.prog.id).toBe(link.progId);
  });

  it.skipIf(!hasTcx)('queries tcx hooks in the calling thread\'s namespace: link and non-link attachments', () => {
    const a = createNetns('bs');
    const b = createNetns('bs');
    const idx = vethIn(a);
    expect(vethIn(b)).toBe(idx); // the same ifindex names another interface in b
    const fd = bpfProgLoad('sched_cls', 'nc_bs_tcx', l);
    const id = bpfProgInfoByFd(l, fd).id;
    const link = bpfLinkInfoByFd(l, tcxLinkCreate(a.handle, idx, fd, 'ingress', l));
    expect(link).toMatchObject({ type: BPF_LINK_TYPE.BPF_LINK_TYPE_TCX, progId: id, ifindex: idx, attachType: BPF_ATTACH_TYPE.BPF_TCX_INGRESS });
    tcxProgAttach(a.handle, idx, fd, 'egress', l);

    const ingress = a.handle.within(() => bpfProgQuery(l, idx, BPF_ATTACH_TYPE.BPF_TCX_INGRESS));
    expect(ingress).toMatchObject({ progIds: [id], linkIds: [link.id] });
    expect(ingress.revision).toBeGreaterThan(1n);
    expect(a.handle.within(() => bpfProgQuery(l, idx, BPF_ATTACH_TYPE.BPF_TCX_EGRESS))).toMatchObject({ progIds: [id], linkIds: [0] });
    expect(b.handle.within(() => bpfProgQuery(l, idx, BPF_ATTACH_TYPE.BPF_TCX_INGRESS))).toEqual({ revision: 1n, progIds: [], linkIds: [] });

    const missing = kernelError(() => a.handle.within(() => bpfProgQuery(l, 9999, BPF_ATTACH_TYPE.BPF_TCX_INGRESS)));
    expect(missing).toMatchObject({ errnoName: 'ENODEV', op: 'bpf(BPF_PROG_QUERY)', ifindex: 9999 });
  });

  it.skipIf(hasTcx)('gets EINVAL from BPF_PROG_QUERY for tcx on kernels before 6.6', () => {
    const ns = createNetns('bs');
    const idx = vethIn(ns);
    const err = kernelError(() => ns.handle.within(() => bpfProgQuery(l, idx, BPF_ATTACH_TYPE.BPF_TCX_INGRESS)));
    expect(err).toMatchObject({ errnoName: 'EINVAL', op: 'bpf(BPF_PROG_QUERY)' });
  });
});
