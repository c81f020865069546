/**
 * The last published form of the devices netclaim holds, kept beside the
 * claim records (`<state>/inventory/held-devices.json`), so a restarted
 * daemon publishes a device that is in a pod with the attributes it had,
 * from its first slice. A cache, not a record: losing it costs attributes
 * (a held device is then published from its claim record and what sysfs
 * still shows), never a device.
 *
 * So it is replaced atomically but not fsynced: it is saved inside Prepare,
 * before the kubelet's answer, where the file's and its directory's flushes
 * cost the pod 1-2 ms (docs/benchmarks.md). A power loss can leave it old,
 * empty or cut short; `load` then ignores it (reported), and the inventory
 * publishes held devices from their records.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Device } from '../../inventory/model.ts';
import type { HeldDeviceStore } from '../../inventory/watcher.ts';
import { replaceFile } from './atomic-file.ts';

const FILE = 'held-devices.json';

export interface HeldDevicesFileOptions {
  /** Called when the file cannot be read or written (the daemon logs it); the cache is then skipped. */
  readonly onProblem?: (what: string, err: unknown) => void;
}

export function heldDevicesFile(stateDir: string, o: HeldDevicesFileOptions = {}): HeldDeviceStore {
  const dir = join(stateDir, 'inventory');
  const path = join(dir, FILE);
  return {
    load(): readonly Device[] {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') o.onProblem?.(`cannot read ${path}`, err);
        return [];
      }
      try {
        const parsed = JSON.parse(text) as unknown;
        if (!isRecord(parsed) || parsed['version'] !== 1 || !Array.isArray(parsed['devices'])) throw new Error('not a version 1 held-devices file');
        return (parsed['devices'] as unknown[]).filter(isDevice);
      } catch (err) {
        o.onProblem?.(`ignoring ${path}`, err);
        return [];
      }
    },
    save(devices: readonly Device[]): void {
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        replaceFile(path, JSON.stringify({ version: 1, devices }));
      } catch (err) {
        o.onProblem?.(`cannot write ${path}`, err);
      }
    },
  };
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** The fields the inventory relies on, with the right types; anything else is dropped. */
function isDevice(x: unknown): x is Device {
  return isRecord(x) && typeof x['name'] === 'string' && typeof x['kind'] === 'string' && isRecord(x['attributes'])
    && Array.isArray(x['charDevices']) && Array.isArray(x['dropped']) && typeof x['netdevPresent'] === 'boolean';
}
