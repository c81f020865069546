import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hexFixture } from '../../../test/fuzz/decoder-fuzz.ts';
import { attrTable, forEachAttr, readBytes, readString, readU16, readU32, readU64, readU8, walkAttrs } from './attrs.ts';
import { NLA_F_NESTED } from './constants.ts';
import { forEachMessage } from './message.ts';
import { NlWriter } from './writer.ts';

describe('NlWriter', () => {
  it('writes a message header, struct, attributes and a nest with exact bytes', () => {
    const w = new NlWriter(8); // tiny start: exercises growth
    w.beginMessage(16, 0x5, 7, 9).u8(0).u8(0).u16(1).s32(3).u32(1).u32(1);
    w.attrString(3, 'nc0');
    const n = w.nestStart(18);
    w.attrString(1, 'veth');
    w.attrU8(2, 0xab).attrU16(3, 0x1234).attrU32(4, 0xdeadbeef).attrU64(5, 0x0102030405060708n).attrFlag(6);
    w.nestEnd(n);
    w.endMessage();
    expect(w.bytes.toString('hex')).toBe(hexFixture(`
      60000000 1000 0500 07000000 09000000     # nlmsghdr len=96 type=16 flags=5 seq=7 pid=9
      00 00 0100 03000000 01000000 01000000    # ifinfomsg
      0800 0300 6e633000                        # IFLA_IFNAME "nc0\\0"
      3800 1280                                 # nest 18 | NLA_F_NESTED, len 56
        0900 0100 76657468 00 000000            # "veth\\0" + pad
        0500 0200 ab 000000                     # u8 + pad
        0600 0300 3412 0000                     # u16 + pad
        0800 0400 efbeadde                      # u32
        0c00 0500 0807060504030201              # u64
        0400 0600                               # flag
    `).toString('hex'));
  });

  it('writes big-endian values and raw bytes padded to 4', () => {
    const w = new NlWriter();
    w.attrU16be(1, 0x1234).attrU32be(2, 0x01020304).attrBytes(3, Buffer.from([1, 2, 3]));
    expect(w.bytes.toString('hex')).toBe('0600010012340000' + '0800020001020304' + '0700030001020300');
  });

  it('refuses to end a message twice or begin one inside another', () => {
    const w = new NlWriter();
    expect(() => w.endMessage()).toThrow(/no message/);
    w.beginMessage(1, 0);
    expect(() => w.beginMessage(1, 0)).toThrow(/not ended/);
  });

  it('rejects attributes longer than 64 KiB', () => {
    expect(() => new NlWriter().attrBytes(1, Buffer.alloc(70000))).toThrow(RangeError);
  });

  it('holds several messages in one buffer (a batch)', () => {
    const w = new NlWriter();
    for (let i = 0; i < 3; i++) w.beginMessage(20 + i, 0).attrU32(1, i).endMessage();
    const seen: number[] = [];
    forEachMessage(w.bytes, w.length, (m) => { seen.push(m.type, readU32(w.bytes, m.off + 4, 4)); });
    expect(seen).toEqual([20, 0, 21, 1, 22, 2]);
  });

  it('round-trips random attribute sets through walkAttrs', () => {
    type A = { t: number; kind: 'u8' | 'u16' | 'u32' | 'u64' | 'str' | 'bytes'; v: number | bigint | string | Uint8Array };
    const attr = fc.oneof(
      fc.record({ t: fc.integer({ min: 1, max: 200 }), kind: fc.constant('u8' as const), v: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ t: fc.integer({ min: 1, max: 200 }), kind: fc.constant('u16' as const), v: fc.integer({ min: 0, max: 0xffff }) }),
      fc.record({ t: fc.integer({ min: 1, max: 200 }), kind: fc.constant('u32' as const), v: fc.integer({ min: 0, max: 0xffffffff }) }),
      fc.record({ t: fc.integer({ min: 1, max: 200 }), kind: fc.constant('u64' as const), v: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
      fc.record({ t: fc.integer({ min: 1, max: 200 }), kind: fc.constant('str' as const), v: fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).filter((s) => !s.includes('\0')) }),
      fc.record({ t: fc.integer({ min: 1, max: 200 }), kind: fc.constant('bytes' as const), v: fc.uint8Array({ maxLength: 40 }) }),
    ) as fc.Arbitrary<A>;
    fc.assert(fc.property(fc.array(attr, { maxLength: 20 }), (attrs) => {
      const w = new NlWriter(16);
      const nest = w.nestStart(99);
      for (const a of attrs) {
        if (a.kind === 'u8') w.attrU8(a.t, a.v as number);
        else if (a.kind === 'u16') w.attrU16(a.t, a.v as number);
        else if (a.kind === 'u32') w.attrU32(a.t, a.v as number);
        else if (a.kind === 'u64') w.attrU64(a.t, a.v as bigint);
        else if (a.kind === 'str') w.attrString(a.t, a.v as string);
        else w.attrBytes(a.t, a.v as Uint8Array);
      }
      w.nestEnd(nest);
      const buf = Buffer.from(w.bytes);
      const decoded: unknown[] = [];
      forEachAttr(buf, 0, buf.length, (type, off, len) => {
        expect(type).toBe(99);
        expect(buf.readUInt16LE(2) & NLA_F_NESTED).toBe(NLA_F_NESTED);
        let i = 0;
        forEachAttr(buf, off, off + len, (t, o, l) => {
          const a = attrs[i++]!;
          expect(t).toBe(a.t);
          decoded.push(a.kind === 'u8' ? readU8(buf, o, l) : a.kind === 'u16' ? readU16(buf, o, l) : a.kind === 'u32' ? readU32(buf, o, l)
            : a.kind === 'u64' ? readU64(buf, o, l) : a.kind === 'str' ? readString(buf, o, l) : new Uint8Array(readBytes(buf, o, l)));
        });
      });
      expect(decoded).toEqual(attrs.map((a) => a.v));
    }), { numRuns: 300 });
  });

  it('dispatches through a table built once and skips unknown types', () => {
    const w = new NlWriter();
    w.attrU32(1, 5).attrString(7, 'x').attrU32(2, 6);
    const table = attrTable<{ a?: number; b?: number }>({
      1: (b, o, l, out) => { out.a = readU32(b, o, l); },
      2: (b, o, l, out) => { out.b = readU32(b, o, l); },
    });
    const out: { a?: number; b?: number } = {};
    walkAttrs(Buffer.from(w.bytes), 0, w.length, table, out);
    expect(out).toEqual({ a: 5, b: 6 });
  });
});
