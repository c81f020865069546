/**
 * Resolves the ethtool names a claim asks for against the names the device
 * reports, before anything is changed: `ethtool.features` keys may be kernel
 * feature names (`rx-gro`, as `ethtool -k` prints them), ethtool(8)'s legacy
 * short and long names (`gro`, `generic-receive-offload`), or a glob with
 * `*`. Legacy names stand for a pattern of kernel names, as in ethtool's
 * `off_flag_def` table (common.c): `tx` is every `tx-checksum-*` feature,
 * `tso` every `tx-tcp*-segmentation` one. Private flags resolve by exact
 * name only (they are driver-defined; ethtool has no aliases for them).
 *
 * Pure: the device's names come from the host snapshot.
 */
import type { ConfigIssue } from '../../config/claim-config/issues.ts';

/** ethtool(8)'s legacy offload names: short name, long name, the kernel-name pattern they stand for. */
export const LEGACY_FEATURE_NAMES: readonly (readonly [short: string, long: string, pattern: string])[] = [
  ['rx', 'rx-checksumming', 'rx-checksum'],
  ['tx', 'tx-checksumming', 'tx-checksum-*'],
  ['sg', 'scatter-gather', 'tx-scatter-gather*'],
  ['tso', 'tcp-segmentation-offload', 'tx-tcp*-segmentation'],
  ['ufo', 'udp-fragmentation-offload', 'tx-udp-fragmentation'],
  ['gso', 'generic-segmentation-offload', 'tx-generic-segmentation'],
  ['gro', 'generic-receive-offload', 'rx-gro'],
  ['lro', 'large-receive-offload', 'rx-lro'],
  ['rxvlan', 'rx-vlan-offload', 'rx-vlan-hw-parse'],
  ['txvlan', 'tx-vlan-offload', 'tx-vlan-hw-insert'],
  ['ntuple', 'ntuple-filters', 'rx-ntuple-filter'],
  ['rxhash', 'receive-hashing', 'rx-hashing'],
];

/** A glob with `*` (any run of characters, possibly empty) as an anchored RegExp. */
export function globRegExp(glob: string): RegExp {
  const body = glob.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&')).join('.*');
  return new RegExp(`^${body}$`, 'u');
}

/** Legacy name (short or long) → its pattern, compiled once. */
const LEGACY: ReadonlyMap<string, { readonly pattern: string; readonly re: RegExp }> = new Map(
  LEGACY_FEATURE_NAMES.flatMap(([short, long, pattern]) => {
    const entry = { pattern, re: globRegExp(pattern) };
    return [[short, entry], [long, entry]] as const;
  }),
);

export type FeatureResolution =
  | { readonly ok: true; readonly features: Readonly<Record<string, boolean>> }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

export type PrivateFlagResolution =
  | { readonly ok: true; readonly flags: Readonly<Record<string, boolean>> }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

type Targets = { readonly names: readonly string[]; readonly via?: string } | undefined;

/** The kernel names one requested name stands for; `undefined` when it is no kind of name the device could have. */
function targetsOf(name: string, known: readonly string[], knownSet: ReadonlySet<string>): Targets {
  if (knownSet.has(name)) return { names: [name] };
  const legacy = LEGACY.get(name);
  if (legacy !== undefined) return { names: known.filter((k) => legacy.re.test(k)), via: legacy.pattern };
  if (name.includes('*')) {
    const re = globRegExp(name);
    return { names: known.filter((k) => re.test(k)), via: name };
  }
  return undefined;
}

/**
 * Kernel feature name → on/off for every requested name, or the problems:
 * a name the device does not have (with the closest names it does have), a
 * legacy name or glob that matches none of its features, and two requested
 * names that set one kernel feature to different values.
 */
export function resolveFeatureNames(requested: Readonly<Record<string, boolean>>, known: readonly string[]): FeatureResolution {
  const knownSet = new Set(known);
  const features: Record<string, boolean> = {};
  const setBy = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  for (const [name, on] of Object.entries(requested)) {
    const path = `ethtool.features[${name}]`;
    const t = targetsOf(name, known, knownSet);
    if (t === undefined) {
      issues.push({ path, message: `the device has no feature "${name}"${closeNamesText(name, [...known, ...LEGACY.keys()])}` });
      continue;
    }
    if (t.names.length === 0) {
      issues.push({ path, message: `"${name}" stands for ${t.via}, which matches none of the device's features` });
      continue;
    }
    const clashes: string[] = [];
    for (const k of t.names) {
      const prev = setBy.get(k);
      if (prev !== undefined && features[k] !== on) clashes.push(k);
      else if (prev === undefined) {
        features[k] = on;
        setBy.set(k, name);
      }
    }
    if (clashes.length > 0) {
      const others = [...new Set(clashes.map((k) => setBy.get(k)!))].map((o) => `ethtool.features[${o}]`).join(', ');
      issues.push({
        path,
        message: `sets ${clashes.join(', ')} ${on ? 'on' : 'off'}, but ${others} sets ${clashes.length === 1 ? 'it' : 'them'} ${on ? 'off' : 'on'}`,
      });
    }
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, features };
}

/** Private flag → on/off, each requested name checked against the flags the driver reports. */
export function resolvePrivateFlags(requested: Readonly<Record<string, boolean>>, known: readonly string[]): PrivateFlagResolution {
  const knownSet = new Set(known);
  const flags: Record<string, boolean> = {};
  const issues: ConfigIssue[] = [];
  for (const [name, on] of Object.entries(requested)) {
    if (knownSet.has(name)) flags[name] = on;
    else {
      const has = known.length === 0 ? ' (its driver reports none)' : closeNamesText(name, known);
      issues.push({ path: `ethtool.privateFlags[${name}]`, message: `the device has no private flag "${name}"${has}` });
    }
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, flags };
}

const MAX_CLOSE = 5;

/** `; close names: a, b` for the candidates nearest `name` (edit distance or substring), or `` when none is near. */
function closeNamesText(name: string, candidates: readonly string[]): string {
  const close = closeNames(name, candidates);
  return close.length === 0 ? '' : `; close names: ${close.join(', ')}`;
}

/** Up to five candidates near `name`, nearest first. */
export function closeNames(name: string, candidates: readonly string[]): string[] {
  const limit = Math.max(2, Math.floor(name.length / 3));
  const scored: (readonly [string, number])[] = [];
  for (const c of new Set(candidates)) {
    const d = editDistance(name, c);
    const substring = name.length >= 3 && (c.includes(name) || name.includes(c));
    if (d <= limit || substring) scored.push([c, substring ? Math.min(d, limit) : d]);
  }
  return scored.sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0])).slice(0, MAX_CLOSE).map(([c]) => c);
}

/** Levenshtein distance (insert, delete, substitute), two rows. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
