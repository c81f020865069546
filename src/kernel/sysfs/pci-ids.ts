/**
 * The PCI ID database (pci.ids from the PCI ID Project) for vendor, device
 * and subsystem names. Sources, in order, each loaded once and only when a
 * name is still unknown:
 *   1. the file named by `NETCLAIM_PCI_IDS`, when set;
 *   2. the network subset shipped in this package, `data/pci.ids.network`
 *      (made by scripts/gen-pci-ids.ts);
 *   3. the host's `/usr/share/misc/pci.ids` or `/usr/share/hwdata/pci.ids`.
 * Format: `vendor  name`, `\tdevice  name`, `\t\tsubvendor subdevice  name`;
 * `C class  name` starts the class list (`\tsubclass`, `\t\tprog-if`).
 */
import { readFileSync } from 'node:fs';
import { assetPath } from '../../common/assets.ts';

export interface PciNames {
  readonly vendorName?: string;
  readonly deviceName?: string;
  /** The board name from the subsystem line (`ConnectX-7 HHHL adapter card…`). */
  readonly subsystemName?: string;
  /** The subsystem vendor's name (`Dell`, `Hewlett Packard Enterprise`…). */
  readonly subsystemVendorName?: string;
}

export interface PciIdsLookup {
  /** Names for lower-case 4-hex-digit ids; fields are absent when unknown. */
  lookup(vendorId: string, deviceId: string, subVendorId?: string, subDeviceId?: string): PciNames;
  /** Class name for a 24-bit class code (`020000` → `Ethernet controller`). */
  className(classCode: string): string | undefined;
}

interface DeviceEntry {
  readonly name: string;
  /** `subvendor subdevice` → name. */
  readonly subsystems: Map<string, string>;
}

/**
 * A vendor's name, and where its device and subsystem lines are in the
 * table's text: [start, end) offsets, two per vendor line (a vendor may appear
 * twice). The lines are parsed when a lookup first asks ({@link devicesOf}):
 * the daemon names a handful of vendors, and every device of the 355 KB
 * shipped file parsed into maps was 1.6 MB of heap for the process's life
 * (docs/benchmarks.md, daemon).
 */
export interface VendorLines {
  readonly name: string;
  readonly spans: readonly number[];
}

/** One parsed pci.ids file. */
export interface PciIdsTable {
  readonly version?: string;
  /** The file's text, which {@link VendorLines} point into. */
  readonly text: string;
  readonly vendors: ReadonlyMap<string, VendorLines>;
  /** `02` → name, `0200` → subclass name, `020000` → prog-if name. */
  readonly classes: ReadonlyMap<string, string>;
}

const VENDOR_RE = /^([0-9a-fA-F]{4})\s+(.+)$/;
const DEVICE_RE = /^\t([0-9a-fA-F]{4})\s+(.+)$/;
const SUBSYS_RE = /^\t\t([0-9a-fA-F]{4})\s+([0-9a-fA-F]{4})\s+(.+)$/;
const CLASS_RE = /^C ([0-9a-fA-F]{2})\s+(.+)$/;
const SUBCLASS_RE = /^\t([0-9a-fA-F]{2})\s+(.+)$/;
const PROGIF_RE = /^\t\t([0-9a-fA-F]{2})\s+(.+)$/;
const VERSION_RE = /^#\s*Version:\s*(\S+)/;

/** Calls `each(line, lineStart, nextLineStart)` for the lines of `text` in [start, end), each without its `\r`. */
function forEachLine(text: string, start: number, end: number, each: (line: string, at: number, next: number) => void): void {
  for (let at = start; at < end;) {
    const nl = text.indexOf('\n', at);
    const stop = nl < 0 || nl > end ? end : nl;
    const line = text.charCodeAt(stop - 1) === 13 && stop > at ? text.slice(at, stop - 1) : text.slice(at, stop);
    const next = stop + 1;
    each(line, at, next);
    at = next;
  }
}

/**
 * Parses pci.ids text. Lenient: a line it does not understand is skipped, and
 * a device or subsystem line with no owner is ignored; it never throws.
 * Vendors and classes are read now; a vendor's devices when first looked up.
 */
export function parsePciIds(text: string): PciIdsTable {
  const vendors = new Map<string, { name: string; spans: number[] }>();
  const classes = new Map<string, string>();
  let version: string | undefined;
  let vendor: number[] | undefined;
  let cls: string | undefined;
  let subclass: string | undefined;
  const endVendor = (at: number): void => {
    vendor?.push(at);
    vendor = undefined;
  };
  forEachLine(text, 0, text.length, (line, at, next) => {
    if (line === '' || line.startsWith('#')) {
      const v = version === undefined ? VERSION_RE.exec(line) : null;
      if (v) version = v[1];
      return;
    }
    let m: RegExpExecArray | null;
    if ((m = CLASS_RE.exec(line))) {
      endVendor(at);
      cls = m[1]!.toLowerCase();
      classes.set(cls, m[2]!.trim());
      subclass = undefined;
    } else if (cls !== undefined && (m = SUBCLASS_RE.exec(line))) {
      subclass = cls + m[1]!.toLowerCase();
      classes.set(subclass, m[2]!.trim());
    } else if (cls !== undefined && subclass !== undefined && (m = PROGIF_RE.exec(line))) {
      classes.set(subclass + m[1]!.toLowerCase(), m[2]!.trim());
    } else if ((m = VENDOR_RE.exec(line))) {
      endVendor(at);
      cls = subclass = undefined;
      const id = m[1]!.toLowerCase();
      const entry = vendors.get(id) ?? { name: m[2]!.trim(), spans: [] };
      vendors.set(id, entry);
      vendor = entry.spans;
      vendor.push(Math.min(next, text.length));
    }
  });
  endVendor(text.length);
  // Exact-size copies: a pushed-to array keeps room for 17 numbers, 2,300 vendors of them.
  const kept = new Map<string, VendorLines>();
  for (const [id, v] of vendors) kept.set(id, { name: v.name, spans: v.spans.slice() });
  return version === undefined ? { text, vendors: kept, classes } : { version, text, vendors: kept, classes };
}

const parsedDevices = new WeakMap<VendorLines, ReadonlyMap<string, DeviceEntry>>();

/** A vendor's devices (id → name and subsystems), parsed from its lines on first use and kept. */
export function devicesOf(t: PciIdsTable, vendor: VendorLines): ReadonlyMap<string, DeviceEntry> {
  const got = parsedDevices.get(vendor);
  if (got) return got;
  const devices = new Map<string, DeviceEntry>();
  for (let i = 0; i < vendor.spans.length; i += 2) {
    let device: DeviceEntry | undefined;
    forEachLine(t.text, vendor.spans[i]!, vendor.spans[i + 1]!, (line) => {
      let m: RegExpExecArray | null;
      if ((m = DEVICE_RE.exec(line))) {
        const id = m[1]!.toLowerCase();
        device = devices.get(id) ?? { name: m[2]!.trim(), subsystems: new Map() };
        devices.set(id, device);
      } else if (device && (m = SUBSYS_RE.exec(line))) {
        device.subsystems.set(`${m[1]!.toLowerCase()} ${m[2]!.toLowerCase()}`, m[3]!.trim());
      }
    });
  }
  parsedDevices.set(vendor, devices);
  return devices;
}

/** Looks names up in one table. */
export function lookupInTable(t: PciIdsTable, v: string, d: string, sv?: string, sd?: string): PciNames {
  const vendor = t.vendors.get(v.toLowerCase());
  const device = vendor && devicesOf(t, vendor).get(d.toLowerCase());
  const sub =
    sv !== undefined && sd !== undefined ? device?.subsystems.get(`${sv.toLowerCase()} ${sd.toLowerCase()}`) : undefined;
  const subVendor = sv !== undefined ? t.vendors.get(sv.toLowerCase())?.name : undefined;
  return {
    ...(vendor && { vendorName: vendor.name }),
    ...(device && { deviceName: device.name }),
    ...(sub !== undefined && { subsystemName: sub }),
    ...(subVendor !== undefined && { subsystemVendorName: subVendor }),
  };
}

const NAME_FIELDS = ['vendorName', 'deviceName', 'subsystemName', 'subsystemVendorName'] as const;

/**
 * A lookup over several sources, each a thunk called at most once. A source
 * is loaded only while the vendor or device name is still unknown (a
 * subsystem name alone never pulls in the large host file); sources already
 * loaded are always consulted. A thunk returning undefined (a missing file)
 * is skipped. Each field comes from the first source knowing it.
 */
export function chainPciIds(sources: readonly (() => PciIdsTable | undefined)[]): PciIdsLookup {
  const loaded: (PciIdsTable | undefined | null)[] = sources.map(() => null);
  const table = (i: number): PciIdsTable | undefined => {
    if (loaded[i] === null) loaded[i] = sources[i]!();
    return loaded[i] ?? undefined;
  };
  return {
    lookup(v, d, sv, sd) {
      const out: { -readonly [K in keyof PciNames]: PciNames[K] } = {};
      for (let i = 0; i < sources.length; i++) {
        const needed = out.vendorName === undefined || out.deviceName === undefined;
        if (!needed && loaded[i] === null) continue;
        const t = table(i);
        if (!t) continue;
        const names = lookupInTable(t, v, d, sv, sd);
        for (const k of NAME_FIELDS) if (out[k] === undefined && names[k] !== undefined) out[k] = names[k];
      }
      return out;
    },
    className(classCode) {
      const c = classCode.toLowerCase().replace(/^0x/, '');
      for (let i = 0; i < sources.length; i++) {
        const t = table(i);
        if (!t) continue;
        for (const key of [c.slice(0, 6), c.slice(0, 4), c.slice(0, 2)]) {
          const name = key.length >= 2 ? t.classes.get(key) : undefined;
          if (name !== undefined) return name;
        }
      }
      return undefined;
    },
  };
}

/** A source thunk reading a pci.ids file; undefined when it cannot be read. */
export function pciIdsFile(path: string): () => PciIdsTable | undefined {
  return () => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
    return parsePciIds(text);
  };
}

/** The network subset shipped with netclaim. */
export const SHIPPED_PCI_IDS = assetPath('data/pci.ids.network');
/** Where distributions install the full database. */
export const HOST_PCI_IDS = ['/usr/share/misc/pci.ids', '/usr/share/hwdata/pci.ids'] as const;

/** The sources in lookup order, for an environment (default: `process.env`). */
export function defaultPciIdsSources(env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = env.NETCLAIM_PCI_IDS;
  return [...(fromEnv ? [fromEnv] : []), SHIPPED_PCI_IDS, ...HOST_PCI_IDS];
}

let defaultLookup: PciIdsLookup | undefined;

/** The process-wide database: sources from {@link defaultPciIdsSources}, made on first use. */
export function pciIds(): PciIdsLookup {
  defaultLookup ??= chainPciIds(defaultPciIdsSources().map(pciIdsFile));
  return defaultLookup;
}

/** Forgets the process-wide database so the next use re-reads `NETCLAIM_PCI_IDS` (for tests). */
export function resetPciIds(): void {
  defaultLookup = undefined;
}
