import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertDecoderTotal } from '../../../../test/fuzz/decoder-fuzz.ts';
import { NLM_F_CREATE, NLM_F_EXCL } from '../constants.ts';
import { forEachMessage } from '../message.ts';
import { NlWriter } from '../writer.ts';
import { RTM } from './rtnl-constants.ts';
import {
  decodeTcFilter, decodeTcFilterPayload, encodeTcFilter, encodeTcFilterDump, encodeTcMsg, protocolName, tcFilterInfo,
} from './tc-filter-codec.ts';
import { TCA, TCA_BPF, TC_PARENT_EGRESS, TC_PARENT_INGRESS } from './tc-filter-constants.ts';
import type { TcFilter } from './tc-filter-types.ts';
import { goldenFixture } from '../../../../test/fixtures/golden.ts';

const FIXTURES = [
  'ingress-bpf-prio10-1', 'ingress-prio10-head', 'egress-bpf-prio20-5', 'egress-prio20-head', 'ingress-u32-prio30-80000800',
] as const;
const fixture = (name: string): Buffer => goldenFixture(`tc/${name}`);

function decodeFixture(name: string): TcFilter | undefined {
  const buf = fixture(name);
  const out: (TcFilter | undefined)[] = [];
  forEachMessage(buf, buf.length, (m) => { out.push(decodeTcFilter(buf, m)); });
  expect(out).toHaveLength(1);
  return out[0];
}

/** The program the capture script loaded (id 102 on the capturing kernel) and its tag. */
const prog = { progId: 102, tag: '59f4a931744dcdc6' };

describe('decodeTcFilter (golden kernel bytes, Linux 6.18)', () => {
  it('decodes a named direct-action cls_bpf filter on clsact ingress', () => {
    expect(decodeFixture('ingress-bpf-prio10-1')).toEqual({
      ifindex: 3, parent: TC_PARENT_INGRESS, handle: 1, prio: 10, protocol: 0x0003, kind: 'bpf', chain: 0,
      bpf: { name: 'nc_ingress_da', ...prog, directAction: true, genFlags: 8 /* TCA_CLS_FLAGS_NOT_IN_HW */ },
    });
  });

  it('decodes a filter without direct-action (no TCA_BPF_FLAGS) with its own handle and protocol ip on egress', () => {
    expect(decodeFixture('egress-bpf-prio20-5')).toEqual({
      ifindex: 3, parent: TC_PARENT_EGRESS, handle: 5, prio: 20, protocol: 0x0800, kind: 'bpf', chain: 0,
      bpf: { name: 'nc_egress', ...prog, directAction: false, genFlags: 8 },
    });
  });

  it('skips the handle-0 prio heads', () => {
    expect(decodeFixture('ingress-prio10-head')).toBeUndefined();
    expect(decodeFixture('egress-prio20-head')).toBeUndefined();
  });

  it('decodes other classifiers without their options', () => {
    expect(decodeFixture('ingress-u32-prio30-80000800')).toEqual({
      ifindex: 3, parent: TC_PARENT_INGRESS, handle: 0x80000800, prio: 30, protocol: 3, kind: 'u32', chain: 0,
    });
  });

  it('ignores messages of other types and rejects a filter without TCA_KIND or a short tcmsg', () => {
    const b = fixture('ingress-bpf-prio10-1');
    expect(decodeTcFilter(b, { type: RTM.RTM_NEWQDISC, flags: 0, seq: 0, pid: 0, off: 16, len: b.length - 16 })).toBeUndefined();
    const noKind = Buffer.from(b.subarray(16, 36));
    expect(() => decodeTcFilterPayload(noKind)).toThrow(/without TCA_KIND/);
    expect(() => decodeTcFilterPayload(Buffer.alloc(19))).toThrow(/tcmsg needs 20 bytes/);
  });
});

describe('tc filter requests (exact bytes)', () => {
  const hex = (w: NlWriter): string => w.bytes.toString('hex');

  it('struct tcmsg and tcm_info', () => {
    expect(hex(encodeTcMsg(new NlWriter(), { ifindex: 3, handle: 1, parent: TC_PARENT_INGRESS, info: tcFilterInfo(10, 3) })))
      .toBe('00000000' + '03000000' + '01000000' + 'f2ffffff' + '00030a00');
    expect(tcFilterInfo(0xffff, 0x86dd)).toBe(0xffffdd86);
  });

  it('RTM_GETTFILTER dump of clsact egress', () => {
    expect(hex(encodeTcFilterDump(new NlWriter(), 7, TC_PARENT_EGRESS))).toBe(
      '24000000' + '2e00' + '0000' + '00000000' + '00000000' + '00000000' + '07000000' + '00000000' + 'f3ffffff' + '00000000');
  });

  it('RTM_NEWTFILTER cls_bpf with fd, name and direct-action', () => {
    const w = encodeTcFilter(new NlWriter(), RTM.RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, {
      ifindex: 3, parent: TC_PARENT_INGRESS, prio: 10, protocol: 3, kind: 'bpf', bpf: { fd: 9, name: 'ab' },
    });
    expect(hex(w)).toBe([
      '48000000', '2c00', '0006', '00000000', '00000000',
      '00000000', '03000000', '00000000', 'f2ffffff', '00030a00',
      '08000100', '62706600', // TCA_KIND "bpf"
      '1c000280', // TCA_OPTIONS | NLA_F_NESTED
      '08000600', '09000000', // TCA_BPF_FD
      '07000700', '61620000', // TCA_BPF_NAME "ab"
      '08000800', '01000000', // TCA_BPF_FLAGS ACT_DIRECT
    ].join(''));
  });

  it('RTM_DELTFILTER of one filter in a chain (no options)', () => {
    const w = encodeTcFilter(new NlWriter(), RTM.RTM_DELTFILTER, 0, {
      ifindex: 3, parent: TC_PARENT_EGRESS, handle: 5, prio: 20, protocol: 0x0800, kind: 'bpf', chain: 2,
    });
    expect(hex(w)).toBe('34000000' + '2d00' + '0000' + '0000000000000000' + '00000000' + '03000000' + '05000000' + 'f3ffffff' +
      '08001400' + '08000100' + '62706600' + '08000b00' + '02000000');
  });

  it('names protocols as tc does', () => {
    expect([3, 0x0800, 0x86dd, 0x8100, 0x88a8, 0x88cc, 0x88b5].map(protocolName))
      .toEqual(['all', 'ip', 'ipv6', '802.1Q', '802.1ad', 'LLDP', '[34997]']);
  });
});

// ---- randomized round trips ----------------------------------------------

/** A filter message as the kernel sends it, built with the request encoder plus the dump-only attributes. */
function newFilterMessage(f: TcFilter): Buffer {
  const w = new NlWriter();
  w.beginMessage(RTM.RTM_NEWTFILTER, 0);
  encodeTcMsg(w, { ifindex: f.ifindex, handle: f.handle, parent: f.parent, info: tcFilterInfo(f.prio, f.protocol) });
  w.attrString(TCA.TCA_KIND, f.kind);
  if (f.chain !== undefined) w.attrU32(TCA.TCA_CHAIN, f.chain);
  if (f.bpf !== undefined) {
    const b = f.bpf;
    const n = w.nestStart(TCA.TCA_OPTIONS);
    if (b.classid !== undefined) w.attrU32(TCA_BPF.TCA_BPF_CLASSID, b.classid);
    if (b.name !== undefined) w.attrString(TCA_BPF.TCA_BPF_NAME, b.name);
    if (b.progId !== undefined) w.attrU32(TCA_BPF.TCA_BPF_ID, b.progId);
    if (b.tag !== undefined) w.attrBytes(TCA_BPF.TCA_BPF_TAG, Buffer.from(b.tag, 'hex'));
    if (b.directAction) w.attrU32(TCA_BPF.TCA_BPF_FLAGS, 1);
    if (b.genFlags !== undefined) w.attrU32(TCA_BPF.TCA_BPF_FLAGS_GEN, b.genFlags);
    w.nestEnd(n);
  }
  w.endMessage();
  return Buffer.from(w.bytes);
}

const u32 = fc.nat({ max: 0xffff_ffff });
const filterArb: fc.Arbitrary<TcFilter> = fc.record({
  ifindex: fc.integer({ min: 1, max: 0x7fff_ffff }),
  parent: u32,
  handle: fc.integer({ min: 1, max: 0xffff_ffff }),
  prio: fc.nat({ max: 0xffff }),
  protocol: fc.nat({ max: 0xffff }),
  kind: fc.constantFrom('bpf', 'u32', 'flower'),
  chain: u32,
}, { requiredKeys: ['ifindex', 'parent', 'handle', 'prio', 'protocol', 'kind'] }).chain((f) => (f.kind !== 'bpf' ? fc.constant(f) : fc.record({
  name: fc.stringMatching(/^[A-Za-z0-9_.:-]{0,40}$/),
  progId: u32,
  tag: fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from(b).toString('hex')),
  directAction: fc.boolean(),
  genFlags: u32,
  classid: u32,
}, { requiredKeys: ['directAction'] }).map((bpf) => ({ ...f, bpf }))));

describe('tc filter round trip (RTM_NEWTFILTER → decode)', () => {
  it('decodes every field it encodes', () => {
    fc.assert(fc.property(filterArb, (f) => {
      const buf = newFilterMessage(f);
      expect(decodeTcFilterPayload(buf, 16)).toEqual(f);
    }), { numRuns: 500 });
  });
});

describe('decodeTcFilter is total', () => {
  it('only returns or throws ProtocolError on malformed input', () => {
    assertDecoderTotal((b) => decodeTcFilterPayload(b), FIXTURES.map((n) => fixture(n).subarray(16)));
    assertDecoderTotal((b) => forEachMessage(b, b.length, (m) => { decodeTcFilter(b, m); }), FIXTURES.map(fixture));
  });
});
