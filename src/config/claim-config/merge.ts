/**
 * Merging the configs that apply to one device, earliest first (DeviceClass
 * configs, then claim configs, as the scheduler lists them), later winning
 * field by field:
 *
 *   - scalars replace;
 *   - lists replace as a whole (addresses, routes, rules, neighbors, charDevices);
 *   - maps and objects merge by key, recursively (ethtool.features,
 *     privateFlags, sysctls, interface, ethtool, rings...);
 *   - except `interface.vrf`, replaced whole: its table belongs to its name;
 *   - and `interface.addresses` / `interface.dhcp` are one choice: a layer
 *     that sets static addresses (non-empty) also means `dhcp: false`, and
 *     one that sets `dhcp: true` also means `addresses: []`, so a later
 *     choice replaces an earlier one; `dhcp: false` and `addresses: []`
 *     choose nothing and change only themselves.
 *
 * An absent field (or null in the input) leaves the earlier value; there is no
 * way to unset a field a class config set, other than overriding it. The
 * result must be checked again (resolve.ts): fields from different layers
 * can conflict (a class VRF with claim rules).
 */
import { NETWORK_CONFIG } from './fields.ts';
import type { AnyNode, ObjectNode } from './nodes.ts';
import { setOwn } from './parse.ts';
import type { NetworkConfig } from './types.ts';

export function mergeNetworkConfigs(layers: readonly NetworkConfig[]): NetworkConfig {
  let merged: unknown = {};
  for (const layer of layers) merged = mergeValue(NETWORK_CONFIG, merged, withChoicesExplicit(NETWORK_CONFIG, layer));
  return merged as NetworkConfig;
}

function mergeValue(node: AnyNode, earlier: unknown, later: unknown): unknown {
  if (later === undefined) return earlier;
  if (earlier === undefined) return later;
  if (node.kind === 'map') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of [...Object.entries(earlier as object), ...Object.entries(later as object)]) setOwn(out, k, v);
    return out;
  }
  if (node.kind === 'object' && !node.mergeWhole) return mergeObject(node, earlier as Record<string, unknown>, later as Record<string, unknown>);
  return later;
}

function mergeObject(node: ObjectNode, earlier: Record<string, unknown>, later: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, field] of Object.entries(node.fields)) {
    const v = mergeValue(field, earlier[k], later[k]);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/**
 * A layer that makes a choice in an exclusive group says "nothing" for the
 * other members: `{dhcp: true}` stands for `{dhcp: true, addresses: []}` and
 * `{addresses: [...]}` for `{addresses: [...], dhcp: false}`. Merging is then
 * plain later-wins per field, hence associative; the merged config shows the
 * choice explicitly.
 */
function withChoicesExplicit(node: ObjectNode, layer: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...layer };
  for (const [k, field] of Object.entries(node.fields)) {
    const v = out[k];
    if (field.kind === 'object' && typeof v === 'object' && v !== null) out[k] = withChoicesExplicit(field, v as Record<string, unknown>);
  }
  for (const group of node.exclusive ?? []) {
    if (!group.some((k) => isChoice(out[k]))) continue;
    for (const k of group) if (out[k] === undefined) out[k] = nothingChosen(node.fields[k]!);
  }
  return out;
}

/** Whether a value in an exclusive group is a choice: `false` and `[]` are not. */
const isChoice = (v: unknown): boolean => v !== undefined && v !== false && !(Array.isArray(v) && v.length === 0);
const nothingChosen = (n: AnyNode): unknown => (n.kind === 'list' ? [] : n.kind === 'boolean' ? false : undefined);
