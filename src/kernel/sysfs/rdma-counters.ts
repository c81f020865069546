/**
 * The counters of an RDMA device's ports from sysfs:
 * `class/infiniband/<dev>/ports/<N>/counters/*` (the IB PortCounters every
 * provider fills: symbol_error, link_downed, port_rcv_errors, ...; read by
 * `perfquery`) and `…/hw_counters/*` (the provider's own: mlx5's
 * out_of_buffer, rxe's retry_exceeded_err, ...; Documentation/ABI/stable/sysfs-class-infiniband).
 * What `rdma statistic show link DEV/N` prints for the hw counters.
 */
import { join } from 'node:path';
import { DEFAULT_SYSFS_ROOT, isPlainName, listDir, readAttr } from './sysfs-files.ts';

export interface RdmaPortCounters {
  readonly port: number;
  /** `counters/`: the standard port counters, by file name. */
  readonly counters: Readonly<Record<string, number>>;
  /** `hw_counters/`: the provider's counters, by file name. */
  readonly hw: Readonly<Record<string, number>>;
}

/** More files than any provider has (mlx5 ~60 hw counters): a bound on what one read costs. */
const MAX_FILES = 128;

/**
 * Every port's counters of RDMA device `dev`; empty when the device is not
 * in this sysfs. A file that is not a decimal number (some counters read
 * `N/A` while the port is down) is left out.
 */
export function rdmaPortCountersRead(dev: string, root: string = DEFAULT_SYSFS_ROOT): RdmaPortCounters[] {
  if (!isPlainName(dev)) return [];
  const ports = join(root, 'class', 'infiniband', dev, 'ports');
  return listDir(ports)
    .filter((p) => /^\d+$/.test(p))
    .map((p) => ({ port: Number(p), counters: readCounterDir(join(ports, p, 'counters')), hw: readCounterDir(join(ports, p, 'hw_counters')) }))
    .sort((a, b) => a.port - b.port);
}

function readCounterDir(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of listDir(dir).slice(0, MAX_FILES)) {
    if (!isPlainName(name) || name === 'lifespan') continue; // hw_counters/lifespan is a setting (ms), not a count
    const v = readAttr(join(dir, name));
    if (v !== undefined && /^\d{1,16}$/.test(v)) out[name] = Number(v);
  }
  return out;
}
