import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../common/errors.ts';
import { assertDecoderTotal } from '../../../test/fuzz/decoder-fuzz.ts';
import { attrTable, readHwAddr, readS32, readString, readU16be, readU32, readU32be, walkAttrs } from './attrs.ts';
import { NlWriter } from './writer.ts';

const sample = (): Buffer => {
  const w = new NlWriter();
  w.attrU32(1, 7).attrString(2, 'eth0');
  const n = w.nestStart(3);
  w.attrU16be(1, 4789).attrBytes(2, Buffer.from([0xde, 0xad, 0xbe, 0xef, 0, 1]));
  w.nestEnd(n);
  return Buffer.from(w.bytes);
};

const NESTED = attrTable<Record<string, unknown>>({
  1: (b, o, l, out) => { out['port'] = readU16be(b, o, l); },
  2: (b, o, l, out) => { out['mac'] = readHwAddr(b, o, l); },
});
const TOP = attrTable<Record<string, unknown>>({
  1: (b, o, l, out) => { out['u32'] = readU32(b, o, l); },
  2: (b, o, l, out) => { out['name'] = readString(b, o, l); },
  3: (b, o, l, out) => { walkAttrs(b, o, o + l, NESTED, out); },
});
const decodeSample = (buf: Buffer): Record<string, unknown> => {
  const out = {};
  walkAttrs(buf, 0, buf.length, TOP, out);
  return out;
};

describe('attribute decoding', () => {
  it('decodes nested attributes in place', () => {
    expect(decodeSample(sample())).toEqual({ u32: 7, name: 'eth0', port: 4789, mac: 'de:ad:be:ef:00:01' });
  });

  it('rejects an attribute whose length overruns its container', () => {
    const b = sample();
    b.writeUInt16LE(200, 0);
    expect(() => decodeSample(b)).toThrow(ProtocolError);
  });

  it('rejects an attribute shorter than its header', () => {
    const b = sample();
    b.writeUInt16LE(2, 0);
    expect(() => decodeSample(b)).toThrow(ProtocolError);
  });

  it('rejects a fixed-size read of a too-short payload', () => {
    const w = new NlWriter();
    w.attrU16(1, 3); // a u16 where a u32 is expected
    expect(() => decodeSample(Buffer.from(w.bytes))).toThrow(/u32 attribute needs 4 bytes/);
    expect(() => readS32(Buffer.alloc(8), 0, 2)).toThrow(ProtocolError);
    expect(() => readU32be(Buffer.alloc(8), 0, 3)).toThrow(ProtocolError);
  });

  it('rejects regions outside the buffer', () => {
    expect(() => walkAttrs(Buffer.alloc(4), 0, 8, TOP, {})).toThrow(ProtocolError);
  });

  it('reads unterminated strings up to the attribute end', () => {
    expect(readString(Buffer.from('abcdef'), 1, 3)).toBe('bcd');
  });

  it('only ever raises ProtocolError on random and mutated input', () => {
    assertDecoderTotal(decodeSample, [sample()], 5000);
  });
});
