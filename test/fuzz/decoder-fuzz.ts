/**
 * Fuzzing support for decoders: random bytes and mutations of valid seeds
 * (bit flips, truncations, length-field corruption) must only ever produce a
 * value or a ProtocolError — never another exception, a hang or an
 * out-of-range read.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { isDriverError } from '../../src/common/errors.ts';

export type Decoder = (buf: Buffer) => unknown;

/** An arbitrary that mutates one of the seed buffers. */
export function mutatedBytes(seeds: readonly Buffer[]): fc.Arbitrary<Buffer> {
  const seed = fc.constantFrom(...seeds);
  const flip = fc.tuple(seed, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([s, i, v]) => {
    const b = Buffer.from(s);
    if (b.length) b[i % b.length] = v;
    return b;
  });
  const truncate = fc.tuple(seed, fc.nat()).map(([s, n]) => Buffer.from(s.subarray(0, s.length ? n % s.length : 0)));
  const lengthField = fc.tuple(seed, fc.nat(), fc.integer({ min: 0, max: 0xffff })).map(([s, i, v]) => {
    const b = Buffer.from(s);
    if (b.length >= 2) b.writeUInt16LE(v, (i % (b.length - 1)) & ~1);
    return b;
  });
  const extend = fc.tuple(seed, fc.uint8Array({ maxLength: 64 })).map(([s, extra]) => Buffer.concat([s, extra]));
  return fc.oneof(flip, truncate, lengthField, extend);
}

/** Asserts that `decode` only returns or throws ProtocolError on random and mutated input. */
export function assertDecoderTotal(decode: Decoder, seeds: readonly Buffer[], numRuns = 2000): void {
  const input = seeds.length ? fc.oneof(fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)), mutatedBytes(seeds)) : fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a));
  fc.assert(
    fc.property(input, (buf) => {
      try {
        decode(buf);
      } catch (err) {
        expect(isDriverError(err) && (err.code === 'PROTOCOL_MALFORMED' || err.code === 'PROTOCOL_UNEXPECTED'), String(err)).toBe(true);
      }
    }),
    { numRuns },
  );
}

/** Reads a golden fixture written as hex (whitespace and `#` comments allowed). */
export function hexFixture(text: string): Buffer {
  return Buffer.from(text.replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex');
}
