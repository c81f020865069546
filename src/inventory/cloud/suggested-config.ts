/**
 * A NIC's network settings as its cloud knows them, for the driver to use as
 * the lowest layer of the device's config (docs/cloud.md, "Suggested
 * config"): the NIC's addresses with their subnet's prefix, its MTU where
 * the cloud says (GCE), and policy routing of the kind each cloud documents
 * for a secondary NIC — a table of its own (100 + the NIC's index, as the
 * peer's Azure provider numbers them) holding a default route through the
 * subnet's gateway, and a rule sending traffic from each of its addresses
 * there. Joined by MAC like the attributes (attributes.ts `nicOf`).
 */
import type { DeviceIdentity } from '../model.ts';
import { nicOf } from './attributes.ts';
import type { CloudFacts, SuggestedConfig } from './types.ts';

/** The table of a NIC's routes: 100 + its index (kubernetes-sigs/dranet pkg/cloudprovider/azure/azure.go `routingTableBase`). */
export const ROUTING_TABLE_BASE = 100;

export function suggestedConfig(facts: CloudFacts, device: DeviceIdentity): SuggestedConfig | undefined {
  const nic = nicOf(facts, device);
  if (!nic) return undefined;
  const addresses = nic.ipv4 ?? [];
  const iface = {
    ...(addresses.length ? { addresses } : {}),
    ...(nic.mtu !== undefined ? { mtu: nic.mtu } : {}),
  };
  const table = ROUTING_TABLE_BASE + nic.index;
  const routed = nic.gateway !== undefined && addresses.length > 0;
  const out: SuggestedConfig = {
    cloud: facts.cloud,
    ...(Object.keys(iface).length ? { interface: iface } : {}),
    ...(routed ? {
      routes: [{ destination: '0.0.0.0/0', gateway: nic.gateway!, table }],
      rules: addresses.map((a) => ({ source: `${a.split('/')[0]}/32`, table })),
    } : {}),
  };
  return out.interface || out.routes ? out : undefined;
}
