/**
 * Microsoft Azure: the Instance Metadata Service at
 * `http://169.254.169.254/metadata/instance?api-version=V`, every request
 * with the header `Metadata: true` and never through a proxy
 * (learn.microsoft.com/azure/virtual-machines/instance-metadata-service). One
 * GET returns `{compute, network}`:
 * - `compute.vmSize`, `compute.placementGroupId`, and — with api-version
 *   2025-11-11, which the peer's pkg/cloudprovider/azure/azure.go asks for —
 *   `compute.interconnectGroupId` and `compute.interconnectSubgroupId`;
 * - `network.interface[]`: `macAddress` (`000D3AF806EC`), `ipv4.ipAddress[].privateIpAddress`,
 *   `ipv4.subnet[].address` and `.prefix`.
 * A 400 to the newer api-version (a host that does not know it) falls back
 * to 2021-02-01, the documented sample version, once. The subnet's gateway is
 * its first address, which Azure reserves for it
 * (learn.microsoft.com/azure/virtual-network/virtual-networks-faq, "reserved addresses").
 */
import { imdsRequest, okBody, parseJson } from './http.ts';
import { ProtocolError } from '../../common/errors.ts';
import { firstHost, ipv4Network } from './ipv4.ts';
import { normalizeMac } from './mac.ts';
import { type CloudFacts, DEFAULT_ENDPOINT, DEFAULT_TIMEOUT_MS, type MetadataSource, type NicFacts, type SourceOptions } from './types.ts';

export const AZURE_API_VERSIONS = ['2025-11-11', '2021-02-01'] as const;

export function azureSource(o: SourceOptions = {}): MetadataSource {
  const endpoint = o.endpoint ?? DEFAULT_ENDPOINT;
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let version = 0; // the first api-version this host accepted
  return {
    cloud: 'azure',
    async fetch(signal) {
      for (;;) {
        const url = `${endpoint}/metadata/instance?api-version=${AZURE_API_VERSIONS[version]}`;
        const res = await imdsRequest(url, { headers: { Metadata: 'true' }, timeoutMs, signal });
        if (res.status === 400 && version < AZURE_API_VERSIONS.length - 1) { version++; continue; }
        return parseAzure(parseJson(url, okBody(url, res)), url);
      }
    },
  };
}

interface AzureDoc {
  readonly compute?: Record<string, unknown>;
  readonly network?: { readonly interface?: unknown };
}

export function parseAzure(doc: unknown, url = 'metadata/instance'): CloudFacts {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ProtocolError(`${url}: expected a JSON object`, { context: { url } });
  const { compute = {}, network = {} } = doc as AzureDoc;
  const text = (k: string): string | undefined => (typeof compute[k] === 'string' && compute[k] !== '' ? compute[k] : undefined);
  const node = Object.fromEntries(Object.entries({
    instanceType: text('vmSize'), placementGroup: text('placementGroupId'),
    interconnectGroup: text('interconnectGroupId'), interconnectSubgroup: text('interconnectSubgroupId'),
  }).filter(([, v]) => v !== undefined));
  const list = Array.isArray(network.interface) ? network.interface : [];
  return { cloud: 'azure', node, nics: list.flatMap((n: unknown, index) => nic(n, index)) };
}

interface AzureNic {
  readonly macAddress?: unknown;
  readonly ipv4?: { readonly ipAddress?: unknown; readonly subnet?: unknown };
}

function nic(raw: unknown, index: number): NicFacts[] {
  if (typeof raw !== 'object' || raw === null) return [];
  const n = raw as AzureNic;
  const mac = normalizeMac(typeof n.macAddress === 'string' ? n.macAddress : undefined);
  if (!mac) return [];
  const subnets = Array.isArray(n.ipv4?.subnet) ? (n.ipv4.subnet as Array<{ address?: unknown; prefix?: unknown }>) : [];
  const first = subnets[0];
  const net = first && typeof first.address === 'string' && (typeof first.prefix === 'string' || typeof first.prefix === 'number')
    ? ipv4Network(`${first.address}/${first.prefix}`) : undefined;
  const addrs = (Array.isArray(n.ipv4?.ipAddress) ? (n.ipv4.ipAddress as Array<{ privateIpAddress?: unknown }>) : [])
    .map((a) => a.privateIpAddress).filter((a): a is string => typeof a === 'string' && a !== '');
  const subnet = net ? `${net.address}/${net.prefix}` : undefined;
  const gateway = subnet ? firstHost(subnet) : undefined;
  return [{
    mac, index,
    ...(subnet ? { subnet } : {}),
    ...(net && addrs.length ? { ipv4: addrs.map((a) => `${a}/${net.prefix}`) } : {}),
    ...(gateway ? { gateway } : {}),
  }];
}
