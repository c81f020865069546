/**
 * Google Compute Engine: the metadata server at
 * `http://169.254.169.254/computeMetadata/v1/` (the address
 * `metadata.google.internal` resolves to), every request with the header
 * `Metadata-Flavor: Google`, every answer carrying it back
 * (cloud.google.com/compute/docs/metadata/querying-metadata). Reads:
 * - `instance/machine-type`: `projects/NUMBER/machineTypes/NAME`;
 * - `instance/network-interfaces/?recursive=true&alt=json`: one object per
 *   vNIC, in NIC order, with `mac`, `network` (`projects/NUMBER/networks/NAME`),
 *   `ip`, `subnetmask`, `gateway`, `mtu`, `ipAliases`
 *   (cloud.google.com/compute/docs/metadata/predefined-metadata-keys; the
 *   JSON form as the peer's pkg/cloudprovider/gce/gce.go records it);
 * - `instance/attributes/physical_host`: `/BLOCK/SUBBLOCK/HOST`, only on VMs
 *   with a known physical topology (A4, A3 Ultra/Mega/High, H4D, compact
 *   placement: cloud.google.com/compute/docs/instances/view-instance-topology);
 *   a 404 means no topology.
 */
import { imdsGet, imdsGetOptional, imdsRequest, okBody, parseJson } from './http.ts';
import { ProtocolError } from '../../common/errors.ts';
import { netmaskToPrefix, networkOf } from './ipv4.ts';
import { normalizeMac } from './mac.ts';
import { type CloudFacts, DEFAULT_ENDPOINT, DEFAULT_TIMEOUT_MS, type MetadataSource, type NicFacts, type NodeFacts, type SourceOptions } from './types.ts';

const HEADERS = { 'Metadata-Flavor': 'Google' } as const;

export function gceSource(o: SourceOptions = {}): MetadataSource {
  const base = `${o.endpoint ?? DEFAULT_ENDPOINT}/computeMetadata/v1/`;
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return {
    cloud: 'gce',
    async fetch(signal) {
      const r = { headers: HEADERS, timeoutMs, signal };
      const typeUrl = `${base}instance/machine-type`;
      // The first answer must come from Google's server (the header it always sends back).
      const typeRes = await imdsRequest(typeUrl, r);
      if (typeRes.headers['metadata-flavor'] !== 'Google') {
        throw new ProtocolError(`${typeUrl}: not a GCE metadata server (no Metadata-Flavor: Google in the answer)`, { context: { url: typeUrl, status: typeRes.status } }, 'PROTOCOL_UNEXPECTED');
      }
      const nicsUrl = `${base}instance/network-interfaces/?recursive=true&alt=json`;
      const [nics, physicalHost] = await Promise.all([
        imdsGet(nicsUrl, r),
        imdsGetOptional(`${base}instance/attributes/physical_host`, r),
      ]);
      return parseGce(okBody(typeUrl, typeRes), parseJson(nicsUrl, nics), physicalHost, nicsUrl);
    },
  };
}

/** The facts from the three answers (exported for tests of odd values). */
export function parseGce(machineType: string, nics: unknown, physicalHost: string | undefined, url = 'network-interfaces'): CloudFacts {
  if (!Array.isArray(nics)) throw new ProtocolError(`${url}: expected a JSON array of network interfaces`, { context: { url } });
  const instanceType = machineType.trim().split('/').pop();
  const node: NodeFacts = { ...(instanceType ? { instanceType } : {}), ...topology(physicalHost) };
  return { cloud: 'gce', node, nics: nics.flatMap((n: unknown, index) => nic(n, index)) };
}

/** `/block/subblock/host`: exactly three non-empty parts, as the peer requires; anything else is no topology. */
function topology(physicalHost: string | undefined): Pick<NodeFacts, 'block' | 'subBlock' | 'host'> {
  const parts = (physicalHost ?? '').trim().replace(/^\//, '').split('/');
  if (parts.length !== 3 || parts.some((p) => p === '')) return {};
  return { block: parts[0]!, subBlock: parts[1]!, host: parts[2]! };
}

interface GceNic {
  readonly mac?: unknown; readonly network?: unknown; readonly ip?: unknown; readonly subnetmask?: unknown;
  readonly gateway?: unknown; readonly mtu?: unknown; readonly ipAliases?: unknown;
}

function nic(raw: unknown, index: number): NicFacts[] {
  if (typeof raw !== 'object' || raw === null) return [];
  const n = raw as GceNic;
  const mac = normalizeMac(typeof n.mac === 'string' ? n.mac : undefined);
  if (!mac) return [];
  const network = typeof n.network === 'string' ? /^projects\/(\d+)\/networks\/([^/]+)$/.exec(n.network) : null;
  const prefix = typeof n.subnetmask === 'string' ? netmaskToPrefix(n.subnetmask) : undefined;
  const ip = typeof n.ip === 'string' ? n.ip : undefined;
  const subnet = ip !== undefined && prefix !== undefined ? networkOf(ip, prefix) : undefined;
  const aliases = Array.isArray(n.ipAliases) ? n.ipAliases.filter((a): a is string => typeof a === 'string' && a !== '') : [];
  return [{
    mac, index,
    ...(network ? { networkName: network[2]!, networkProjectNumber: Number(network[1]) } : {}),
    ...(subnet ? { subnet, ipv4: [`${ip}/${prefix}`] } : {}),
    ...(typeof n.gateway === 'string' && n.gateway !== '' ? { gateway: n.gateway } : {}),
    ...(typeof n.mtu === 'number' && Number.isInteger(n.mtu) && n.mtu > 0 ? { mtu: n.mtu } : {}),
    ...(aliases.length ? { ipAliases: aliases } : {}),
  }];
}
