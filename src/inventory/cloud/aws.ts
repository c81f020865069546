/**
 * Amazon EC2: the instance metadata service at `http://169.254.169.254/latest/`
 * with IMDSv2 sessions (docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html):
 * `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds`
 * (1–21600) answers a token, sent back as `X-aws-ec2-metadata-token` on every
 * GET; an expired or wrong token is a 401, so the token is renewed once and
 * the request repeated once. A 403 to the PUT means the metadata service is
 * turned off; a 404 or 405 means no IMDSv2 on this endpoint, and IMDSv1
 * (no token) is used. Reads (docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-categories.html):
 * - `meta-data/instance-type`;
 * - `meta-data/placement/group-name`, `placement/partition-number` (404 outside a
 *   placement group / partition placement group);
 * - `meta-data/network/interfaces/macs/` (one `MAC/` per line), and per MAC
 *   `device-number`, `network-card`, `vpc-id`, `subnet-ipv4-cidr-block`, `local-ipv4s`
 *   (four NICs at a time).
 * The subnet's gateway is its base address + 1, the VPC router
 * (docs.aws.amazon.com/vpc/latest/userguide/subnet-sizing.html). EFA
 * functions have no netdev, so no MAC to join by: they get the node's facts only.
 */
import { ProtocolError } from '../../common/errors.ts';
import { imdsRequest, okBody } from './http.ts';
import { firstHost, ipv4Network } from './ipv4.ts';
import { normalizeMac } from './mac.ts';
import { type CloudFacts, DEFAULT_ENDPOINT, DEFAULT_TIMEOUT_MS, type MetadataSource, type NicFacts, type SourceOptions } from './types.ts';

export interface AwsOptions extends SourceOptions {
  /** Token lifetime asked for (s, 120–21600, default 21600, the maximum); it is renewed a minute before it ends. */
  readonly tokenTtlSeconds?: number;
  /** Clock for token expiry (ms). */
  readonly now?: () => number;
  /** NICs read at once, five requests each (default 4). */
  readonly concurrency?: number;
}

const TOKEN_HEADER = 'X-aws-ec2-metadata-token';
const TTL_HEADER = 'X-aws-ec2-metadata-token-ttl-seconds';

export function awsSource(o: AwsOptions = {}): MetadataSource {
  const base = `${o.endpoint ?? DEFAULT_ENDPOINT}/latest/`;
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const ttl = Math.min(21_600, Math.max(120, o.tokenTtlSeconds ?? 21_600));
  const now = o.now ?? Date.now;
  // null: IMDSv1 (no token); the token survives between refreshes until it nearly expires.
  let session: { token: string | null; until: number } | undefined;
  let renewing: Promise<string | null> | undefined;

  /** One PUT at a time, whoever asks (parallel GETs that all got a 401 share it). */
  function renew(signal: AbortSignal): Promise<string | null> {
    renewing ??= newSession(signal).finally(() => { renewing = undefined; });
    return renewing;
  }

  async function newSession(signal: AbortSignal): Promise<string | null> {
    const url = `${base}api/token`;
    const res = await imdsRequest(url, { method: 'PUT', headers: { [TTL_HEADER]: String(ttl) }, timeoutMs, signal });
    if (res.status === 403) throw new ProtocolError(`${url}: 403: the instance metadata service is turned off`, { context: { url, status: 403 } }, 'PROTOCOL_UNEXPECTED');
    const token = res.status === 404 || res.status === 405 ? null : okBody(url, res).trim();
    session = { token, until: now() + (ttl - 60) * 1000 };
    return token;
  }

  async function get(path: string, signal: AbortSignal, optional: boolean): Promise<string | undefined> {
    const url = `${base}${path}`;
    const used = session && session.until > now() ? session.token : await renew(signal);
    const send = (token: string | null): ReturnType<typeof imdsRequest> =>
      imdsRequest(url, { headers: token === null ? {} : { [TOKEN_HEADER]: token }, timeoutMs, signal });
    let res = await send(used);
    if (res.status === 401) {
      // Expired or revoked: a new token (unless another request already got one), and this request once more.
      res = await send(session && session.token !== used && session.until > now() ? session.token : await renew(signal));
    }
    if (optional && res.status === 404) return undefined;
    return okBody(url, res);
  }

  return {
    cloud: 'aws',
    async fetch(signal) {
      const req = (path: string): Promise<string> => get(path, signal, false) as Promise<string>;
      const opt = (path: string): Promise<string | undefined> => get(path, signal, true);
      if (!session || session.until <= now()) await renew(signal);
      const [instanceType, group, partition, macList] = await Promise.all([
        req('meta-data/instance-type'), opt('meta-data/placement/group-name'),
        opt('meta-data/placement/partition-number'), req('meta-data/network/interfaces/macs/'),
      ]);
      const macs = macList.split('\n').map((l) => l.trim().replace(/\/$/, '')).filter((l) => l !== '');
      const nics = await limited(macs, o.concurrency ?? 4, async (mac) => {
        const p = `meta-data/network/interfaces/macs/${mac}/`;
        const [device, card, vpc, subnet, ips] = await Promise.all([
          req(`${p}device-number`), opt(`${p}network-card`), opt(`${p}vpc-id`), opt(`${p}subnet-ipv4-cidr-block`), opt(`${p}local-ipv4s`),
        ]);
        return awsNic(mac, device, card, vpc, subnet, ips);
      });
      return parseAwsNode(instanceType, group, partition, nics.flat());
    },
  };
}

export function parseAwsNode(instanceType: string, group: string | undefined, partition: string | undefined, nics: readonly NicFacts[]): CloudFacts {
  const part = partition !== undefined && /^\d+$/.test(partition.trim()) ? Number(partition.trim()) : undefined;
  return {
    cloud: 'aws',
    node: {
      ...(instanceType.trim() ? { instanceType: instanceType.trim() } : {}),
      ...(group?.trim() ? { placementGroup: group.trim() } : {}),
      ...(part !== undefined ? { partition: part } : {}),
    },
    nics: [...nics].sort((a, b) => a.index - b.index || (a.mac < b.mac ? -1 : 1)),
  };
}

function awsNic(rawMac: string, device: string, card: string | undefined, vpc: string | undefined, subnet: string | undefined, ips: string | undefined): NicFacts[] {
  const mac = normalizeMac(rawMac);
  const index = /^\d+$/.test(device.trim()) ? Number(device.trim()) : undefined;
  if (!mac || index === undefined) return [];
  const net = subnet !== undefined ? ipv4Network(subnet) : undefined;
  const addrs = (ips ?? '').split('\n').map((a) => a.trim()).filter((a) => a !== '');
  const gateway = net ? firstHost(`${net.address}/${net.prefix}`) : undefined;
  return [{
    mac, index,
    ...(vpc?.trim() ? { networkName: vpc.trim() } : {}),
    ...(card !== undefined && /^\d+$/.test(card.trim()) ? { networkCard: Number(card.trim()) } : {}),
    ...(net ? { subnet: `${net.address}/${net.prefix}` } : {}),
    ...(net && addrs.length ? { ipv4: addrs.map((a) => `${a}/${net.prefix}`) } : {}),
    ...(gateway ? { gateway } : {}),
  }];
}

/** `fn` over `items` with at most `n` at once, results in item order. */
async function limited<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}
