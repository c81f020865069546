/**
 * A shareable parent that can also move is published twice (docs/sharing.md,
 * "Whole vs shared use"): under its own name as the shareable device, and as
 * its whole twin (`wholeTwinName`), both consuming the parent's one counter
 * so the scheduler never allocates both. The inventory lists the parent once;
 * these map a twin's name back to it, for Prepare (the parent without its
 * sharing, under the twin's name: the claim moves the parent itself) and for
 * holds (the parent stays listed, with its sharing and so its counter, while
 * it is in a pod).
 */
import type { DeviceName } from '../../common/ids.ts';
import type { Device } from '../../inventory/model.ts';
import { wholeTwinOf } from '../../inventory/shareable.ts';

/** The device a result names: a listed device, or a whole twin as the parent to move (undefined: neither). */
export function deviceForResult(name: string, byName: ReadonlyMap<string, Device>): Device | undefined {
  const listed = byName.get(name);
  if (listed !== undefined) return listed;
  const parent = wholeTwinOf(name, byName.values());
  if (parent === undefined) return undefined;
  const { sharing: _sharing, ...whole } = parent;
  return { ...whole, name: name as DeviceName };
}

/** The inventory name to hold for a prepared device: a whole twin's parent, else the device. */
export function heldName(name: string, devices: Iterable<Device>): string {
  return wholeTwinOf(name, devices)?.name ?? name;
}
