/**
 * `netclaim_log_lines_dropped_total{reason}`: log lines the daemon gave up on
 * (observe/log-sink.ts): `backlog`, the reader was too slow and the backlog
 * was full; `error`, the output failed (EPIPE: the reader is gone; ENOSPC…).
 * Read from the sink at scrape time; both series exist at 0 from the start.
 * Apart from createMetrics because the logger is made before the registry.
 */
import { Counter, type Registry } from 'prom-client';
import { METRIC_PREFIX } from './metrics.ts';
import { DROP_REASONS, type LogSinkStats } from './log-sink.ts';

export function registerLogMetrics(registry: Registry, sink: { stats(): LogSinkStats }): Counter<'reason'> {
  return new Counter({
    name: `${METRIC_PREFIX}log_lines_dropped_total`,
    help: 'Log lines dropped: the reader of stdout was too slow (backlog) or the output failed (error).',
    labelNames: ['reason'] as const,
    registers: [registry],
    collect() {
      const { dropped } = sink.stats();
      this.reset();
      for (const reason of DROP_REASONS) this.inc({ reason }, dropped[reason]);
    },
  });
}
