/**
 * The `ethtool` command (6.1, netlink mode) as a test oracle: run inside a
 * test namespace, its text output parsed, and — for `ethtool -k` — the same
 * text rendered from our decoded features, so the two can be compared line
 * for line. Tests only: the code under test never runs ethtool.
 */
import { execFileSync } from 'node:child_process';
import type { EthtoolFeatures } from '../../src/kernel/netlink/genl/ethtool-types.ts';
import { type TestNetns, tool } from './netns-fixture.ts';

/** True when the `ethtool` command is installed. */
export const hasEthtool = ((): boolean => {
  try {
    execFileSync('ethtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

export const needsEthtool = 'needs the ethtool command as the oracle (apt-get install ethtool)';

/** Runs `ethtool ARGS` inside `ns`. */
export const ethtool = (ns: TestNetns, ...args: string[]): string => tool('ip', ['netns', 'exec', ns.name, 'ethtool', ...args]);

/** Runs `ethtool ARGS` inside `ns`, expecting it to fail; returns its stderr. */
export function ethtoolFails(ns: TestNetns, ...args: string[]): string {
  try {
    ethtool(ns, ...args);
  } catch (err) {
    return String((err as { stderr?: unknown }).stderr ?? err);
  }
  throw new Error(`ethtool ${args.join(' ')} succeeded`);
}

/** `Key: value` lines of `ethtool DEV` (tab-indented, after "Settings for DEV:"). */
export function ethtoolSettings(ns: TestNetns, dev: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of ethtool(ns, dev).split('\n')) {
    const m = /^\t([^:]+):\s*(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

/**
 * The sections of `ethtool -l` / `-g` output ("Pre-set maximums:",
 * "Current hardware settings:") as { section: { key: value } }.
 */
export function ethtoolSections(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section: Record<string, string> | undefined;
  for (const line of text.split('\n')) {
    if (/^(Pre-set maximums|Current hardware settings):$/.test(line)) out[line.slice(0, -1)] = section = {};
    else if (section) {
      const m = /^([^:]+):\s*(.*)$/.exec(line);
      if (m) section[m[1]!] = m[2]!.trim();
    }
  }
  return out;
}

/** A number, or undefined for ethtool's "n/a". */
export const numOrNa = (v: string | undefined): number | undefined => (v === undefined || v === 'n/a' ? undefined : Number(v));

/** ethtool 6.1's legacy offload flags (off_flag_def): long name and the kernel feature pattern. UFO is never shown. */
const LEGACY: readonly (readonly [string, string])[] = [
  ['rx-checksumming', 'rx-checksum'],
  ['tx-checksumming', 'tx-checksum-*'],
  ['scatter-gather', 'tx-scatter-gather*'],
  ['tcp-segmentation-offload', 'tx-tcp*-segmentation'],
  ['generic-segmentation-offload', 'tx-generic-segmentation'],
  ['generic-receive-offload', 'rx-gro'],
  ['large-receive-offload', 'rx-lro'],
  ['rx-vlan-offload', 'rx-vlan-hw-parse'],
  ['tx-vlan-offload', 'tx-vlan-hw-insert'],
  ['ntuple-filters', 'rx-ntuple-filter'],
  ['receive-hashing', 'rx-hashing'],
];

const patternMatch = (name: string, pattern: string): boolean => {
  const star = pattern.indexOf('*');
  if (star < 0) return name === pattern;
  const pre = pattern.slice(0, star);
  const post = pattern.slice(star + 1);
  return name.length >= pre.length + post.length && name.startsWith(pre) && name.endsWith(post);
};

/**
 * What `ethtool -k` prints for these features (without its first line),
 * following ethtool 6.1's netlink/features.c: legacy flags first with their
 * matching features, then every other feature in kernel bit order; each as
 * `name: on|off` plus ` [fixed]` or ` [requested on|off]`.
 */
export function renderEthtoolK(f: EthtoolFeatures): string[] {
  const names = Object.keys(f.active);
  const legacyOf = new Map<string, number>();
  for (const n of names) {
    const i = LEGACY.findIndex(([, p]) => patternMatch(n, p));
    if (i >= 0) legacyOf.set(n, i);
  }
  const line = (n: string, shown: string, prefix: string): string => {
    const active = f.active[n] === true;
    const wanted = f.wanted[n] === true;
    const suffix = !f.hw[n] || f.nochange[n] ? ' [fixed]' : active !== wanted ? ` [requested ${wanted ? 'on' : 'off'}]` : '';
    return `${prefix}${shown}: ${active ? 'on' : 'off'}${suffix}`;
  };
  const out: string[] = [];
  LEGACY.forEach(([long], i) => {
    const matched = names.filter((n) => legacyOf.get(n) === i);
    if (matched.length !== 1) out.push(`${long}: ${matched.some((n) => f.active[n]) ? 'on' : 'off'}`);
    for (const n of matched) out.push(matched.length === 1 ? line(n, long, '') : line(n, n, '\t'));
  });
  for (const n of names) if (!legacyOf.has(n)) out.push(line(n, n, ''));
  return out;
}

/** `ethtool -k DEV` inside `ns`, without its "Features for DEV:" line. */
export const ethtoolK = (ns: TestNetns, dev: string): string[] => ethtool(ns, '-k', dev).split('\n').slice(1).filter((l) => l !== '');
