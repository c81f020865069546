/**
 * The netlink benchmark: a full link dump + decode of 1,000 links, and single
 * operations (address add, route add, link move to another namespace), on
 * each FFI backend. Everything happens in throwaway namespaces made with `ip`
 * (benchmark set-up only), deleted at the end even on failure.
 */
import { execFileSync } from 'node:child_process';
import { cpus, release } from 'node:os';
import { loadLibc, type FfiBackend } from '../src/kernel/libc/index.ts';
import { addrAdd } from '../src/kernel/netlink/route/addr-ops.ts';
import { linkGetByName, linkList, linkSetNetns } from '../src/kernel/netlink/route/link-ops.ts';
import { routeAdd } from '../src/kernel/netlink/route/route-ops.ts';
import type { IfIndex } from '../src/common/ids.ts';
import { NetnsHandle } from '../src/kernel/netns/handle.ts';
import { round, summarize, timeUs, type Summary } from './stats.ts';

export interface NetlinkBenchOptions {
  readonly dumpRuns: number;
  readonly opRuns: number;
  readonly log: (s: string) => void;
}

export interface BackendResult {
  readonly linkDump: { readonly links: number; readonly medianMs: number; readonly p99Ms: number; readonly runs: number };
  readonly addrAddUs: Summary;
  readonly routeAddUs: Summary;
  readonly linkMoveNetnsUs: Summary;
}

const tag = `${process.pid % 10000}`;
const ns = (s: string): string => `ncb${s}${tag}`;

function ipns(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'ignore' });
}

function setUp(pairs: number): { host: string; pod: string } {
  const host = ns('h');
  const pod = ns('p');
  ipns('netns', 'add', host);
  ipns('netns', 'add', pod);
  const batch = Array.from({ length: pairs }, (_, i) => `link add ncb${i}a type veth peer name ncb${i}b`).join('\n');
  execFileSync('ip', ['-n', host, '-batch', '-'], { input: batch });
  ipns('-n', host, 'link', 'set', 'ncb0a', 'up');
  return { host, pod };
}

function tearDown(names: readonly string[]): void {
  for (const n of names) {
    try { ipns('netns', 'delete', n); } catch { /* already gone */ }
  }
}

function benchBackend(backend: FfiBackend, host: string, pod: string, o: NetlinkBenchOptions): BackendResult {
  const libc = loadLibc(backend);
  const h = NetnsHandle.open(`/run/netns/${host}`, { libc });
  const p = NetnsHandle.open(`/run/netns/${pod}`, { libc });
  try {
    // Full dump + decode, warm socket.
    let links = linkList(h).length;
    const dump: number[] = [];
    for (let i = 0; i < o.dumpRuns; i++) dump.push(timeUs(() => { links = linkList(h).length; }) / 1000);
    const dumpSummary = summarize(dump);

    // Address add: distinct /32s on one up link.
    const dev = linkGetByName(h, 'ncb0a').index;
    const base = backend === 'koffi' ? 10 : 20;
    const addr = Array.from({ length: o.opRuns }, (_, i) =>
      timeUs(() => addrAdd(h, dev, { cidr: `10.${base}.${i >> 8}.${i & 255}/32` })));

    // Route add: link-scope host routes through that link.
    const route = Array.from({ length: o.opRuns }, (_, i) =>
      timeUs(() => routeAdd(h, { dst: `10.${base + 100}.${i >> 8}.${i & 255}/32`, oif: dev })));

    // Link move: a veth end into the pod namespace with a rename, then back (only the move is timed).
    const moves: number[] = [];
    for (let i = 1; i <= Math.min(o.opRuns, 400); i++) {
      const name = `ncb${i}b`;
      const index = linkGetByName(h, name).index;
      moves.push(timeUs(() => linkSetNetns(h, index, p, { name: `ncm${i}` })));
      const back = linkGetByName(p, `ncm${i}`).index as IfIndex;
      linkSetNetns(p, back, h, { name });
    }
    return {
      linkDump: { links, medianMs: dumpSummary.p50, p99Ms: dumpSummary.p99, runs: dumpSummary.n },
      addrAddUs: summarize(addr),
      routeAddUs: summarize(route),
      linkMoveNetnsUs: summarize(moves),
    };
  } finally {
    h.close();
    p.close();
  }
}

export function benchNetlink(o: NetlinkBenchOptions): Record<string, unknown> {
  const results: Record<string, BackendResult> = {};
  for (const backend of ['koffi', 'ffi-rs'] as const) {
    // Fresh namespaces per backend so both see the same state.
    const { host, pod } = setUp(500);
    try {
      o.log(`netlink: ${backend}…`);
      results[backend] = benchBackend(backend, host, pod, o);
    } finally {
      tearDown([host, pod]);
    }
  }
  return {
    suite: 'netlink',
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', kernel: release(), node: process.version },
    units: { linkDump: 'ms', ops: 'µs' },
    targets: { linkDump1000MedianMs: 20 },
    results,
    meetsTargets: Object.fromEntries(Object.entries(results).map(([k, r]) => [k, round(r.linkDump.medianMs) <= 20])),
  };
}
