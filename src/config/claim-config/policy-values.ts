/**
 * The values a DeviceClass policy names (policy.ts): field paths of the
 * claim configuration, and MAC ranges. Kept apart from fields.ts, which
 * hands in the root node, so that the definition does not import itself.
 */
import { parseMac } from './net-values.ts';
import type { AnyNode, ObjectNode } from './nodes.ts';

/** Top-level fields no policy can name: the policy itself and the document's type. */
const NOT_NAMEABLE = new Set(['policy', 'apiVersion', 'kind']);

/**
 * Why `path` (`interface.mtu`, `ethtool.privateFlags`) is not a field path a
 * policy can name, or undefined. Paths go through objects only: a list, a
 * map or `interface.sysctls` is named whole (sysctl keys go in policy.sysctls).
 */
export function fieldPathProblem(root: ObjectNode, path: string): string | undefined {
  const names = path.split('.');
  if (NOT_NAMEABLE.has(names[0]!)) return `"${path}" cannot be named in a policy`;
  let node: AnyNode = root;
  for (const [i, name] of names.entries()) {
    if (node.kind !== 'object' || (i > 0 && node.keyedPaths === true)) {
      return `"${path}" goes inside ${names.slice(0, i).join('.')}, which a policy names whole`;
    }
    if (!Object.hasOwn(node.fields, name)) return `"${path}" is not a field of the claim configuration (${names.slice(0, i + 1).join('.')} is unknown)`;
    node = node.fields[name]!;
  }
  return undefined;
}

export interface MacRange {
  readonly prefix: Buffer;
  readonly bits: number;
}

/** `02:00:00:00:00:00/8` → the 6-byte prefix and its length in bits, or undefined. */
export function parseMacRange(s: string): MacRange | undefined {
  const slash = s.lastIndexOf('/');
  if (slash < 0 || !/^\d{1,2}$/.test(s.slice(slash + 1))) return undefined;
  const prefix = parseMac(s.slice(0, slash));
  const bits = Number(s.slice(slash + 1));
  if (prefix === undefined || prefix.length !== 6 || bits > 48) return undefined;
  return { prefix, bits };
}

export function macRangeProblem(s: string): string | undefined {
  return parseMacRange(s) === undefined
    ? `"${s}" is not a MAC range (a 6-byte MAC, "/" and a prefix length 0 to 48, like 02:42:ac:00:00:00/24)`
    : undefined;
}

/** Lower-case colon form, host bits cleared: `02:42:AC:11:00:00/24` → `02:42:ac:00:00:00/24`. */
export function canonicalMacRange(s: string): string {
  const r = parseMacRange(s);
  if (r === undefined) return s;
  const bytes = [...r.prefix].map((b, i) => b & maskByte(r.bits, i));
  return `${bytes.map((b) => b.toString(16).padStart(2, '0')).join(':')}/${r.bits}`;
}

const maskByte = (bits: number, i: number): number => {
  const left = bits - i * 8;
  return left >= 8 ? 0xff : left <= 0 ? 0 : (0xff << (8 - left)) & 0xff;
};

/** Whether the 6-byte `mac` lies in `range`. */
export function macInRange(mac: Buffer, range: MacRange): boolean {
  return mac.length === 6 && [...mac].every((b, i) => (b & maskByte(range.bits, i)) === (range.prefix[i]! & maskByte(range.bits, i)));
}
