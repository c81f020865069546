import { describe, expect, it } from 'vitest';
import { bpfProgLoad, clsactAdd, progIdOf, tcBpfFilterAdd } from '../../../../test/kernel/bpf-fixture.ts';
import { createNetns, ip, ipJson, testLibc, tool, type TestNetns } from '../../../../test/kernel/netns-fixture.ts';
import { ConfigError } from '../../../common/errors.ts';
import { kernelError } from '../../../../test/kernel/kernel-error.ts';
import { protocolName } from './tc-filter-codec.ts';
import { TC_PARENT_EGRESS, TC_PARENT_INGRESS } from './tc-filter-constants.ts';
import { tcFilterDelete, tcFilterList } from './tc-filter-ops.ts';
import type { TcFilter } from './tc-filter-types.ts';

/** A namespace with a veth pair; returns the ifindex of `ncv0`. */
function vethIn(ns: TestNetns): number {
  ip(ns, 'link', 'add', 'ncv0', 'type', 'veth', 'peer', 'name', 'ncv1');
  return ipJson<{ ifindex: number }[]>(ns, 'link', 'show', 'ncv0')[0]!.ifindex;
}

interface TcJsonFilter {
  protocol: string;
  pref: number;
  kind: string;
  chain: number;
  options?: { handle: string; bpf_name?: string; 'direct-action'?: boolean; prog?: { id: number; name: string; tag: string } };
}

/** The oracle: `tc -j filter show dev ncv0 ingress|egress`, prio heads (no options) left out. */
function tcShow(ns: TestNetns, dir: 'ingress' | 'egress'): TcJsonFilter[] {
  const out = tool('tc', ['-n', ns.name, '-j', 'filter', 'show', 'dev', 'ncv0', dir]);
  return (JSON.parse(out.trim() || '[]') as TcJsonFilter[]).filter((f) => f.options !== undefined);
}

/** Our record in the oracle's terms. */
const asTc = (f: TcFilter): TcJsonFilter => ({
  protocol: protocolName(f.protocol),
  pref: f.prio,
  kind: f.kind,
  chain: f.chain ?? 0,
  options: {
    handle: `0x${f.handle.toString(16)}`,
    ...(f.bpf?.name !== undefined ? { bpf_name: f.bpf.name } : {}),
    ...(f.bpf?.directAction ? { 'direct-action': true } : {}),
  },
});
const tcOptions = (f: TcJsonFilter): TcJsonFilter => ({
  ...f, options: { handle: f.options!.handle, ...(f.options!.bpf_name !== undefined ? { bpf_name: f.options!.bpf_name } : {}),
    ...(f.options!['direct-action'] ? { 'direct-action': true } : {}) },
});

describe(`tcFilterList (${testLibc.backend})`, () => {
  it('is empty without a clsact qdisc, with an empty one, and for an ifindex no interface has', () => {
    const ns = createNetns('tf');
    const idx = vethIn(ns);
    expect(tcFilterList(ns.handle, idx, TC_PARENT_INGRESS)).toEqual([]);
    expect(tcFilterList(ns.handle, idx, TC_PARENT_EGRESS)).toEqual([]);
    expect(tcFilterList(ns.handle, 9999, TC_PARENT_INGRESS)).toEqual([]);
    clsactAdd(ns.handle, idx);
    expect(tcFilterList(ns.handle, idx, TC_PARENT_INGRESS)).toEqual([]);
  });

  it('lists cls_bpf and other filters on both hooks as tc shows them', () => {
    const ns = createNetns('tf');
    const idx = vethIn(ns);
    const fd = bpfProgLoad('sched_cls', 'nc_tf_prog', testLibc);
    const id = progIdOf(fd, testLibc);
    clsactAdd(ns.handle, idx);
    tcBpfFilterAdd(ns.handle, idx, { direction: 'ingress', progFd: fd, name: 'nc_in', prio: 10 });
    tcBpfFilterAdd(ns.handle, idx, { direction: 'ingress', progFd: fd, name: 'nc_in_v6', prio: 5, protocol: 0x86dd, handle: 9 });
    tcBpfFilterAdd(ns.handle, idx, { direction: 'egress', progFd: fd, name: 'nc_out', prio: 20, directAction: false });
    tool('tc', ['-n', ns.name, 'filter', 'add', 'dev', 'ncv0', 'ingress', 'prio', '30', 'protocol', 'ip', 'u32', 'match', 'u32', '0', '0']);

    const ingress = tcFilterList(ns.handle, idx, TC_PARENT_INGRESS);
    const egress = tcFilterList(ns.handle, idx, TC_PARENT_EGRESS);
    const bpfOnly = (fs: TcJsonFilter[]): TcJsonFilter[] => fs.filter((f) => f.kind === 'bpf').map(tcOptions);
    expect(ingress.filter((f) => f.kind === 'bpf').map(asTc)).toEqual(bpfOnly(tcShow(ns, 'ingress')));
    expect(egress.map(asTc)).toEqual(bpfOnly(tcShow(ns, 'egress')));
    // u32 reports its hash table (800:) and the filter (800::800); tc shows both too (as `fh`).
    const u32 = ingress.filter((f) => f.kind === 'u32');
    expect(u32.map((f) => [f.handle, f.prio, protocolName(f.protocol)])).toEqual([[0x80000000, 30, 'ip'], [0x80000800, 30, 'ip']]);
    expect(tcShow(ns, 'ingress').filter((f) => f.kind === 'u32')).toHaveLength(2);

    expect(ingress.filter((f) => f.kind === 'bpf')).toEqual([
      expect.objectContaining({ ifindex: idx, parent: TC_PARENT_INGRESS, handle: 9, prio: 5, protocol: 0x86dd,
        bpf: expect.objectContaining({ name: 'nc_in_v6', progId: id, directAction: true }) }),
      expect.objectContaining({ handle: 1, prio: 10, protocol: 3, bpf: expect.objectContaining({ name: 'nc_in', progId: id }) }),
    ]);
    expect(egress).toEqual([expect.objectContaining({ parent: TC_PARENT_EGRESS, prio: 20, bpf: expect.objectContaining({ directAction: false }) })]);
    // The kernel's program id and tag agree with what tc prints for the program.
    const shown = tcShow(ns, 'egress')[0]!.options!.prog!;
    expect({ id: egress[0]!.bpf!.progId, tag: egress[0]!.bpf!.tag }).toEqual({ id: shown.id, tag: shown.tag });
  });

  it('refuses an invalid ifindex or parent before sending', () => {
    const ns = createNetns('tf');
    expect(() => tcFilterList(ns.handle, 0, TC_PARENT_INGRESS)).toThrow(ConfigError);
    expect(() => tcFilterList(ns.handle, 1, -1)).toThrow(ConfigError);
  });

  it('tcFilterDelete removes one filter as listed, or a whole prio with handle 0; a missing one is ENOENT', () => {
    const ns = createNetns('tf');
    const idx = vethIn(ns);
    const fd = bpfProgLoad('sched_cls', 'nc_tf_del', testLibc);
    clsactAdd(ns.handle, idx);
    for (const handle of [1, 2, 3]) tcBpfFilterAdd(ns.handle, idx, { direction: 'ingress', progFd: fd, name: `nc_d${handle}`, prio: 7, handle });
    tcBpfFilterAdd(ns.handle, idx, { direction: 'ingress', progFd: fd, name: 'nc_other', prio: 8, protocol: 0x0800 });
    const [f3] = tcFilterList(ns.handle, idx, TC_PARENT_INGRESS);
    expect(f3).toMatchObject({ handle: 3, prio: 7 });
    tcFilterDelete(ns.handle, idx, TC_PARENT_INGRESS, f3!);
    expect(tcShow(ns, 'ingress').map((f) => [f.pref, f.options!.handle])).toEqual([[7, '0x2'], [7, '0x1'], [8, '0x1']]);
    tcFilterDelete(ns.handle, idx, TC_PARENT_INGRESS, { handle: 0, prio: 7, protocol: 3, kind: 'bpf' });
    expect(tcShow(ns, 'ingress').map((f) => [f.pref, f.options!.handle])).toEqual([[8, '0x1']]);
    const gone = kernelError(() => tcFilterDelete(ns.handle, idx, TC_PARENT_INGRESS, f3!));
    expect(gone.errnoName).toBe('ENOENT');
    expect(gone.op).toBe('RTM_DELTFILTER');
  });
});
