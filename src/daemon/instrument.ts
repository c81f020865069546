/**
 * The DriverPort the kubelet surface calls, with request metrics around it:
 * `netclaim_kubelet_requests_total` and `..._request_duration_seconds` per
 * method, outcome `error` when any claim of the call failed.
 */
import type { DriverPort } from '../driver/driver-port.ts';
import type { Metrics } from '../observe/metrics.ts';

export function instrumentDriver(driver: DriverPort, metrics: Metrics): DriverPort {
  const anyError = (m: ReadonlyMap<unknown, object>): 'ok' | 'error' => ([...m.values()].some((r) => 'error' in r && r.error !== undefined) ? 'error' : 'ok');
  return {
    prepare: (claims) => metrics.observe('prepare', () => driver.prepare(claims), anyError),
    unprepare: (claims) => metrics.observe('unprepare', () => driver.unprepare(claims), anyError),
    ...(driver.health === undefined ? {} : { health: () => driver.health!() }),
  };
}
