/**
 * From a snapshot to the inventory: a pure function, so every decision
 * (which device, which name, which attributes, what is left out and why) is
 * tested without a kernel. Steps: exclusions → devices from links → devices
 * for PCI functions whose netdev is elsewhere → RDMA-only devices →
 * attributes → admin filter → names checked unique.
 */
import type { DeviceName } from '../common/ids.ts';
import type { Link } from '../kernel/netlink/route/link-types.ts';
import type { IbDevice, PciFunction } from '../kernel/sysfs/sysfs-types.ts';
import { deviceAttributes, type DeviceFacts } from './attributes/build.ts';
import { attributeProblems } from './attributes/limits.ts';
import { netdevDeviceName, pciDeviceName, rdmaDeviceName } from './device-name.ts';
import { linkExclusions, pciExclusion } from './exclusions.ts';
import type { Device, Exclusion, Inventory, InventorySnapshot } from './model.ts';
import type { InventoryOptions } from './options.ts';

const RDMA_CM = '/dev/infiniband/rdma_cm';

interface Draft {
  readonly name: DeviceName;
  readonly facts: DeviceFacts;
}

export function buildInventory(s: InventorySnapshot, o: InventoryOptions): Inventory {
  const exclusions: Exclusion[] = [];
  const excludedLinks = linkExclusions(s.links, s.defaultRoutes, o);
  const pciBad = new Map<string, Exclusion>();
  for (const f of s.pci.values()) {
    const ex = pciExclusion(f);
    if (ex && isNetworkOrRdma(f, s.ib)) pciBad.set(f.address, ex);
  }
  exclusions.push(...pciBad.values());

  const drafts: Draft[] = [];
  const usedRdma = new Set<string>();
  const pciWithLinks = new Set<string>();
  const linksByPci = groupLinksByPci(s);

  for (const link of s.links) {
    const ex = excludedLinks.get(link.index);
    const addr = s.linkPci.get(link.index);
    if (ex) { exclusions.push({ ...ex, ...(addr ? { pciAddress: addr } : {}) }); continue; }
    const pci = addr !== undefined ? s.pci.get(addr) : undefined;
    if (addr !== undefined && pciBad.has(addr)) continue;
    const rdmaName = rdmaOfLink(s, link, pci, linksByPci.get(addr ?? '')?.length ?? 0);
    if (rdmaName) usedRdma.add(rdmaName);
    if (pci) pciWithLinks.add(pci.address);
    const siblings = addr !== undefined ? linksByPci.get(addr) ?? [] : [];
    drafts.push({
      name: pci ? pciDeviceName(pci.address, siblings.length > 1 ? link.physPortName ?? link.name : undefined) : netdevDeviceName(link.name),
      facts: facts(s, pci ? (pci.physfn ? 'vf' : 'pci') : 'virtual', { link, pci, rdmaName }),
    });
  }

  // PCI NICs whose netdev is not in this namespace (in a pod, or not created): still devices.
  for (const f of s.pci.values()) {
    if (pciWithLinks.has(f.address) || pciBad.has(f.address) || !f.classCode.startsWith('02')) continue;
    const rdmaName = f.rdmaDevices.find((r) => !usedRdma.has(r));
    if (rdmaName) usedRdma.add(rdmaName);
    drafts.push({ name: pciDeviceName(f.address), facts: facts(s, f.physfn ? 'vf' : 'pci', { pci: f, rdmaName }) });
  }

  // RDMA devices with no netdev published here: InfiniBand-only HCAs, or software devices.
  for (const ib of s.ib) {
    if (usedRdma.has(ib.name)) continue;
    const viaLink = excludedRdmaNetdev(s, ib, excludedLinks);
    if (viaLink) { exclusions.push({ rdmaDevice: ib.name, code: viaLink.code, reason: `its netdev ${viaLink.ifName}: ${viaLink.reason}` }); continue; }
    const pci = ib.pciAddress !== undefined ? s.pci.get(ib.pciAddress) : undefined;
    if (pci && pciBad.has(pci.address)) continue;
    drafts.push({ name: pci ? pciDeviceName(pci.address) : rdmaDeviceName(ib.name), facts: facts(s, 'rdma', { pci, rdmaName: ib.name }) });
  }

  const devices = finish(drafts, s, o, exclusions);
  return { devices, exclusions, ...(s.rdmaNetnsMode ? { rdmaNetnsMode: s.rdmaNetnsMode } : {}) };
}

function isNetworkOrRdma(f: PciFunction, ib: readonly IbDevice[]): boolean {
  return f.classCode.startsWith('02') || ib.some((d) => d.pciAddress === f.address);
}

function groupLinksByPci(s: InventorySnapshot): Map<string, Link[]> {
  const out = new Map<string, Link[]>();
  for (const l of s.links) {
    const a = s.linkPci.get(l.index);
    if (a !== undefined) (out.get(a) ?? out.set(a, []).get(a)!).push(l);
  }
  return out;
}

/** The RDMA device of a link: RDMA netlink's netdev association first, then sysfs (one netdev per function). */
function rdmaOfLink(s: InventorySnapshot, link: Link, pci: PciFunction | undefined, linksOnPci: number): string | undefined {
  const port = s.rdmaPorts.find((p) => p.netdevIndex === link.index && (p.netdevName === undefined || p.netdevName === link.name));
  if (port) return port.devName;
  if (pci && linksOnPci <= 1 && pci.rdmaDevices.length > 0) return pci.rdmaDevices[0];
  return undefined;
}

function excludedRdmaNetdev(s: InventorySnapshot, ib: IbDevice, excluded: ReadonlyMap<number, Exclusion>): Exclusion | undefined {
  for (const p of s.rdmaPorts) {
    if (p.devName === ib.name && p.netdevIndex !== undefined && excluded.has(p.netdevIndex)) return excluded.get(p.netdevIndex);
  }
  return undefined;
}

function facts(s: InventorySnapshot, kind: Device['kind'], d: { link?: Link; pci?: PciFunction | undefined; rdmaName?: string | undefined }): DeviceFacts {
  const ib = d.rdmaName !== undefined ? s.ib.find((x) => x.name === d.rdmaName) : undefined;
  const rdmaPort = d.rdmaName !== undefined ? s.rdmaPorts.find((p) => p.devName === d.rdmaName && (!d.link || p.netdevIndex === d.link.index)) ?? s.rdmaPorts.find((p) => p.devName === d.rdmaName) : undefined;
  const index = d.link?.index;
  return {
    kind,
    addrs: index !== undefined ? s.addrs.filter((a) => a.index === index) : [],
    ...(d.link ? { link: d.link } : {}),
    ...(d.pci ? { pci: d.pci } : {}),
    ...(d.rdmaName !== undefined ? { rdmaName: d.rdmaName } : {}),
    ...(ib ? { ib } : {}),
    ...(rdmaPort ? { rdmaPort } : {}),
    ...(index !== undefined && s.ethtool.has(index) ? { ethtool: s.ethtool.get(index)! } : {}),
    ...(index !== undefined && s.ebpf.has(index) ? { ebpf: s.ebpf.get(index)! } : {}),
  };
}

function finish(drafts: readonly Draft[], s: InventorySnapshot, o: InventoryOptions, exclusions: Exclusion[]): Device[] {
  const byName = new Map<string, Device>();
  for (const { name, facts: f } of drafts) {
    const { attributes, dropped } = deviceAttributes(f, o.naming);
    const where = { ...(f.link ? { ifName: f.link.name } : {}), ...(f.pci ? { pciAddress: f.pci.address } : {}), ...(f.rdmaName ? { rdmaDevice: f.rdmaName } : {}) };
    const problems = attributeProblems(attributes);
    if (problems.length) { exclusions.push({ ...where, code: 'invalid', reason: problems.join('; ') }); continue; }
    if (byName.has(name)) { exclusions.push({ ...where, code: 'invalid', reason: `device name ${name} already taken` }); continue; }
    const verdict = o.filter?.evaluate(attributes) ?? true;
    if (verdict !== true) {
      exclusions.push({ ...where, code: 'admin-cel', reason: verdict === false ? `filter ${o.filter!.expression} is false` : `filter error: ${verdict}` });
      continue;
    }
    const ib = f.ib;
    const chars = ib ? [...ib.charDevices.map((c) => c.path), ...(s.rdmaCm ? [RDMA_CM] : [])] : [];
    byName.set(name, {
      name,
      kind: f.kind,
      ...(f.link ? { ifName: f.link.name, ifIndex: f.link.index } : {}),
      ...(f.pci ? { pciAddress: f.pci.address } : {}),
      ...(f.rdmaName ? { rdmaDevice: f.rdmaName } : {}),
      charDevices: chars,
      netdevPresent: f.link !== undefined,
      attributes,
      dropped,
    });
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
