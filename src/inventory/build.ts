/**
 * From a snapshot to the inventory: a pure function, so every decision
 * (which device, which name, which attributes, what is left out and why) is
 * tested without a kernel.
 *
 * The ownership model (docs/inventory.md): every PCI function, netdev and
 * RDMA device is in exactly one state — part of one published device (free,
 * or held by netclaim), or excluded with a code. Steps: direct causes per
 * object (exclusions.ts) → units (units.ts) → a unit with any cause is
 * excluded whole, with its strongest cause → a held unit is published as
 * held → the rest become devices (a movable netdev, or an RDMA-only device)
 * → attributes, admin filter, names checked unique.
 */
import type { DeviceName } from '../common/ids.ts';
import type { Link } from '../kernel/netlink/route/link-types.ts';
import type { IbDevice, PciFunction } from '../kernel/sysfs/sysfs-types.ts';
import { deviceAttributes, type DeviceFacts } from './attributes/build.ts';
import { type Attributes, attributeProblems, isQualifiedName, MAX_ATTRIBUTES_PER_DEVICE, valueProblem } from './attributes/limits.ts';
import { netdevDeviceName, pciDeviceName, rdmaDeviceName, vmbusDeviceName } from './device-name.ts';
import { type Cause, immovableWhy, linkCauses, pciCause, strongest } from './exclusions.ts';
import type { Device, DeviceIdentity, DeviceKind, Exclusion, ExtraAttributes, Inventory, InventorySnapshot, SuggestConfig } from './model.ts';
import type { InventoryOptions } from './options.ts';
import { buildUnits, netKey, type ObjectKey, pciKey, rdmaKey, type Unit } from './units.ts';
import { sharingField } from './shareable.ts';

const RDMA_CM = '/dev/infiniband/rdma_cm';

/** A device before attributes and the admin filter: what it is made of. */
interface Draft {
  readonly name: DeviceName;
  readonly facts: DeviceFacts;
  readonly objects: readonly string[];
  /** The held device it stands for, when netclaim holds it. */
  readonly held?: Device;
}

/** A cause, with the object it was found on (to explain it on the unit's other objects). */
interface Found extends Cause {
  readonly on: string;
}

/**
 * The inventory of a snapshot. `held`: the devices netclaim holds (prepared
 * for a pod), with their last published form; they stay published while
 * their netdev is away, or gone with its namespace.
 */
export function buildInventory(
  s: InventorySnapshot, o: InventoryOptions, held: readonly Device[] = [], extra?: ExtraAttributes, suggest?: SuggestConfig,
): Inventory {
  const ctx = context(s, held);
  const direct = directCauses(s, o, ctx);
  const exclusions: Exclusion[] = [];
  const drafts: Draft[] = [];
  const placed = new Set<string>();
  for (const unit of buildUnits(s)) {
    const heldHere = heldOfUnit(unit, ctx);
    const found = strongestFound(unitKeys(unit).map((k) => direct.get(k)).filter((c): c is Found => c !== undefined));
    if (heldHere.length > 0) {
      drafts.push(...heldDrafts(heldHere, unit, s, ctx));
      for (const h of heldHere) placed.add(h.name);
      continue;
    }
    const verdict = found ?? publishUnit(unit, s, ctx);
    if ('code' in verdict) exclusions.push(...unitExclusions(unit, verdict, ctx));
    else drafts.push(...verdict);
  }
  // Held devices with nothing left in this namespace: a virtual device moved into a pod.
  for (const h of held) {
    if (!placed.has(h.name)) drafts.push({ name: h.name, facts: { kind: h.kind, addrs: [] }, objects: (h.objects ?? []).filter((x) => !isPresentAnywhere(x, s)), held: h });
  }
  const devices = finish(drafts, s, o, exclusions, extra, suggest);
  return { devices, exclusions: exclusions.sort(byObject), ...(s.rdmaNetnsMode ? { rdmaNetnsMode: s.rdmaNetnsMode } : {}) };
}

interface Context {
  readonly links: ReadonlyMap<number, Link>;
  readonly ib: ReadonlyMap<string, IbDevice>;
  readonly heldByObject: ReadonlyMap<string, readonly Device[]>;
  readonly heldPci: ReadonlySet<string>;
}

function context(s: InventorySnapshot, held: readonly Device[]): Context {
  const heldByObject = new Map<string, Device[]>();
  const index = (key: string, h: Device): void => { (heldByObject.get(key) ?? heldByObject.set(key, []).get(key)!).push(h); };
  for (const h of held) {
    if (h.pciAddress !== undefined) index(pciKey(h.pciAddress), h);
    if (h.rdmaDevice !== undefined) index(rdmaKey(h.rdmaDevice), h);
    // A virtual device is found by its interface name while it is still on the host.
    if (h.pciAddress === undefined && h.ifName !== undefined) index(`ifname:${h.ifName}`, h);
  }
  return {
    links: new Map(s.links.map((l) => [l.index as number, l])),
    ib: new Map(s.ib.map((d) => [d.name, d])),
    heldByObject,
    heldPci: new Set(held.map((h) => h.pciAddress).filter((a): a is NonNullable<typeof a> => a !== undefined)),
  };
}

/** Every object's own cause, by object key. */
function directCauses(s: InventorySnapshot, o: InventoryOptions, ctx: Context): Map<ObjectKey, Found> {
  const out = new Map<ObjectKey, Found>();
  for (const [index, c] of linkCauses(s, o)) out.set(netKey(index), { ...c, on: `netdev ${ctx.links.get(index)!.name}` });
  for (const f of s.pci.values()) {
    const c = pciCause(f) ?? heldVfCause(f, ctx.heldPci);
    if (c) out.set(pciKey(f.address), { ...c, on: `PCI function ${f.address}` });
  }
  return out;
}

/** An SR-IOV PF whose VF is in a pod: moving the PF would take the VF's uplink with it. */
function heldVfCause(f: PciFunction, heldPci: ReadonlySet<string>): Cause | undefined {
  const vf = f.sriov?.vfs.find((v) => heldPci.has(v.address));
  return vf ? { code: 'pf-of-held-vf', reason: `its VF ${vf.address} is in a pod` } : undefined;
}

function strongestFound(found: readonly Found[]): Found | undefined {
  return strongest(found) as Found | undefined;
}

function unitKeys(u: Unit): ObjectKey[] {
  return [...u.netdevs.map(netKey), ...u.pci.map(pciKey), ...u.rdma.map(rdmaKey)];
}

/** The held devices standing for objects of this unit (several for a multi-port function), by name. */
function heldOfUnit(u: Unit, ctx: Context): Device[] {
  const out = new Map<string, Device>();
  const add = (h: Device | undefined): void => { if (h) out.set(h.name, h); };
  for (const a of u.pci) for (const h of ctx.heldByObject.get(pciKey(a)) ?? []) add(h);
  for (const r of u.rdma) for (const h of ctx.heldByObject.get(rdmaKey(r)) ?? []) add(h);
  if (u.pci.length === 0) for (const i of u.netdevs) for (const h of ctx.heldByObject.get(`ifname:${ctx.links.get(i)!.name}`) ?? []) add(h);
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** An object key (`pci:0000:3b:00.0`) as a reason names it (`PCI function 0000:3b:00.0`). */
function describe(object: string): string {
  const [type, ...rest] = object.split(':');
  const v = rest.join(':');
  return type === 'pci' ? `PCI function ${v}` : type === 'rdma' ? `RDMA device ${v}` : `netdev ${v}`;
}

/** The names of a unit's objects as devices and exclusions show them. */
function objectNames(u: Unit, ctx: Context): string[] {
  return [...u.netdevs.map((i) => `netdev:${ctx.links.get(i)!.name}`), ...u.pci.map((a) => `pci:${a}`), ...u.rdma.map((r) => `rdma:${r}`)];
}

function unitExclusions(u: Unit, c: Found, ctx: Context): Exclusion[] {
  const why = (self: string): string => (self === c.on ? c.reason : `${c.on}: ${c.reason}`);
  return [
    ...u.netdevs.map((i): Exclusion => { const n = ctx.links.get(i)!.name; return { subject: 'netdev', ifName: n, code: c.code, reason: why(`netdev ${n}`) }; }),
    ...u.pci.map((a): Exclusion => ({ subject: 'pci', pciAddress: a, code: c.code, reason: why(`PCI function ${a}`) })),
    ...u.rdma.map((r): Exclusion => ({ subject: 'rdma', rdmaDevice: r, code: c.code, reason: why(`RDMA device ${r}`) })),
  ];
}

/** The devices a cause-free, unheld unit becomes, or why it cannot be published. */
function publishUnit(u: Unit, s: InventorySnapshot, ctx: Context): Draft[] | Found {
  const objects = objectNames(u, ctx);
  const unknown = (reason: string): Found => ({ code: 'unknown-topology', reason, on: describe(objects[0] ?? u.id) });
  const links = u.netdevs.map((i) => ctx.links.get(i)!);
  const fn = (a: string | undefined): PciFunction | undefined => (a !== undefined ? s.pci.get(a) : undefined);

  if (u.vmbus.length > 0) {
    const synthetic = links.filter((l) => s.linkVmbus?.has(l.index));
    if (u.vmbus.length > 1 || synthetic.length !== 1 || u.pci.length > 1 || u.rdma.length > 1) {
      return unknown(`a Hyper-V NIC unit the model cannot split (${objects.join(', ')})`);
    }
    const link = synthetic[0]!;
    return [{ name: vmbusDeviceName(u.vmbus[0]!), objects, facts: facts(s, 'synthetic', { link, pci: fn(u.pci[0]), rdmaName: u.rdma[0] }) }];
  }

  if (links.length === 0) return netdevlessUnit(u, s, ctx, objects, unknown);

  if (u.pci.length === 0) {
    // A virtual netdev (with a soft-RoCE device on it, perhaps).
    if (links.length > 1 || u.rdma.length > 1) return unknown(`virtual links joined by one RDMA device (${objects.join(', ')})`);
    const link = links[0]!;
    return [{ name: netdevDeviceName(link.name), objects, facts: facts(s, 'virtual', { link, rdmaName: u.rdma[0] }) }];
  }

  const owners = new Set(links.map((l) => s.linkPci.get(l.index)));
  if (owners.size > 1) return unknown(`netdevs of several PCI functions joined by RDMA (${objects.join(', ')})`);
  const pci = fn([...owners][0]);
  if (!pci) return unknown(`PCI function ${[...owners][0]} is not readable in sysfs`);
  const kind: DeviceKind = pci.physfn ? 'vf' : 'pci';
  if (links.length === 1) {
    const link = links[0]!;
    if (u.rdma.length > 1) return unknown(`netdev ${link.name} with several RDMA devices (${u.rdma.join(', ')})`);
    return [{ name: pciDeviceName(pci.address), objects, facts: facts(s, kind, { link, pci, rdmaName: u.rdma[0] }) }];
  }
  // Several netdevs on one function (mlx4 dual port, MANA vPorts): one device each, when every RDMA device belongs to exactly one.
  const rdmaOf = new Map<number, string>();
  for (const r of u.rdma) {
    const ports = new Set(s.rdmaPorts.filter((p) => p.devName === r && p.netdevIndex !== undefined && ctx.links.has(p.netdevIndex)).map((p) => p.netdevIndex!));
    if (ports.size !== 1) return unknown(`PCI function ${pci.address} has ${links.length} netdevs and RDMA device ${r} cannot be given to exactly one of them`);
    const [i] = ports;
    if (rdmaOf.has(i!)) return unknown(`netdev ${ctx.links.get(i!)!.name} has several RDMA devices`);
    rdmaOf.set(i!, r);
  }
  const extra = u.pci.filter((a) => a !== pci.address);
  if (extra.length > 0) return unknown(`PCI function ${pci.address} shares its netdevs with ${extra.join(', ')}`);
  // The function itself goes with the first of its devices (each object belongs to exactly one device).
  return links.map((link, i): Draft => {
    const r = rdmaOf.get(link.index);
    return {
      name: pciDeviceName(pci.address, link.physPortName ?? link.name),
      objects: [`netdev:${link.name}`, ...(r !== undefined ? [`rdma:${r}`] : []), ...(i === 0 ? [`pci:${pci.address}`] : [])],
      facts: facts(s, kind, { link, pci, rdmaName: r }),
    };
  });
}

/**
 * A unit with no netdev in this namespace: an RDMA-only device (InfiniBand or
 * EFA, no netdev by nature), or hardware someone else has (its netdev is in
 * a namespace netclaim did not move it to).
 */
function netdevlessUnit(u: Unit, s: InventorySnapshot, ctx: Context, objects: string[], unknown: (r: string) => Found): Draft[] | Found {
  const on = describe(objects[0] ?? u.id);
  if (u.rdma.length === 0) {
    return { code: 'owned-elsewhere', reason: 'a network function with no netdev in the host namespace: another agent (a CNI) has it, or its netdev was not created', on };
  }
  if (u.rdma.length > 1 || u.pci.length > 1) return unknown(`RDMA devices without a netdev the model cannot split (${objects.join(', ')})`);
  const ib = ctx.ib.get(u.rdma[0]!)!;
  const ethernet = ib.ports.some((p) => p.linkLayer?.toLowerCase() === 'ethernet');
  if (ethernet) {
    return { code: 'owned-elsewhere', reason: `RoCE/iWARP device ${ib.name} has no netdev in the host namespace: another agent has its netdev`, on: `RDMA device ${ib.name}` };
  }
  const pci = u.pci[0] !== undefined ? s.pci.get(u.pci[0]) : undefined;
  const name = pci ? pciDeviceName(pci.address) : rdmaDeviceName(ib.name);
  return [{ name, objects, facts: facts(s, 'rdma', { pci, rdmaName: ib.name }) }];
}

/**
 * The held devices of a unit: fresh facts where their objects are still
 * here, their last attributes for what is away. Each keeps the objects it
 * was published with; what else of the unit is here goes with the first
 * (a unit is published whole: a free port of a held multi-port function
 * waits until the held one is released).
 */
function heldDrafts(held: readonly Device[], u: Unit, s: InventorySnapshot, ctx: Context): Draft[] {
  const present = objectNames(u, ctx);
  const taken = new Set<string>();
  const drafts = held.map((h): Draft => {
    const own = (h.objects ?? []).filter((o) => !taken.has(o) && (present.includes(o) || !isPresentAnywhere(o, s)));
    for (const o of own) taken.add(o);
    const link = u.netdevs.map((i) => ctx.links.get(i)!).find((l) => l.name === h.ifName && (h.pciAddress === undefined || s.linkPci.get(l.index) === h.pciAddress));
    const pci = h.pciAddress !== undefined ? s.pci.get(h.pciAddress) : undefined;
    const rdmaName = h.rdmaDevice !== undefined && ctx.ib.has(h.rdmaDevice) ? h.rdmaDevice : undefined;
    return { name: h.name, objects: own, held: h, facts: facts(s, h.kind, { link, pci, rdmaName }) };
  });
  const rest = present.filter((o) => !taken.has(o));
  return drafts.map((d, i) => (i === 0 ? { ...d, objects: [...d.objects, ...rest] } : d));
}

/** Whether an object (`netdev:eth1`, `pci:…`, `rdma:…`) is in this snapshot at all. */
function isPresentAnywhere(o: string, s: InventorySnapshot): boolean {
  const [type, ...rest] = o.split(':');
  const v = rest.join(':');
  return type === 'netdev' ? s.links.some((l) => l.name === v) : type === 'pci' ? s.pci.has(v) : s.ib.some((d) => d.name === v);
}

function facts(s: InventorySnapshot, kind: DeviceKind, d: { link?: Link | undefined; pci?: PciFunction | undefined; rdmaName?: string | undefined }): DeviceFacts {
  const ib = d.rdmaName !== undefined ? s.ib.find((x) => x.name === d.rdmaName) : undefined;
  const rdmaPort = d.rdmaName !== undefined ? s.rdmaPorts.find((p) => p.devName === d.rdmaName && (!d.link || p.netdevIndex === d.link.index)) ?? s.rdmaPorts.find((p) => p.devName === d.rdmaName) : undefined;
  const index = d.link?.index;
  return {
    kind,
    ...(s.numaNodes !== undefined ? { hostNumaNodes: s.numaNodes } : {}),
    addrs: index !== undefined ? s.addrs.filter((a) => a.index === index) : [],
    ...(d.link ? { link: d.link } : {}),
    ...(d.pci ? { pci: d.pci } : {}),
    ...(d.pci && s.pciNumaNodes?.has(d.pci.address) ? { numaNodes: s.pciNumaNodes.get(d.pci.address)! } : {}),
    ...(d.rdmaName !== undefined ? { rdmaName: d.rdmaName } : {}),
    ...(ib ? { ib } : {}),
    ...(rdmaPort ? { rdmaPort } : {}),
    ...(index !== undefined && s.ethtool.has(index) ? { ethtool: s.ethtool.get(index)! } : {}),
    ...(index !== undefined && s.ebpf.has(index) ? { ebpf: s.ebpf.get(index)! } : {}),
  };
}

function finish(
  drafts: readonly Draft[], s: InventorySnapshot, o: InventoryOptions, exclusions: Exclusion[], extra?: ExtraAttributes, suggest?: SuggestConfig,
): Device[] {
  const byName = new Map<string, Device>();
  const refuse = (d: Draft, code: 'invalid' | 'admin-cel', reason: string): void => { exclusions.push(...objectExclusions(d.objects, code, reason)); };
  for (const d of [...drafts].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const f = d.facts;
    const fresh = deviceAttributes(f, o.naming, o.listAttributes === true);
    // Held and away: the last published attributes, refreshed by whatever is still readable here.
    const merged = d.held && !f.link ? { ...d.held.attributes, ...fresh.attributes } : fresh.attributes;
    const own = attributeProblems(merged).length === 0 ? merged : fresh.attributes;
    const { attributes, dropped } = extra ? withExtra(own, fresh, extra(identity(d))) : { attributes: own, dropped: fresh.dropped };
    const problems = attributeProblems(attributes);
    if (problems.length) { refuse(d, 'invalid', problems.join('; ')); continue; }
    if (byName.has(d.name)) { refuse(d, 'invalid', `device name ${d.name} already taken`); continue; }
    if (!d.held) {
      const verdict = o.filter?.evaluate(attributes) ?? true;
      if (verdict !== true) { refuse(d, 'admin-cel', verdict === false ? `filter ${o.filter!.expression} is false` : `filter error: ${verdict}`); continue; }
    }
    const ib = f.ib;
    const chars = ib ? [...ib.charDevices.map((c) => c.path), ...(s.rdmaCm ? [RDMA_CM] : [])] : (d.held?.charDevices ?? []);
    const ifName = f.link?.name ?? d.held?.ifName;
    const pciAddress = f.pci?.address ?? d.held?.pciAddress;
    const rdmaDevice = f.rdmaName ?? d.held?.rdmaDevice;
    // Only for a netdev on the host: the cloud joins by MAC, and a device away in a pod is not prepared again.
    const suggested = suggest && f.link ? suggest(identity(d)) : undefined;
    byName.set(d.name, {
      name: d.name,
      kind: f.kind,
      ...(ifName !== undefined ? { ifName } : {}),
      ...(f.link ? { ifIndex: f.link.index } : d.held?.ifIndex !== undefined ? { ifIndex: d.held.ifIndex } : {}),
      ...(pciAddress !== undefined ? { pciAddress } : {}),
      ...(rdmaDevice !== undefined ? { rdmaDevice } : {}),
      charDevices: chars,
      netdevPresent: f.link !== undefined,
      attributes,
      dropped,
      objects: d.objects,
      ...(d.held ? { held: true } : {}),
      ...(suggested ? { suggestedConfig: suggested } : {}),
      // A held parent (its whole twin is in a pod) keeps its sharing, so its counter stays published.
      ...(f.link === undefined && d.held?.sharing !== undefined ? { sharing: d.held.sharing } : sharingField(f.link, f.kind, attributes, o.shareable, f.link !== undefined && immovableWhy(f.link, s.netnsLocal, s.links) === undefined)),
    });
  }
  return [...byName.values()];
}

// ── Extra attributes (cloud metadata: src/inventory/cloud) ──

function identity(d: Draft): DeviceIdentity {
  const { link, pci } = d.facts;
  const pciAddress = pci?.address ?? d.held?.pciAddress;
  const rdmaDevice = d.facts.rdmaName ?? d.held?.rdmaDevice;
  const ifName = link?.name ?? d.held?.ifName;
  return {
    name: d.name, kind: d.facts.kind,
    ...(ifName !== undefined ? { ifName } : {}),
    ...(link?.mac !== undefined ? { mac: link.mac } : {}),
    ...(link?.permMac !== undefined ? { permMac: link.permMac } : {}),
    ...(pciAddress !== undefined ? { pciAddress } : {}),
    ...(rdmaDevice !== undefined ? { rdmaDevice } : {}),
  };
}

/**
 * Adds extra attributes after a device's own, in the order given, while
 * fewer than 32: the rest are listed as dropped. An attribute the kernel
 * facts gave wins over an extra one of the same name; an invalid name or
 * value is skipped (one bad value must not fail the device).
 */
function withExtra(own: Attributes, fresh: { attributes: Attributes; dropped: readonly string[] }, extra: Attributes | undefined): { attributes: Attributes; dropped: string[] } {
  const out: Record<string, Attributes[string]> = { ...own };
  const dropped = [...fresh.dropped];
  for (const [name, value] of Object.entries(extra ?? {})) {
    if (name in fresh.attributes || !isQualifiedName(name) || name.length > 96 || Object.keys(value).length !== 1 || valueProblem(value) !== undefined) continue;
    if (name in out || Object.keys(out).length < MAX_ATTRIBUTES_PER_DEVICE) out[name] = value;
    else dropped.push(name);
  }
  return { attributes: out, dropped };
}

function objectExclusions(objects: readonly string[], code: 'invalid' | 'admin-cel', reason: string): Exclusion[] {
  return objects.map((o): Exclusion => {
    const [type, ...rest] = o.split(':');
    const v = rest.join(':');
    if (type === 'netdev') return { subject: 'netdev', ifName: v, code, reason };
    if (type === 'pci') return { subject: 'pci', pciAddress: v, code, reason };
    return { subject: 'rdma', rdmaDevice: v, code, reason };
  });
}

function byObject(a: Exclusion, b: Exclusion): number {
  const ka = `${a.subject}:${a.ifName ?? a.pciAddress ?? a.rdmaDevice ?? a.busDevice ?? ''}`;
  const kb = `${b.subject}:${b.ifName ?? b.pciAddress ?? b.rdmaDevice ?? b.busDevice ?? ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
