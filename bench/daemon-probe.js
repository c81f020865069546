// Preloaded (`node --import`) into the `netclaim run` process the daemon bench
// starts (bench/daemon.ts), so that the bench measures the command the image
// runs, not a copy of its composition. Plain JavaScript: a .ts preload would
// load Node's type stripper into the process being measured.
//
// Over the IPC channel of fork(): 'mem' → memory after three gc() (the
// process runs with --expose-gc), 'snapshot' → a V8 heap snapshot written to
// the path given (after gc), 'stop' → SIGTERM to itself (the daemon's
// own graceful stop). When the bench goes away (the channel closes) the
// daemon stops the same way: it never outlives the bench.
import { createRequire } from 'node:module';
import process from 'node:process';
import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers';
import { getHeapCodeStatistics, getHeapSpaceStatistics, getHeapStatistics, writeHeapSnapshot } from 'node:v8';

const MB = 1024 * 1024;
const round = (n) => Math.round((n / MB) * 10) / 10;
let trim;

/** glibc's malloc_trim(0) through koffi, loaded only when asked (the daemon loads it anyway): what glibc keeps but does not use. */
function mallocTrim() {
  if (trim === undefined) {
    try {
      // The daemon's own copy (dist/node_modules for the bundle): no second native addon in the measured process.
      const koffi = createRequire(process.argv[1] ?? import.meta.url)('koffi');
      const f = koffi.load(null).func('int malloc_trim(size_t pad)');
      trim = () => f(0);
    } catch {
      trim = null;
    }
  }
  if (trim === null) return false;
  trim();
  return true;
}

async function memAfterGc() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.();
    await new Promise((r) => setImmediate(r));
  }
  const m = process.memoryUsage();
  const h = getHeapStatistics();
  const c = getHeapCodeStatistics();
  const trimmed = mallocTrim() ? process.memoryUsage().rss : undefined;
  return {
    rssMB: round(m.rss), heapUsedMB: round(h.used_heap_size), heapPhysicalMB: round(h.total_physical_size), v8MallocedMB: round(h.malloced_memory),
    externalMB: round(m.external), arrayBuffersMB: round(m.arrayBuffers),
    // Per space (new, old, code, large object…): used and resident; and the code V8 holds (machine code, bytecode).
    spacesMB: Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, { used: round(s.space_used_size), physical: round(s.physical_space_size) }])),
    codeMB: { code: round(c.code_and_metadata_size), bytecode: round(c.bytecode_and_metadata_size), scriptSource: round(c.external_script_source_size) },
    ...(trimmed === undefined ? {} : { rssAfterMallocTrimMB: round(trimmed) }),
  };
}

if (process.send !== undefined) {
  process.send({ type: 'hello', timeOrigin: performance.timeOrigin });
  process.on('message', (m) => {
    if (m?.type === 'mem') void memAfterGc().then((mem) => process.send?.({ type: 'mem', mem }));
    else if (m?.type === 'snapshot') {
      globalThis.gc?.();
      process.send?.({ type: 'snapshot', path: writeHeapSnapshot(m.path) });
    } else if (m?.type === 'stop') process.kill(process.pid, 'SIGTERM');
  });
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
