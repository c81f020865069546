/**
 * Registry of per-kind link codecs (IFLA_INFO_DATA): decoding what the kernel
 * reports for a kind, and encoding what creating one needs. One small file
 * per kind under kinds/.
 * (Placeholder API: implemented by the link-kinds work.)
 */
import type { NlWriter } from '../writer.ts';
import type { LinkKindData, LinkKindSpec } from './link-types.ts';

/** Decodes IFLA_INFO_DATA of `kind` at `buf[off, off+len)`. Unknown kinds → `{kind:'other', name}`. */
export function decodeKindData(kind: string, _buf: Buffer, _off: number, _len: number): LinkKindData {
  return { kind: 'other', name: kind };
}

/** Writes IFLA_INFO_KIND and IFLA_INFO_DATA for `spec` inside an open IFLA_LINKINFO nest. */
export function encodeKindSpec(_w: NlWriter, _spec: LinkKindSpec): void {
  throw new Error('not implemented');
}
