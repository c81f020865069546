/**
 * Strict parsing of the opaque parameters of a device config: every problem
 * is reported with its field path, not just the first. Unknown fields are
 * errors (with a hint when the name is close to a known one); types, bounds
 * and formats are checked per field (fields.ts); fields are then checked
 * against each other (cross-field.ts), at each object, among the fields that
 * are valid throughout. `null` counts as absent, as it does for DraNet's Go
 * decoder. A parsed config is normalised, and parsing it again gives it back
 * unchanged.
 */
import { NETWORK_CONFIG } from './fields.ts';
import { IssueList, type ConfigIssue } from './issues.ts';
import type { AnyNode, IntegerNode, ListNode, MapNode, ObjectNode, PathSegment, StringNode } from './nodes.ts';
import type { NetworkConfig } from './types.ts';

/** The API's limit on opaque parameters (resource.k8s.io OpaqueParametersMaxLength). */
export const OPAQUE_PARAMETERS_MAX_BYTES = 10 * 1024;

/**
 * How deep parameters may nest. The schema nests a few levels; 10 KiB of JSON
 * can nest thousands deep, past what JSON.stringify's recursion survives.
 */
export const PARAMETERS_MAX_DEPTH = 32;

export type ParseResult<T> =
  | { readonly ok: true; readonly config: T }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

const FAIL: unique symbol = Symbol('fail');
type Parsed = unknown;

/** Parses decoded parameters (an object from JSON or YAML). `base` prefixes every path. */
export function parseNetworkConfig(value: unknown, base: readonly PathSegment[] = []): ParseResult<NetworkConfig> {
  const list = new IssueList(base);
  const deep = pathDeeperThan(value, PARAMETERS_MAX_DEPTH);
  if (deep !== undefined) {
    list.add(deep, `nested more than ${PARAMETERS_MAX_DEPTH} levels deep`);
    return { ok: false, issues: list.issues };
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    // a YAML alias can make a cycle; the API only carries JSON
    list.add([], `cannot be represented as JSON: ${(err as Error).message.split('\n')[0]!}`);
    return { ok: false, issues: list.issues };
  }
  const size = Buffer.byteLength(json ?? '', 'utf8');
  if (size > OPAQUE_PARAMETERS_MAX_BYTES) {
    list.add([], `parameters are ${size} bytes as JSON; the API allows at most ${OPAQUE_PARAMETERS_MAX_BYTES}`);
  }
  return finish(list, parseNode(NETWORK_CONFIG, value, [], list));
}

/**
 * The path of the first object or list nested deeper than `max`, found
 * without recursion; undefined also for a cycle, which JSON.stringify reports.
 */
function pathDeeperThan(value: unknown, max: number): PathSegment[] | undefined {
  const stack: ({ value: unknown; path: PathSegment[] } | { leave: object })[] = [{ value, path: [] }];
  const onPath = new Set<object>();
  while (stack.length > 0) {
    const at = stack.pop()!;
    if ('leave' in at) { onPath.delete(at.leave); continue; }
    const v = at.value;
    if (typeof v !== 'object' || v === null) continue;
    if (onPath.has(v)) return undefined;
    if (at.path.length >= max) return at.path;
    onPath.add(v);
    stack.push({ leave: v });
    if (Array.isArray(v)) v.forEach((item: unknown, i) => stack.push({ value: item, path: [...at.path, i] }));
    else for (const [k, item] of Object.entries(v)) stack.push({ value: item, path: [...at.path, /^[A-Za-z_][\w-]*$/.test(k) ? k : { key: k }] });
  }
  return undefined;
}

/** Checks a config built from parsed ones (a merge) again, without the size limit of a single entry. */
export function recheckNetworkConfig(config: NetworkConfig): ParseResult<NetworkConfig> {
  const list = new IssueList();
  return finish(list, parseNode(NETWORK_CONFIG, config, [], list));
}

function finish(list: IssueList, config: Parsed | typeof FAIL): ParseResult<NetworkConfig> {
  if (list.size > 0 || config === FAIL) return { ok: false, issues: list.issues };
  return { ok: true, config: config as NetworkConfig };
}

/** Parses raw JSON parameters, as they travel in a RawExtension. */
export function parseNetworkConfigJson(raw: string | Uint8Array, base: readonly PathSegment[] = []): ParseResult<NetworkConfig> {
  const text = typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const list = new IssueList(base);
    list.add([], `malformed JSON: ${(err as Error).message}`);
    return { ok: false, issues: list.issues };
  }
  return parseNetworkConfig(value, base);
}

export function parseNode(node: AnyNode, value: unknown, path: PathSegment[], out: IssueList): Parsed | typeof FAIL {
  switch (node.kind) {
    case 'string': return parseString(node, value, path, out);
    case 'integer': return parseInteger(node, value, path, out);
    case 'boolean':
      if (typeof value === 'boolean') return value;
      return fail(out, path, `must be true or false, got ${describe(value)}`);
    case 'list': return parseList(node, value, path, out);
    case 'map': return parseMap(node, value, path, out);
    case 'object': return parseObject(node, value, path, out);
  }
}

function fail(out: IssueList, path: readonly PathSegment[], message: string): typeof FAIL {
  out.add(path, message);
  return FAIL;
}

function parseString(node: StringNode, value: unknown, path: PathSegment[], out: IssueList): Parsed {
  if (typeof value !== 'string') return fail(out, path, `must be a string, got ${describe(value)}`);
  if (node.enum !== undefined && !node.enum.includes(value)) {
    return fail(out, path, `must be ${node.enum.map((e) => JSON.stringify(e)).join(' or ')}, got ${JSON.stringify(value)}`);
  }
  const chars = [...value].length;
  if (node.minLength !== undefined && chars < node.minLength) return fail(out, path, `must be at least ${node.minLength} characters`);
  if (node.maxLength !== undefined && chars > node.maxLength) return fail(out, path, `is ${chars} characters, at most ${node.maxLength} allowed`);
  const problem = node.check?.(value)
    ?? (node.pattern !== undefined && !regex(node.pattern).test(value) ? `${JSON.stringify(value)} does not match ${node.pattern}` : undefined);
  if (problem !== undefined) return fail(out, path, problem);
  return node.normalize ? node.normalize(value) : value;
}

function parseInteger(node: IntegerNode, value: unknown, path: PathSegment[], out: IssueList): Parsed {
  let n = value;
  if (typeof value === 'string' && node.names !== undefined) {
    n = Object.hasOwn(node.names, value) ? node.names[value] : undefined;
    if (n === undefined) return fail(out, path, `unknown name ${JSON.stringify(value)} (known: ${Object.keys(node.names).join(', ')}, or a number)`);
  }
  if (typeof n !== 'number' || !Number.isInteger(n)) {
    return fail(out, path, `must be an integer${node.names ? ' or a name' : ''}, got ${describe(value)}`);
  }
  if (node.values !== undefined && !node.values.includes(n)) return fail(out, path, `must be one of ${node.values.join(', ')}, got ${n}`);
  if (n < node.minimum) return fail(out, path, `must be at least ${node.minimum}, got ${n}`);
  if (n > node.maximum) return fail(out, path, `must be at most ${node.maximum}, got ${n}`);
  const refused = node.refused?.[n];
  if (refused !== undefined) return fail(out, path, `${n} ${refused} and cannot be used`);
  return n;
}

function parseList(node: ListNode, value: unknown, path: PathSegment[], out: IssueList): Parsed {
  if (!Array.isArray(value)) return fail(out, path, `must be a list, got ${describe(value)}`);
  if (value.length > node.maxItems) return fail(out, path, `has ${value.length} items, at most ${node.maxItems} allowed`);
  const items: unknown[] = [];
  const seen = new Map<string, number>();
  let failed = false;
  value.forEach((item: unknown, i) => {
    const v = parseNode(node.items, item, [...path, i], out);
    if (v === FAIL) { failed = true; return; }
    if (node.unique) {
      const key = JSON.stringify(v);
      const first = seen.get(key);
      if (first !== undefined) { failed = true; out.add([...path, i], `duplicate of item ${first}`); return; }
      seen.set(key, i);
    }
    items.push(v);
  });
  return failed ? FAIL : items;
}

function parseMap(node: MapNode, value: unknown, path: PathSegment[], out: IssueList): Parsed {
  if (!isPlainObject(value)) return fail(out, path, `must be a map, got ${describe(value)}`);
  const entries = Object.entries(value);
  if (entries.length > node.maxProperties) return fail(out, path, `has ${entries.length} entries, at most ${node.maxProperties} allowed`);
  const result: Record<string, unknown> = {};
  const before = out.size;
  const keyRe = regex(node.keys.pattern);
  for (const [k, v] of entries) {
    const at = [...path, { key: k }];
    if (Buffer.byteLength(k, 'utf8') > node.keys.maxLength || !keyRe.test(k)) {
      out.add(at, `${JSON.stringify(k)} is not a valid ${node.keys.description} (${node.keys.pattern}, at most ${node.keys.maxLength} bytes)`);
      continue;
    }
    if (v === null) continue;
    const parsed = parseNode(node.values, v, at, out);
    if (parsed !== FAIL) setOwn(result, k, parsed);
  }
  return out.size > before ? FAIL : result;
}

function parseObject(node: ObjectNode, value: unknown, path: PathSegment[], out: IssueList): Parsed {
  if (!isPlainObject(value)) return fail(out, path, `must be an object, got ${describe(value)}`);
  const seg = (k: string): PathSegment => (node.keyedPaths ? { key: k } : k);
  const before = out.size;
  for (const k of Object.keys(value)) {
    if (!Object.hasOwn(node.fields, k)) out.add([...path, seg(k)], unknownField(node, k));
  }
  const result: Record<string, unknown> = {};
  const failed = new Set<string>();
  for (const [k, field] of Object.entries(node.fields)) {
    const v = value[k];
    if (v === undefined || v === null) {
      if (field.required) { failed.add(k); out.add([...path, seg(k)], 'required'); }
      continue;
    }
    const parsed = parseNode(field, v, [...path, seg(k)], out);
    if (parsed === FAIL) failed.add(k);
    else result[k] = parsed;
  }
  // Cross-field checks see only the fields that are valid throughout.
  node.refine?.(result, (rel, message) => { out.add([...path, ...rel], message); }, failed);
  return out.size > before ? FAIL : result;
}

function unknownField(node: ObjectNode, key: string): string {
  const hint = node.unknownHints && Object.hasOwn(node.unknownHints, key) ? node.unknownHints[key] : closest(key, Object.keys(node.fields));
  return hint === undefined ? 'unknown field' : `unknown field (${hint})`;
}

/** `did you mean "mtu"?` for a name one or two edits away, or differing only in case. */
function closest(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const best = known
    .map((k) => ({ k, d: k.toLowerCase() === lower ? 0 : editDistance(lower, k.toLowerCase()) }))
    .sort((a, b) => a.d - b.d)[0];
  return best !== undefined && best.d <= Math.min(2, Math.floor(key.length / 3)) ? `did you mean "${best.k}"?` : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

const regexCache = new Map<string, RegExp>();
function regex(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (re === undefined) { re = new RegExp(pattern, 'u'); regexCache.set(pattern, re); }
  return re;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Defines `key` as an own property, so that a key like `__proto__` stays data. */
export function setOwn(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
}
