/**
 * The DRAResourceHealth service (v1 and v1alpha1: the same messages under two
 * package names, served by the same handlers): NodeWatchResources streams the
 * complete device health list on open, after every change, and again every
 * `resendMs`. The periodic resend matters: the kubelet turns a device Unknown
 * when it has not heard of it within the device's timeout (30 s by default).
 */
import type { DeviceHealth, HealthView } from '../../driver/driver-port.ts';
import type { ServerStream, ServiceImplementation } from './grpc-server.ts';
import type { WireDeviceHealth, WireWatchResponse } from './protos.ts';

const WIRE_HEALTH = { unknown: 'UNKNOWN', healthy: 'HEALTHY', unhealthy: 'UNHEALTHY' } as const;

export function encodeDeviceHealth(d: DeviceHealth): WireDeviceHealth {
  return {
    device: { pool_name: d.poolName, device_name: d.deviceName },
    health: WIRE_HEALTH[d.health],
    last_updated_time: Math.trunc(d.lastUpdatedTime),
    health_check_timeout_seconds: Math.trunc(d.healthCheckTimeoutSeconds ?? 0),
    message: d.message ?? '',
  };
}

type WatchStream = ServerStream<WireWatchResponse>;

/** Open watch streams, so that a graceful close can end them (tryShutdown waits for open calls). */
export class HealthStreams {
  readonly #view: HealthView;
  readonly #resendMs: number;
  readonly #open = new Map<WatchStream, () => void>();

  constructor(view: HealthView, resendMs: number) {
    this.#view = view;
    this.#resendMs = resendMs;
  }

  get size(): number {
    return this.#open.size;
  }

  /** Handlers for `v1.DRAResourceHealth` and `v1alpha1.DRAResourceHealth` (identical messages). */
  handlers(): ServiceImplementation {
    return { NodeWatchResources: (_request: unknown, call: WatchStream) => { this.#watch(call); } };
  }

  /** Ends every open stream with OK; the kubelet re-opens it on the next instance. */
  endAll(): void {
    for (const [call, stop] of [...this.#open]) {
      stop();
      if (!call.closed) call.end();
    }
  }

  #watch(call: WatchStream): void {
    const send = (): void => {
      // Every message is the complete list, so a message skipped while the
      // client is not reading loses nothing: the next one supersedes it.
      if (call.closed || call.needDrain) return;
      call.write({ devices: this.#view.devices.map(encodeDeviceHealth) });
    };
    const unsubscribe = this.#view.onChange(send);
    const timer = setInterval(send, this.#resendMs);
    const stop = (): void => {
      if (!this.#open.delete(call)) return;
      clearInterval(timer);
      unsubscribe();
    };
    this.#open.set(call, stop);
    // The signal aborts however the call ends: cancelled, cut, or ended by endAll().
    call.signal.addEventListener('abort', stop, { once: true });
    send();
  }
}
