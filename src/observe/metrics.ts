/**
 * The driver's Prometheus metrics (prom-client), all named `netclaim_*`, in a
 * Registry of their own: nothing is registered globally, so any number of
 * drivers (or tests) can live in one process.
 *
 *   const m = createMetrics();
 *   const res = await m.observe('prepare', () => driver.prepare(claims));
 *   m.countError(err);                       // errors_total{code=...}
 *   server = new ObserveServer({ metrics: m.registry, ... });
 *
 * Label values come from closed sets (KUBELET_METHODS, OUTCOMES, ErrorCode),
 * never from claim or device names, so the number of series is bounded. Every
 * method/outcome pair is created at zero up front, so rate() sees the first
 * request and a dashboard shows the series before anything happened.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ERROR_CODES, isDriverError, type ErrorCode } from '../common/errors.ts';

export const METRIC_PREFIX = 'netclaim_';

/** The kubelet plugin's calls that are timed (the health stream is not a call). */
export const KUBELET_METHODS = ['prepare', 'unprepare', 'get_info', 'notify_registration_status'] as const;
export type KubeletMethod = (typeof KUBELET_METHODS)[number];

export const OUTCOMES = ['ok', 'error'] as const;

/** The PodDriver's hooks, as `hook` label values. */
export const NRI_HOOKS = ['run', 'stop', 'remove', 'create', 'sync'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** An error that is not a DriverError is counted under this code. */
export const UNKNOWN_ERROR_CODE = 'UNKNOWN';

/**
 * Latency buckets from 0.5 ms to 5 s: a prepare with the claim in hand takes
 * a few ms (target p99 ≤ 5 ms), one with an API fetch tens to hundreds, and
 * anything past the kubelet's patience lands in the top buckets.
 */
export const LATENCY_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Step buckets: 50 µs (a store read) to 1 s (an API fetch under load). */
export const STEP_BUCKETS: readonly number[] = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** One observation per step of one call (`steps` in ms, observe/steps.ts). */
export function observeSteps(metrics: Metrics, call: string, steps: Readonly<Record<string, number>>): void {
  for (const [step, ms] of Object.entries(steps)) metrics.stepSeconds.observe({ call, step }, ms / 1000);
}

export interface Metrics {
  readonly registry: Registry;
  /** `netclaim_kubelet_requests_total{method,outcome}` */
  readonly kubeletRequests: Counter<'method' | 'outcome'>;
  /** `netclaim_kubelet_request_duration_seconds{method,outcome}` */
  readonly kubeletRequestSeconds: Histogram<'method' | 'outcome'>;
  /** `netclaim_claim_prepare_duration_seconds{outcome}`, one observation per claim. */
  readonly claimPrepareSeconds: Histogram<'outcome'>;
  /** `netclaim_claims_prepared`: claims prepared and not yet unprepared. */
  readonly claimsPrepared: Gauge;
  /** `netclaim_devices_published`: devices in the ResourceSlices. */
  readonly devicesPublished: Gauge;
  /** `netclaim_devices_excluded`: devices found but left out (filter, exclusions). */
  readonly devicesExcluded: Gauge;
  /** `netclaim_errors_total{code}` */
  readonly errors: Counter<'code'>;
  /** `netclaim_slice_publishes_total{outcome}`: publisher reconciles. */
  readonly slicePublishes: Counter<'outcome'>;
  /** `netclaim_inventory_rebuilds_total` */
  readonly inventoryRebuilds: Counter;
  /** `netclaim_nri_hooks_total{hook,outcome}`: NRI pod/container hooks (run, stop, remove, create, sync). */
  readonly nriHooks: Counter<'hook' | 'outcome'>;
  /** `netclaim_nri_hook_duration_seconds{hook,outcome}` */
  readonly nriHookSeconds: Histogram<'hook' | 'outcome'>;
  /**
   * `netclaim_step_duration_seconds{call,step}`: where a Prepare (call `prepare`) or an NRI hook
   * (call = the hook) spent its time, per step (observe/steps.ts; step names are fixed in the code).
   */
  readonly stepSeconds: Histogram<'call' | 'step'>;
  /** `netclaim_pods_unreconciled_total`: pods whose devices Synchronize could not put right. */
  readonly podsUnreconciled: Counter;
  /** `netclaim_detach_problems_total`: devices given back with something not restored (or not found). */
  readonly detachProblems: Counter;
  /** `netclaim_health_updates_total`: device health changes sent to the kubelet. */
  readonly healthUpdates: Counter;
  /** `netclaim_nri_connected`: 1 while the runtime has the NRI plugin registered and synchronized (Prepare is refused otherwise). */
  readonly nriConnected: Gauge;
  /** `netclaim_nri_disconnects_total`: times the runtime dropped the plugin after it was synchronized. */
  readonly nriDisconnects: Counter;
  readonly containerdEventsConnected: Gauge;
  /** `netclaim_netns_pins`: pod network namespaces held (pinned) while a device is in them. */
  readonly netnsPins: Gauge;
  /** `netclaim_netns_pinning_available`: 1 when pod namespaces can be pinned here (mount allowed). */
  readonly netnsPinningAvailable: Gauge;
  /** `netclaim_pods_evicted_total{outcome}`: evictions of pods whose devices could not be put right (--evict-unreconciled). */
  readonly podsEvicted: Counter<'outcome'>;
  /**
   * Times `fn` and records `kubelet_requests_total` and
   * `kubelet_request_duration_seconds`: outcome `error` when it throws (the
   * error is rethrown), else `outcomeOf(result)` (default `ok`), for calls
   * that report failure in their result.
   */
  observe<T>(method: KubeletMethod, fn: () => Promise<T>, outcomeOf?: (result: T) => Outcome): Promise<T>;
  /** `errors_total{code}` += 1 for a DriverError's code, or `UNKNOWN`. */
  countError(err: unknown): void;
}

export interface MetricsOptions {
  /** Process and Node.js metrics (RSS, heap, event-loop lag, GC...), prefixed `netclaim_`. Default true. */
  readonly defaultMetrics?: boolean;
}

export function createMetrics(o: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const n = (name: string): string => METRIC_PREFIX + name;
  const kubeletRequests = new Counter({ name: n('kubelet_requests_total'), help: 'kubelet DRA plugin calls, by method and outcome.', labelNames: ['method', 'outcome'] as const, registers });
  const kubeletRequestSeconds = new Histogram({
    name: n('kubelet_request_duration_seconds'), help: 'Duration of kubelet DRA plugin calls.', labelNames: ['method', 'outcome'] as const, buckets: [...LATENCY_BUCKETS], registers,
  });
  const claimPrepareSeconds = new Histogram({
    name: n('claim_prepare_duration_seconds'), help: 'Duration of preparing one claim.', labelNames: ['outcome'] as const, buckets: [...LATENCY_BUCKETS], registers,
  });
  const errors = new Counter({ name: n('errors_total'), help: 'Errors, by netclaim error code.', labelNames: ['code'] as const, registers });
  const slicePublishes = new Counter({ name: n('slice_publishes_total'), help: 'ResourceSlice publish reconciles, by outcome.', labelNames: ['outcome'] as const, registers });
  const nriHooks = new Counter({ name: n('nri_hooks_total'), help: 'NRI hooks, by hook and outcome.', labelNames: ['hook', 'outcome'] as const, registers });
  const nriHookSeconds = new Histogram({
    name: n('nri_hook_duration_seconds'), help: 'Duration of NRI hooks (attach in run, detach in stop).', labelNames: ['hook', 'outcome'] as const, buckets: [...LATENCY_BUCKETS], registers,
  });
  for (const hook of NRI_HOOKS) {
    for (const outcome of OUTCOMES) {
      nriHooks.inc({ hook, outcome }, 0);
      nriHookSeconds.zero({ hook, outcome });
    }
  }
  for (const method of KUBELET_METHODS) {
    for (const outcome of OUTCOMES) {
      kubeletRequests.inc({ method, outcome }, 0);
      kubeletRequestSeconds.zero({ method, outcome });
    }
  }
  const podsEvicted = new Counter({ name: n('pods_evicted_total'), help: 'Evictions of pods whose devices could not be put right, by outcome.', labelNames: ['outcome'] as const, registers });
  for (const outcome of OUTCOMES) {
    claimPrepareSeconds.zero({ outcome });
    slicePublishes.inc({ outcome }, 0);
    podsEvicted.inc({ outcome }, 0);
  }
  const metrics: Metrics = {
    registry,
    kubeletRequests,
    kubeletRequestSeconds,
    claimPrepareSeconds,
    claimsPrepared: new Gauge({ name: n('claims_prepared'), help: 'Claims prepared and not yet unprepared.', registers }),
    devicesPublished: new Gauge({ name: n('devices_published'), help: 'Devices published in ResourceSlices.', registers }),
    devicesExcluded: new Gauge({ name: n('devices_excluded'), help: 'Devices discovered but not published (filter or exclusion).', registers }),
    errors,
    slicePublishes,
    inventoryRebuilds: new Counter({ name: n('inventory_rebuilds_total'), help: 'Inventory rebuilds (kernel events and resyncs).', registers }),
    healthUpdates: new Counter({ name: n('health_updates_total'), help: 'Device health updates sent to the kubelet.', registers }),
    nriHooks, nriHookSeconds,
    stepSeconds: new Histogram({
      name: n('step_duration_seconds'), help: 'Duration of the steps of Prepare and of the NRI hooks (queue, lock, fetch, plan, cdi, store, netns, journal, attach, detach...).',
      labelNames: ['call', 'step'] as const, buckets: [...STEP_BUCKETS], registers,
    }),
    podsUnreconciled: new Counter({ name: n('pods_unreconciled_total'), help: 'Pods whose devices could not be put right after a reconnect or restart.', registers }),
    detachProblems: new Counter({ name: n('detach_problems_total'), help: 'Claims whose devices were given back with something not restored.', registers }),
    nriConnected: new Gauge({ name: n('nri_connected'), help: 'Whether the container runtime has the NRI plugin registered and synchronized (1) or not (0).', registers }),
    nriDisconnects: new Counter({ name: n('nri_disconnects_total'), help: 'Times the container runtime dropped the synchronized NRI plugin.', registers }),
    containerdEventsConnected: new Gauge({ name: n('containerd_events_connected'), help: 'With --containerd-socket: whether netclaim is subscribed to containerd\'s events for the early attach (1) or not (0).', registers }),
    netnsPins: new Gauge({ name: n('netns_pins'), help: 'Pod network namespaces pinned while a device is in them.', registers }),
    netnsPinningAvailable: new Gauge({ name: n('netns_pinning_available'), help: 'Whether pod network namespaces can be pinned here (1) or not (0).', registers }),
    podsEvicted,
    async observe<T>(method: KubeletMethod, fn: () => Promise<T>, outcomeOf?: (result: T) => Outcome): Promise<T> {
      const start = process.hrtime.bigint();
      const record = (outcome: Outcome): void => {
        kubeletRequests.inc({ method, outcome });
        kubeletRequestSeconds.observe({ method, outcome }, Number(process.hrtime.bigint() - start) / 1e9);
      };
      let result: T;
      try {
        result = await fn();
      } catch (err) {
        record('error');
        throw err;
      }
      record(outcomeOf ? outcomeOf(result) : 'ok');
      return result;
    },
    countError(err: unknown) {
      errors.inc({ code: errorCode(err) });
    },
  };
  if (o.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return metrics;
}

/** The `code` label for an error: its DriverError code when it is one of ours. */
export function errorCode(err: unknown): ErrorCode | typeof UNKNOWN_ERROR_CODE {
  return isDriverError(err) && (ERROR_CODES as readonly string[]).includes(err.code) ? err.code : UNKNOWN_ERROR_CODE;
}
