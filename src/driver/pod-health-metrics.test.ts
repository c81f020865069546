import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerPodCounterMetrics } from './pod-health-metrics.ts';

describe('netclaim_pod_device_counter', () => {
  it('shows the last values read at each scrape, and drops devices no longer in pods', async () => {
    const registry = new Registry();
    let counters = new Map([['pci-0000-3b-00-0', new Map([['rx_crc_errors', 3], ['rdma:symbol_error', 1]])]]);
    registerPodCounterMetrics(registry, { counters: () => counters });
    const text = await registry.metrics();
    expect(text).toContain('netclaim_pod_device_counter{device="pci-0000-3b-00-0",counter="rx_crc_errors"} 3');
    expect(text).toContain('netclaim_pod_device_counter{device="pci-0000-3b-00-0",counter="rdma:symbol_error"} 1');
    counters = new Map();
    expect(await registry.metrics()).not.toContain('pci-0000-3b-00-0');
  });
});
