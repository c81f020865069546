/**
 * Where a Node process's resident memory is, from the kernel's own view:
 * `/proc/PID/smaps` summed by kind of mapping, and for the `node` executable
 * itself the resident pages (`/proc/PID/pagemap`, root only) placed in the
 * binary's ELF sections and symbols (`nm`), summed by the part of Node they
 * belong to (V8's builtins and compilers, ICU's data, OpenSSL, …).
 *
 *   node bench/daemon-pages.ts PID [BASE_PID]     a report; with BASE_PID, PID minus BASE_PID
 *   node bench/daemon-pages.ts --empty PID        the same against a fresh `node -e` beside it
 *                                                 (PID's Node flags and environment)
 *
 * The daemon bench writes these reports itself with NETCLAIM_BENCH_PAGES=DIR
 * (bench/daemon.ts). File-backed pages count in RSS only once this process's
 * page tables map them: a page of the binary that the process touched (or that
 * the kernel's fault-around mapped beside one it touched, up to 64 KiB).
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const PAGE = 4096;
const KB = 1024;

export interface Mapping { readonly start: number; readonly end: number; readonly perms: string; readonly offset: number; readonly path: string; readonly rssKB: number; readonly anonKB: number }

/** /proc/PID/smaps, one record per mapping with its Rss and Anonymous. */
export function smaps(pid: number): Mapping[] {
  const out: Mapping[] = [];
  let cur: { start: number; end: number; perms: string; offset: number; path: string; rssKB: number; anonKB: number } | undefined;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      if (cur) out.push(cur);
      cur = { start: parseInt(head[1]!, 16), end: parseInt(head[2]!, 16), perms: head[3]!, offset: parseInt(head[4]!, 16), path: head[5]!, rssKB: 0, anonKB: 0 };
      continue;
    }
    const f = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (f && cur) {
      if (f[1] === 'Rss') cur.rssKB = Number(f[2]);
      else cur.anonKB = Number(f[2]);
    }
  }
  if (cur) out.push(cur);
  return out;
}

/** RSS by kind of mapping, KiB: the executable, [heap] (glibc's main arena), other anonymous, shared libraries, the rest. */
export function rssByKind(maps: readonly Mapping[], exe: string): Record<string, number> {
  const k: Record<string, number> = { exe: 0, exeAnon: 0, heap: 0, anon: 0, libs: 0, stack: 0, other: 0 };
  for (const m of maps) {
    if (m.path === exe) {
      k['exe']! += m.rssKB - m.anonKB;
      k['exeAnon']! += m.anonKB;
    } else if (m.path === '[heap]') k['heap']! += m.rssKB;
    else if (m.path === '') k['anon']! += m.rssKB;
    else if (m.path.startsWith('[stack')) k['stack']! += m.rssKB;
    else if (m.path.includes('.so') || m.path.endsWith('.node')) k['libs']! += m.rssKB;
    else k['other']! += m.rssKB;
  }
  return k;
}

/** File offsets (page-aligned) of the executable's pages present in PID's page tables. */
export function residentExeOffsets(pid: number, maps: readonly Mapping[], exe: string): number[] {
  const fd = openSync(`/proc/${pid}/pagemap`, 'r');
  const offsets: number[] = [];
  try {
    for (const m of maps) {
      if (m.path !== exe) continue;
      const pages = (m.end - m.start) / PAGE;
      const buf = Buffer.alloc(pages * 8);
      readSync(fd, buf, 0, buf.length, (m.start / PAGE) * 8);
      for (let i = 0; i < pages; i++) {
        // Bit 63: present in RAM (bit 62 would be swapped).
        if (buf.readBigUInt64LE(i * 8) >> 63n) offsets.push(m.offset + i * PAGE);
      }
    }
  } finally {
    closeSync(fd);
  }
  return offsets;
}

interface Section { readonly name: string; readonly off: number; readonly size: number; readonly addr: number }
interface Sym { readonly addr: number; readonly size: number; readonly name: string }
interface Elf { readonly sections: Section[]; readonly syms: Sym[] }

const elfCache = new Map<string, Elf>();

/** The executable's allocated sections and its sized symbols, demangled, by address. */
function elf(exe: string): Elf {
  const got = elfCache.get(exe);
  if (got) return got;
  const sections: Section[] = [];
  for (const line of execFileSync('readelf', ['-SW', exe], { encoding: 'utf8', maxBuffer: 1 << 24 }).split('\n')) {
    const m = /\]\s+(\S+)\s+\S+\s+([0-9a-f]{16})\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(line);
    if (m && parseInt(m[2]!, 16) !== 0) sections.push({ name: m[1]!, addr: parseInt(m[2]!, 16), off: parseInt(m[3]!, 16), size: parseInt(m[4]!, 16) });
  }
  const raw: Array<{ addr: number; size: number | undefined; name: string }> = [];
  for (const line of execFileSync('nm', ['-S', '-C', '--defined-only', exe], { encoding: 'utf8', maxBuffer: 1 << 28 }).split('\n')) {
    const m = /^([0-9a-f]+)(?: ([0-9a-f]+))? [^bBN] (.*)$/.exec(line);
    if (m) raw.push({ addr: parseInt(m[1]!, 16), size: m[2] === undefined ? undefined : parseInt(m[2], 16), name: m[3]! });
  }
  raw.sort((a, b) => a.addr - b.addr);
  // A symbol without a size (V8's embedded blob data, assembler labels) runs to the next symbol.
  const syms: Sym[] = [];
  let next = Infinity;
  for (let i = raw.length - 1; i >= 0; i--) {
    const s = raw[i]!;
    syms.push({ addr: s.addr, name: s.name, size: s.size ?? (Number.isFinite(next) && next > s.addr ? next - s.addr : 0) });
    if (s.addr < next) next = s.addr;
  }
  syms.reverse();
  const e = { sections, syms };
  elfCache.set(exe, e);
  return e;
}

/**
 * Which part of Node a symbol belongs to, by its (demangled) name: the first rule that matches.
 * A heuristic: C names that no rule knows fall to "other".
 */
const PARTS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^icudt\d+_dat$/, 'ICU data (icudt*_dat)'],
  [/^icu_\d+::|^u[a-z0-9]*_\w+_\d\d$/, 'ICU code'], // C++ namespace icu_78, C API ures_open_78, u_strlen_78
  [/^Builtins_/, 'V8 builtins (embedded)'],
  [/^v8::internal::compiler::|turboshaft/, 'V8 TurboFan/Turboshaft'],
  [/^v8::internal::maglev::/, 'V8 Maglev'],
  [/^v8::internal::wasm::/, 'V8 wasm'],
  [/^v8::internal::interpreter::/, 'V8 interpreter'],
  [/^(v8::internal::)?(Heap|Scavenger|MarkCompact|Sweeper|ConcurrentMarking|MinorMarkSweep|MarkingVisitor)|^cppgc::/, 'V8 GC'],
  [/blob_data|snapshot/, 'snapshots'],
  [/^v8::|^v8_/, 'V8 other'],
  [/^node::|^\(anonymous namespace\)::node/, 'node'],
  [/^uv_/, 'libuv'],
  [/^nghttp2_/, 'nghttp2'],
  [/^llhttp|^llparse/, 'llhttp'],
  [/^ada::/, 'ada (URL)'],
  [/^simdutf::|^simdjson::/, 'simdutf/simdjson'],
  [/^sqlite/, 'sqlite'],
  [/^ares_/, 'c-ares'],
  [/[Bb]rotli|^kStaticDictionary/, 'brotli'],
  [/^(Cr_z_|deflate|inflate|crc32|adler32|zstd)/i, 'zlib/zstd'],
  [/^std::|^__gnu_cxx|^operator (new|delete)|^__cxa|^_Unwind/, 'libstdc++'],
  [/^absl::|^hwy::|^fast_float|^double_conversion/, 'other C++ libs'],
  // OpenSSL's C API and assembly prefixes.
  [/^(ossl|OSSL|EVP|evp|SSL|ssl|BN|bn|ERR|OPENSSL|CRYPTO|X509|x509|ASN1|asn1|EC|ec|ecp|ecx|RSA|rsa|DH|dh|DSA|OBJ|obj|PEM|BIO|bio|RAND|rand|PKCS|pkcs|OCSP|CONF|conf|ENGINE|CMS|cms|HMAC|CMAC|KDF|kdf|aesni|aes|AES|gcm|sha\d|SHA\d|md5|MD5|chacha|ChaCha|poly1305|x25519|ed25519|i2d|d2i|lh|sk|BUF|tls|dtls)(_|\d)|^(nid_objs|sn_objs|ln_objs|so)$/, 'OpenSSL'],
];

export function partOf(sym: string, section: string): string {
  for (const [re, part] of PARTS) if (re.test(sym)) return part;
  return `other (${section})`;
}

export interface ExeReport { readonly residentKB: number; readonly bySection: Record<string, number>; readonly byPart: Record<string, number>; readonly bySymbol: Record<string, number> }

/** The executable's resident pages placed in its sections, parts and symbols, KiB (a page shared by symbols is split by their bytes on it). */
export function exeReport(exe: string, offsets: readonly number[]): ExeReport {
  const { sections, syms } = elf(exe);
  const bySection: Record<string, number> = {};
  const byPart: Record<string, number> = {};
  const bySymbol: Record<string, number> = {};
  const add = (o: Record<string, number>, k: string, bytes: number): void => { o[k] = (o[k] ?? 0) + bytes / KB; };
  for (const off of offsets) {
    const sec = sections.find((s) => off < s.off + s.size && off + PAGE > s.off && s.name !== '.tbss' && s.name !== '.bss');
    const secName = sec?.name ?? '(headers)';
    add(bySection, secName, PAGE);
    if (!sec) {
      add(byPart, 'ELF headers, dynsym', PAGE);
      continue;
    }
    const a0 = off - sec.off + sec.addr;
    const a1 = a0 + PAGE;
    // The first symbol that might overlap: binary search for the last one starting at or below a0, then back over large ones.
    let lo = 0;
    let hi = syms.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (syms[mid]!.addr <= a0) lo = mid + 1;
      else hi = mid;
    }
    let covered = 0;
    for (let i = Math.max(0, lo - 64); i < syms.length && syms[i]!.addr < a1; i++) {
      const s = syms[i]!;
      const o = Math.min(a1, s.addr + s.size) - Math.max(a0, s.addr);
      if (o <= 0) continue;
      covered += o;
      add(byPart, partOf(s.name, secName), o);
      add(bySymbol, s.name, o);
    }
    if (covered < PAGE) add(byPart, `no symbol (${secName})`, Math.max(0, PAGE - covered));
  }
  const r = (o: Record<string, number>): Record<string, number> =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v)] as const).filter(([, v]) => v !== 0).sort((a, b) => b[1] - a[1]));
  return { residentKB: (offsets.length * PAGE) / KB, bySection: r(bySection), byPart: r(byPart), bySymbol: r(bySymbol) };
}

export interface PagesReport { readonly pid: number; readonly rssKB: Record<string, number>; readonly exe: ExeReport; readonly offsets: readonly number[] }

export function pagesReport(pid: number): PagesReport {
  const exe = readlinkSync(`/proc/${pid}/exe`);
  const maps = smaps(pid);
  const offsets = residentExeOffsets(pid, maps, exe);
  return { pid, rssKB: rssByKind(maps, exe), exe: exeReport(exe, offsets), offsets };
}

/** PID's pages of the executable that BASE does not have resident, placed as exeReport places them; and the RSS kinds' differences. */
export function pagesDiff(pid: PagesReport, base: PagesReport, exe: string): { rssKB: Record<string, number>; exeOnlyInPid: ExeReport } {
  const baseSet = new Set(base.offsets);
  const rssKB = Object.fromEntries(Object.keys(pid.rssKB).map((k) => [k, pid.rssKB[k]! - (base.rssKB[k] ?? 0)]));
  return { rssKB, exeOnlyInPid: exeReport(exe, pid.offsets.filter((o) => !baseSet.has(o))) };
}

function top(o: Record<string, number>, n: number): string {
  return Object.entries(o).slice(0, n).map(([k, v]) => `  ${String(v).padStart(7)} KiB  ${k.length > 110 ? `${k.slice(0, 107)}...` : k}`).join('\n');
}

export function formatDiff(d: ReturnType<typeof pagesDiff>): string {
  return [
    `RSS by kind, KiB (minus base): ${JSON.stringify(d.rssKB)}`,
    `executable pages resident only here: ${d.exeOnlyInPid.residentKB} KiB`,
    'by section:', top(d.exeOnlyInPid.bySection, 12),
    'by part:', top(d.exeOnlyInPid.byPart, 30),
    'by symbol:', top(d.exeOnlyInPid.bySymbol, 40),
  ].join('\n');
}

/** An empty `node` (the same executable, these flags) held open: the floor the reports subtract. */
export async function startEmptyNode(exe: string, flags: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ pid: number; stop: () => void }> {
  const c = spawn(exe, [...flags, '-e', 'setInterval(() => {}, 1000); process.stdout.write("up\\n")'], { stdio: ['ignore', 'pipe', 'inherit'], env });
  await new Promise((resolve, reject) => {
    c.stdout!.once('data', resolve);
    c.once('exit', (code) => reject(new Error(`the empty node (${[exe, ...flags].join(' ')}) exited (${code})`)));
  });
  await new Promise((r) => setTimeout(r, 500));
  return { pid: c.pid!, stop: () => c.kill() };
}

/** DIR/LABEL.smaps (a copy of /proc/PID/smaps) and DIR/LABEL.txt (formatDiff against the empty node BASE_PID). */
export function writePagesReport(dir: string, label: string, pid: number, basePid: number): string {
  writeFileSync(join(dir, `${label}.smaps`), readFileSync(`/proc/${pid}/smaps`));
  const r = pagesReport(pid);
  const base = pagesReport(basePid);
  const path = join(dir, `${label}.txt`);
  writeFileSync(path, `${formatDiff(pagesDiff(r, base, readlinkSync(`/proc/${pid}/exe`)))}\n`);
  writeFileSync(join(dir, `${label}.json`), JSON.stringify({ rssKB: r.rssKB, exe: r.exe, offsets: r.offsets, baseOffsets: base.offsets }));
  return path;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const empty = args[0] === '--empty';
  const pid = Number(args[empty ? 1 : 0]);
  const report = pagesReport(pid);
  const exe = readlinkSync(`/proc/${pid}/exe`);
  let base: PagesReport | undefined;
  if (empty) {
    // A fresh empty node of the same executable, held open while it is read.
    // The V8 flags PID's node runs with (its leading options, less a preload), and its environment.
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(1);
    const flags: string[] = [];
    for (let i = 0; i < argv.length && argv[i]!.startsWith('-') && !['-e', '--eval', '-p', '--print'].includes(argv[i]!); i++) {
      if (argv[i] === '--import' || argv[i] === '--require' || argv[i] === '-r') i++;
      else flags.push(argv[i]!);
    }
    const env = Object.fromEntries(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    const c = await startEmptyNode(exe, flags, env);
    base = pagesReport(c.pid);
    c.stop();
  } else if (args[1] !== undefined) base = pagesReport(Number(args[1]));
  if (base) process.stdout.write(`${formatDiff(pagesDiff(report, base, exe))}\n`);
  else process.stdout.write(`${JSON.stringify({ rssKB: report.rssKB, exe: { ...report.exe, bySymbol: Object.fromEntries(Object.entries(report.exe.bySymbol).slice(0, 40)) } }, null, 1)}\n`);
}
