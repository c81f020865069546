/**
 * Bounds on a YAML document, checked without recursion before anything
 * recursive sees it: its nesting, on the parser's tokens (CST) before the
 * `yaml` composer builds nodes from them; then, on the composed document,
 * nesting through aliases, aliases that contain themselves, and the number of
 * values aliases stand for (input-limits.ts). Each problem names the field.
 */
import { CST, isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node } from 'yaml';
import type { ConfigIssue } from '../../config/claim-config/issues.ts';
import { childPath, keySegment, MAX_ALIAS_VALUES, MAX_NESTING, pathText, type PathLink } from './input-limits.ts';

interface TokenAt {
  readonly token: CST.Token | undefined;
  readonly path: PathLink | undefined;
  readonly depth: number;
}

/** Nesting deeper than MAX_NESTING in one document's tokens, named by the first path that goes there. */
export function cstNestingIssue(doc: CST.Document): ConfigIssue | undefined {
  const stack: TokenAt[] = [{ token: doc.value, path: undefined, depth: 0 }];
  while (stack.length > 0) {
    const { token, path, depth } = stack.pop()!;
    if (token === undefined) continue;
    if (token.type !== 'block-map' && token.type !== 'block-seq' && token.type !== 'flow-collection') continue;
    if (depth >= MAX_NESTING) return nestingIssue(path);
    const keyed = token.type === 'block-map' || (token.type === 'flow-collection' && token.start.source === '{');
    token.items.forEach((item, i) => {
      const segment = keyed ? keySegment(keyText(item.key)) : i;
      if (item.key) stack.push({ token: item.key, path: childPath(path, segment), depth: depth + 1 });
      stack.push({ token: item.value ?? undefined, path: childPath(path, segment), depth: depth + 1 });
    });
  }
  return undefined;
}

function keyText(key: CST.Token | null | undefined): string {
  // A malformed key is the composer's to report; here it only names a path.
  const scalar = key ? CST.resolveAsScalar(key, true, () => {}) : null;
  return scalar ? scalar.value : '?';
}

interface NodeAt {
  readonly node: unknown;
  readonly path: PathLink | undefined;
  readonly depth: number;
  /** Reached through an alias: a copy, counted against MAX_ALIAS_VALUES. */
  readonly copied: boolean;
}

/**
 * Walks the document as it will be once its aliases are copied out, and
 * stops at the first problem: nesting past MAX_NESTING, an alias without an
 * anchor or inside what it refers to, aliases adding more than
 * MAX_ALIAS_VALUES values, or a map or list as a key (JSON has none). The walk
 * itself is bounded: it visits each written node once, plus at most
 * MAX_ALIAS_VALUES copies.
 */
export function aliasIssue(doc: Document.Parsed): ConfigIssue | undefined {
  const stack: (NodeAt | { readonly leave: Node })[] = [{ node: doc.contents, path: undefined, depth: 0, copied: false }];
  const open = new Set<Node>(); // the collections on the way to the current node
  let copies = 0;
  while (stack.length > 0) {
    const at = stack.pop()!;
    if ('leave' in at) { open.delete(at.leave); continue; }
    const { node, path, depth } = at;
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (target === undefined) return { path: pathText(path), message: `YAML alias *${node.source} has no anchor &${node.source} before it` };
      if (open.has(target)) return { path: pathText(path), message: `YAML alias *${node.source} refers to a value that contains it` };
      stack.push({ node: target, path, depth, copied: true });
      continue;
    }
    if (at.copied && ++copies > MAX_ALIAS_VALUES) {
      return { path: pathText(path), message: `YAML aliases stand for more than ${MAX_ALIAS_VALUES} values in this document` };
    }
    if (!isMap(node) && !isSeq(node)) continue;
    if (depth >= MAX_NESTING) return nestingIssue(path);
    open.add(node);
    stack.push({ leave: node });
    const items: readonly unknown[] = node.items;
    for (let i = items.length - 1; i >= 0; i--) {
      const item = items[i];
      const next = { depth: depth + 1, copied: at.copied };
      if (isPair(item)) {
        // Kubernetes objects are JSON: a key is a string (or another scalar, written as one), never a map or a list.
        const key = isAlias(item.key) ? item.key.resolve(doc) : item.key;
        if (isAlias(item.key) && key === undefined) {
          return { path: pathText(path), message: `YAML alias *${item.key.source} (a map key) has no anchor &${item.key.source} before it` };
        }
        if (isMap(key) || isSeq(key)) return { path: pathText(path), message: 'a map key must be a scalar, not a map or a list' };
        stack.push({ node: item.value, path: childPath(path, keySegment(isScalar(key) ? String(key.value) : '?')), ...next });
      } else {
        stack.push({ node: item, path: childPath(path, i), ...next });
      }
    }
  }
  return undefined;
}

function nestingIssue(path: PathLink | undefined): ConfigIssue {
  return { path: pathText(path), message: `nested more than ${MAX_NESTING} levels deep` };
}
