import { describe, expect, it } from 'vitest';
import { assertDecoderTotal } from '../../../test/fuzz/decoder-fuzz.ts';
import {
  ID_ATTR_LEN, INFO_ATTR_LEN, LINK_CREATE_ATTR_LEN, LINK_INFO_LEN, PROG_ATTACH_ATTR_LEN, PROG_INFO_LEN, QUERY_ATTR_LEN,
  decodeLinkInfo, decodeProgInfo, encodeIdAttr, encodeInfoAttr, encodeLinkCreateAttr, encodeProgAttachAttr,
  encodeProgQueryAttr,
} from './bpf-attr.ts';
import { BPF_ATTACH_TYPE, BPF_CMD, BPF_LINK_TYPE, XDP_FLAGS, bpfCmdOp } from './bpf-constants.ts';
import { goldenFixture } from '../../../test/fixtures/golden.ts';

const fixture = (name: string): Buffer => goldenFixture(`bpf/${name}`);

/** Little-endian hex of u32 / u64 fields, for readable expectations. */
const u32 = (v: number): string => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b.toString('hex'); };
const u64 = (v: bigint): string => { const b = Buffer.alloc(8); b.writeBigUInt64LE(v); return b.toString('hex'); };

describe('union bpf_attr layouts (exact bytes)', () => {
  it('BPF_*_GET_FD_BY_ID / BPF_*_GET_NEXT_ID: id @0, next_id @4, open_flags @8', () => {
    const a = encodeIdAttr(0xdeadbeef);
    expect(a).toHaveLength(ID_ATTR_LEN);
    expect(a.toString('hex')).toBe(u32(0xdeadbeef) + u32(0) + u32(0));
  });

  it('BPF_OBJ_GET_INFO_BY_FD: bpf_fd @0, info_len @4, info @8', () => {
    const a = encodeInfoAttr(7, PROG_INFO_LEN, 0x7f00_1234_5678n);
    expect(a).toHaveLength(INFO_ATTR_LEN);
    expect(a.toString('hex')).toBe(u32(7) + u32(88) + u64(0x7f00_1234_5678n));
  });

  it('BPF_PROG_QUERY (6.6+): ifindex, attach_type, flags, prog_ids @16, count @24, link_ids @40, 64 bytes', () => {
    const a = encodeProgQueryAttr({
      ifindex: 3, attachType: BPF_ATTACH_TYPE.BPF_TCX_EGRESS, count: 64, progIds: 0x1000n, linkIds: 0x2000n,
    });
    expect(a).toHaveLength(QUERY_ATTR_LEN);
    expect(a.toString('hex')).toBe([
      u32(3), u32(47), u32(0), u32(0), // target_ifindex, attach_type, query_flags, attach_flags (out)
      u64(0x1000n), u32(64), u32(0), // prog_ids, count, pad
      u64(0n), u64(0x2000n), u64(0n), // prog_attach_flags, link_ids, link_attach_flags
      u64(0n), // revision (out)
    ].join(''));
  });

  it('BPF_PROG_ATTACH / BPF_PROG_DETACH: target @0, attach_bpf_fd @4, attach_type @8, attach_flags @12, 32 bytes', () => {
    const a = encodeProgAttachAttr({ target: 3, progFd: 11, attachType: BPF_ATTACH_TYPE.BPF_TCX_INGRESS, flags: 0x10 });
    expect(a).toHaveLength(PROG_ATTACH_ATTR_LEN);
    expect(a.toString('hex')).toBe(u32(3) + u32(11) + u32(46) + u32(0x10) + u32(0) + u32(0) + u64(0n));
  });

  it('BPF_LINK_CREATE: prog_fd @0, target @4, attach_type @8, flags @12, 32 bytes', () => {
    const a = encodeLinkCreateAttr({ progFd: 12, target: 5, attachType: BPF_ATTACH_TYPE.BPF_XDP, flags: XDP_FLAGS.XDP_FLAGS_SKB_MODE });
    expect(a).toHaveLength(LINK_CREATE_ATTR_LEN);
    expect(a.toString('hex')).toBe(u32(12) + u32(5) + u32(37) + u32(2) + u32(0) + u32(0) + u64(0n));
  });

  it('names commands for KernelError ops', () => {
    expect(bpfCmdOp(BPF_CMD.BPF_PROG_QUERY)).toBe('bpf(BPF_PROG_QUERY)');
    expect(bpfCmdOp(999)).toBe('bpf(cmd 999)');
  });
});

describe('bpf info decoders (golden kernel bytes, Linux 6.18)', () => {
  it('decodes struct bpf_prog_info: type, id, tag, name', () => {
    expect(decodeProgInfo(fixture('prog-info-sched-cls'))).toEqual({ type: 3, id: 103, tag: '59f4a931744dcdc6', name: 'nc_cls' });
    expect(decodeProgInfo(fixture('prog-info-xdp'))).toEqual({ type: 6, id: 104, tag: '614b434cd8324ecc', name: 'nc_xdp' });
  });

  it('decodes a 15-character name that fills its field without a NUL', () => {
    const b = Buffer.from(fixture('prog-info-xdp'));
    b.fill(0x61, 64, 80);
    expect(decodeProgInfo(b).name).toBe('a'.repeat(16));
  });

  it('decodes struct bpf_link_info of tcx (ifindex, attach_type) and XDP (ifindex) links', () => {
    expect(decodeLinkInfo(fixture('link-info-tcx'))).toEqual({
      type: BPF_LINK_TYPE.BPF_LINK_TYPE_TCX, id: 91, progId: 103, ifindex: 3, attachType: 46,
    });
    expect(decodeLinkInfo(fixture('link-info-xdp'))).toEqual({ type: BPF_LINK_TYPE.BPF_LINK_TYPE_XDP, id: 92, progId: 104, ifindex: 3 });
  });

  it('decodes other link types without an ifindex', () => {
    const b = Buffer.from(fixture('link-info-xdp'));
    b.writeUInt32LE(3 /* BPF_LINK_TYPE_CGROUP */, 0);
    expect(decodeLinkInfo(b)).toEqual({ type: 3, id: 92, progId: 104 });
  });

  it('rejects short info buffers with ProtocolError', () => {
    expect(() => decodeProgInfo(Buffer.alloc(79))).toThrow(/bpf_prog_info needs 80 bytes/);
    expect(() => decodeLinkInfo(Buffer.alloc(11))).toThrow(/bpf_link_info needs 12 bytes/);
    expect(() => decodeLinkInfo(fixture('link-info-tcx').subarray(0, 20))).toThrow(/type 11 needs 24 bytes/);
  });

  it('requests as many bytes as the fixtures hold', () => {
    expect(fixture('prog-info-xdp')).toHaveLength(PROG_INFO_LEN);
    expect(fixture('link-info-tcx')).toHaveLength(LINK_INFO_LEN);
  });
});

describe('bpf info decoders are total', () => {
  it('only return or throw ProtocolError on malformed input', () => {
    assertDecoderTotal(decodeProgInfo, [fixture('prog-info-sched-cls'), fixture('prog-info-xdp')]);
    assertDecoderTotal(decodeLinkInfo, [fixture('link-info-tcx'), fixture('link-info-xdp')]);
  });
});
