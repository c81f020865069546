/**
 * What JSON.parse does not say about a JSON text: keys given twice in one
 * object (JSON.parse keeps the last, silently, where YAML refuses them) and
 * nesting past a limit. One pass over text JSON.parse has already accepted,
 * without recursion, so any depth is safe to look at.
 */
import type { ConfigIssue } from '../../config/claim-config/issues.ts';
import { childPath, keySegment, pathText, type PathLink } from './input-limits.ts';

interface Level {
  readonly isObject: boolean;
  /** This level's path. */
  readonly path: PathLink | undefined;
  readonly keys: Set<string>;
  /** The key or index of the current member. */
  key: string | undefined;
  index: number;
  expectKey: boolean;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Duplicate keys (each with its path) and, first, nesting deeper than `maxDepth`. */
export function jsonStructureIssues(text: string, maxDepth: number): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const levels: Level[] = [];
  const memberPath = (l: Level | undefined): PathLink | undefined =>
    l === undefined ? undefined : childPath(l.path, l.isObject ? keySegment(l.key ?? '') : l.index);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const top = levels.at(-1);
    if (c === QUOTE) {
      const end = stringEnd(text, i);
      if (top?.isObject && top.expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        top.key = key;
        top.expectKey = false;
        if (top.keys.has(key)) issues.push({ path: pathText(memberPath(top)), message: `duplicate key ${JSON.stringify(key)} (JSON.parse would keep the last silently)` });
        top.keys.add(key);
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const path = memberPath(top);
      if (levels.length >= maxDepth) return [{ path: pathText(path), message: `nested more than ${maxDepth} levels deep` }];
      levels.push({ isObject: c === 0x7b, path, keys: new Set(), key: undefined, index: 0, expectKey: c === 0x7b });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      levels.pop();
    } else if (c === 0x2c /* , */ && top !== undefined) {
      if (top.isObject) top.expectKey = true;
      else top.index += 1;
    }
  }
  return issues;
}

/** The index of the quote closing the string that opens at `start`. */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) i += 2;
    else if (c === QUOTE) return i;
    else i += 1;
  }
  return text.length - 1;
}
