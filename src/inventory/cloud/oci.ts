/**
 * Oracle Cloud Infrastructure: the instance metadata service v2 at
 * `http://169.254.169.254/opc/v2/`, every request with the header
 * `Authorization: Bearer Oracle` (a 401 without it;
 * docs.oracle.com/iaas/Content/Compute/Tasks/gettingmetadata.htm). Reads:
 * - `instance/`: `shape`;
 * - `vnics/`: one object per VNIC, primary first, with `macAddr`, `privateIp`,
 *   `subnetCidrBlock`, `virtualRouterIp` (its subnet's gateway);
 * - `host/`: `rackId` and `rdmaTopologyData` (`customerHPCIslandId`,
 *   `customerNetworkBlock`, `customerLocalBlock`, `customerHostId`,
 *   `customerGpuMemoryFabric`) on RDMA shapes whose tenancy has topology data
 *   enabled — the fields and their use as the peer's pkg/cloudprovider/oke/oke.go
 *   reads them; a 404 (or no `rdmaTopologyData`) is no topology.
 * OCIDs run past the 64-byte limit of an attribute value; like the peer,
 * netclaim keeps the unique part after the last `.` (at most its last 60 characters).
 */
import { imdsGet, imdsGetOptional, parseJson } from './http.ts';
import { ProtocolError } from '../../common/errors.ts';
import { ipv4Network } from './ipv4.ts';
import { normalizeMac } from './mac.ts';
import { type CloudFacts, DEFAULT_ENDPOINT, DEFAULT_TIMEOUT_MS, type MetadataSource, type NicFacts, type NodeFacts, type SourceOptions } from './types.ts';

const HEADERS = { Authorization: 'Bearer Oracle' } as const;

export function ociSource(o: SourceOptions = {}): MetadataSource {
  const base = `${o.endpoint ?? DEFAULT_ENDPOINT}/opc/v2/`;
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return {
    cloud: 'oci',
    async fetch(signal) {
      const r = { headers: HEADERS, timeoutMs, signal };
      const urls = { instance: `${base}instance/`, vnics: `${base}vnics/`, host: `${base}host/` };
      const [instance, vnics, host] = await Promise.all([imdsGet(urls.instance, r), imdsGet(urls.vnics, r), imdsGetOptional(urls.host, r)]);
      return parseOci(parseJson(urls.instance, instance), parseJson(urls.vnics, vnics), host === undefined ? undefined : parseJson(urls.host, host));
    },
  };
}

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const text = (o: Obj | undefined, k: string): string | undefined => (o && typeof o[k] === 'string' && o[k] !== '' ? o[k] : undefined);

export function parseOci(instance: unknown, vnics: unknown, host: unknown): CloudFacts {
  if (!isObj(instance)) throw new ProtocolError('opc/v2/instance/: expected a JSON object');
  if (!Array.isArray(vnics)) throw new ProtocolError('opc/v2/vnics/: expected a JSON array');
  const topo = isObj(host) && isObj(host['rdmaTopologyData']) ? host['rdmaTopologyData'] : undefined;
  const entries: Array<[keyof NodeFacts, string | undefined]> = [
    ['instanceType', text(instance, 'shape')],
    ['island', ocidSuffix(text(topo, 'customerHPCIslandId'))],
    ['block', ocidSuffix(text(topo, 'customerNetworkBlock'))],
    ['subBlock', ocidSuffix(text(topo, 'customerLocalBlock'))],
    ['rack', isObj(host) ? text(host, 'rackId') : undefined],
    ['host', ocidSuffix(text(topo, 'customerHostId'))],
    ['memoryFabric', ocidSuffix(text(topo, 'customerGpuMemoryFabric'))],
  ];
  const node = Object.fromEntries(entries.filter(([, v]) => v !== undefined)) as NodeFacts;
  return { cloud: 'oci', node, nics: vnics.flatMap((v: unknown, index) => nic(v, index)) };
}

/** The unique part of an OCID (after the last `.`, at most its last 60 characters); other values as they are. */
export function ocidSuffix(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  if (!s.includes('ocid') || !s.includes('.')) return s;
  const tail = s.slice(s.lastIndexOf('.') + 1);
  return tail === '' ? undefined : tail.slice(-60);
}

function nic(raw: unknown, index: number): NicFacts[] {
  if (!isObj(raw)) return [];
  const mac = normalizeMac(text(raw, 'macAddr'));
  if (!mac) return [];
  const cidr = text(raw, 'subnetCidrBlock');
  const net = cidr !== undefined ? ipv4Network(cidr) : undefined;
  const ip = text(raw, 'privateIp');
  const gateway = text(raw, 'virtualRouterIp');
  return [{
    mac, index,
    ...(net ? { subnet: `${net.address}/${net.prefix}` } : {}),
    ...(net && ip !== undefined ? { ipv4: [`${ip}/${net.prefix}`] } : {}),
    ...(gateway !== undefined ? { gateway } : {}),
  }];
}
