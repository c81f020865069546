/**
 * `netclaim_pod_device_counter{device, counter}`: the error counters of
 * every device in a pod as the pod health watch last read them (every
 * `counterMs`), read at scrape time. Counter names: the link's
 * rtnl_link_stats64 fields and `carrier_changes`; `rdma:<name>` for an
 * RDMA port's sysfs `counters/`, `rdma-hw:<name>` for its `hw_counters/`
 * (summed over ports). A gauge, not a counter: the kernel's values reset
 * when a device is re-created, and a device leaves the series when it leaves its pod.
 */
import { Gauge, type Registry } from 'prom-client';
import { METRIC_PREFIX } from '../observe/metrics.ts';

export function registerPodCounterMetrics(registry: Registry, source: { counters(): ReadonlyMap<string, ReadonlyMap<string, number>> }): Gauge<'device' | 'counter'> {
  return new Gauge({
    name: `${METRIC_PREFIX}pod_device_counter`,
    help: 'Error counters of devices in pods (link stats64 and carrier_changes; rdma:/rdma-hw: port counters), as last read.',
    labelNames: ['device', 'counter'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [device, values] of source.counters()) for (const [counter, v] of values) this.set({ device, counter }, v);
    },
  });
}
