import { describe, expect, it } from 'vitest';
import { ConfigError, DriverError } from '../common/errors.ts';
import { createMetrics, errorCode, KUBELET_METHODS, observeSteps } from './metrics.ts';

/** Value of one sample line (`name{labels} value`), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('createMetrics', () => {
  it('registers every metric under netclaim_ in its own registry, series at zero from the start', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const text = await m.registry.metrics();
    const names = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((x) => `${x[1]} ${x[2]}`);
    expect(names.sort()).toEqual([
      'netclaim_claim_prepare_duration_seconds histogram',
      'netclaim_claims_prepared gauge',
      'netclaim_containerd_events_connected gauge',
      'netclaim_detach_problems_total counter',
      'netclaim_devices_excluded gauge',
      'netclaim_devices_published gauge',
      'netclaim_errors_total counter',
      'netclaim_health_updates_total counter',
      'netclaim_inventory_rebuilds_total counter',
      'netclaim_kubelet_request_duration_seconds histogram',
      'netclaim_kubelet_requests_total counter',
      'netclaim_netns_pinning_available gauge',
      'netclaim_netns_pins gauge',
      'netclaim_nri_connected gauge',
      'netclaim_nri_disconnects_total counter',
      'netclaim_nri_hook_duration_seconds histogram',
      'netclaim_nri_hooks_total counter',
      'netclaim_pods_evicted_total counter',
      'netclaim_pods_unreconciled_total counter',
      'netclaim_slice_publishes_total counter',
      'netclaim_step_duration_seconds histogram',
    ]);
    for (const method of KUBELET_METHODS) {
      expect(sample(text, `netclaim_kubelet_requests_total{method="${method}",outcome="error"}`)).toBe(0);
      expect(sample(text, `netclaim_kubelet_request_duration_seconds_count{method="${method}",outcome="ok"}`)).toBe(0);
    }
    expect(sample(text, 'netclaim_slice_publishes_total{outcome="ok"}')).toBe(0);
    expect(sample(text, 'netclaim_nri_hooks_total{hook="run",outcome="error"}')).toBe(0);
    expect(text).toContain('netclaim_kubelet_request_duration_seconds_bucket{le="0.0005",method="prepare",outcome="ok"} 0');
    expect(text).toContain('netclaim_kubelet_request_duration_seconds_bucket{le="5",method="prepare",outcome="ok"} 0');
  });

  it('includes the process metrics (RSS, heap, event-loop lag) with the prefix; registries are independent', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.claimsPrepared.set(2);
    const text = await a.registry.metrics();
    for (const n of ['netclaim_process_resident_memory_bytes', 'netclaim_nodejs_heap_size_used_bytes', 'netclaim_nodejs_eventloop_lag_seconds']) {
      expect(text).toContain(`# TYPE ${n} gauge`);
    }
    expect(sample(text, 'netclaim_process_resident_memory_bytes')).toBeGreaterThan(1e6);
    expect(sample(await b.registry.metrics(), 'netclaim_claims_prepared')).toBe(0);
    expect(text.split('\n').filter((l) => l.startsWith('# TYPE') && !l.startsWith('# TYPE netclaim_'))).toEqual([]);
  });

  it('observe() times a call and records ok / error (rethrown) / a result-derived outcome', async () => {
    const m = createMetrics({ defaultMetrics: false });
    expect(await m.observe('prepare', async () => { await new Promise((r) => setTimeout(r, 20)); return 7; })).toBe(7);
    await expect(m.observe('unprepare', () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    await m.observe('prepare', async () => ({ error: 'bad' }), (r) => ('error' in r ? 'error' : 'ok'));
    const text = await m.registry.metrics();
    expect(sample(text, 'netclaim_kubelet_requests_total{method="prepare",outcome="ok"}')).toBe(1);
    expect(sample(text, 'netclaim_kubelet_requests_total{method="prepare",outcome="error"}')).toBe(1);
    expect(sample(text, 'netclaim_kubelet_requests_total{method="unprepare",outcome="error"}')).toBe(1);
    const sum = sample(text, 'netclaim_kubelet_request_duration_seconds_sum{method="prepare",outcome="ok"}')!;
    expect(sum).toBeGreaterThanOrEqual(0.015);
    expect(sum).toBeLessThan(2);
    expect(sample(text, 'netclaim_kubelet_request_duration_seconds_bucket{le="0.01",method="prepare",outcome="ok"}')).toBe(0);
    expect(sample(text, 'netclaim_kubelet_request_duration_seconds_bucket{le="5",method="prepare",outcome="ok"}')).toBe(1);
  });

  it('countError() labels by DriverError code, anything else as UNKNOWN', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.countError(new ConfigError('bad'));
    m.countError(new DriverError('KUBE_REQUEST_FAILED', 'x'));
    m.countError(new DriverError('KUBE_REQUEST_FAILED', 'y'));
    m.countError(new Error('plain'));
    m.countError('a string');
    const text = await m.registry.metrics();
    expect(sample(text, 'netclaim_errors_total{code="CONFIG_INVALID"}')).toBe(1);
    expect(sample(text, 'netclaim_errors_total{code="KUBE_REQUEST_FAILED"}')).toBe(2);
    expect(sample(text, 'netclaim_errors_total{code="UNKNOWN"}')).toBe(2);
    expect(errorCode(Object.assign(new Error('x'), { code: 'CONFIG_INVALID' }))).toBe('UNKNOWN'); // not branded
  });

  it('the remaining metrics are plain prom-client objects', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.devicesPublished.set(12);
    m.devicesExcluded.set(3);
    m.inventoryRebuilds.inc();
    m.healthUpdates.inc(2);
    m.slicePublishes.inc({ outcome: 'ok' });
    m.claimPrepareSeconds.observe({ outcome: 'ok' }, 0.002);
    const text = await m.registry.metrics();
    expect([
      sample(text, 'netclaim_devices_published'), sample(text, 'netclaim_devices_excluded'), sample(text, 'netclaim_inventory_rebuilds_total'),
      sample(text, 'netclaim_health_updates_total'), sample(text, 'netclaim_slice_publishes_total{outcome="ok"}'),
      sample(text, 'netclaim_claim_prepare_duration_seconds_bucket{le="0.0025",outcome="ok"}'),
    ]).toEqual([12, 3, 1, 2, 1, 1]);
  });

  it('observeSteps: one observation per step, labelled with the call', async () => {
    const m = createMetrics({ defaultMetrics: false });
    observeSteps(m, 'run', { journal: 2, attach: 16 });
    observeSteps(m, 'run', { journal: 3 });
    const text = await m.registry.metrics();
    expect(sample(text, 'netclaim_step_duration_seconds_count{call="run",step="journal"}')).toBe(2);
    expect(sample(text, 'netclaim_step_duration_seconds_sum{call="run",step="journal"}')).toBeCloseTo(0.005, 6);
    expect(sample(text, 'netclaim_step_duration_seconds_count{call="run",step="attach"}')).toBe(1);
  });
});
