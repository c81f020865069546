/**
 * EC2 instance metadata answers, with the IMDSv2 session rules, for a
 * p5.48xlarge in a cluster placement group: the primary ENA (`ens5`), a
 * secondary ENA on network card 1 (`enp160s0`, the MACs of
 * test/fixtures/topologies/aws-ena-efa.ts) and an EFA-only interface on
 * network card 2 (no netdev, so nothing joins it).
 *
 * Sources:
 * - docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html
 *   and …/instance-metadata-v2-how-it-works.html: `PUT /latest/api/token` with
 *   `X-aws-ec2-metadata-token-ttl-seconds` (1–21600; 400 without it) answers the
 *   token as text; every GET carries `X-aws-ec2-metadata-token`; a missing (when
 *   IMDSv2 is required), expired or wrong token is `401 Unauthorized`; a PUT is
 *   `403` when the metadata service is turned off.
 * - docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-categories.html:
 *   `instance-type`, `placement/group-name`, `placement/partition-number`,
 *   `network/interfaces/macs/` (one `MAC/` per line), and per MAC `device-number`,
 *   `network-card`, `vpc-id`, `subnet-ipv4-cidr-block`, `local-ipv4s` (one per line);
 *   a key that does not apply is a 404.
 * - docs.aws.amazon.com/AWSEC2/latest/UserGuide/efa.html: EFA-only interfaces
 *   (interface type `efa-only`) are ENIs with a MAC and no IP address.
 */
import type { FakeHandler } from './fake-imds.ts';

export const AWS_MACS = { primary: '0a:3f:5c:12:8e:01', secondary: '0a:3f:5c:9d:41:b7', efaOnly: '0a:3f:5c:9d:41:c0' } as const;

export const AWS_META: Readonly<Record<string, string>> = {
  'instance-type': 'p5.48xlarge',
  'placement/group-name': 'train-cluster-pg',
  'network/interfaces/macs/': `${AWS_MACS.primary}/\n${AWS_MACS.secondary}/\n${AWS_MACS.efaOnly}/`,
  [`network/interfaces/macs/${AWS_MACS.primary}/device-number`]: '0',
  [`network/interfaces/macs/${AWS_MACS.primary}/network-card`]: '0',
  [`network/interfaces/macs/${AWS_MACS.primary}/vpc-id`]: 'vpc-0e1f2a3b4c5d6e7f8',
  [`network/interfaces/macs/${AWS_MACS.primary}/subnet-ipv4-cidr-block`]: '10.0.0.0/20',
  [`network/interfaces/macs/${AWS_MACS.primary}/local-ipv4s`]: '10.0.1.5',
  [`network/interfaces/macs/${AWS_MACS.secondary}/device-number`]: '1',
  [`network/interfaces/macs/${AWS_MACS.secondary}/network-card`]: '1',
  [`network/interfaces/macs/${AWS_MACS.secondary}/vpc-id`]: 'vpc-0e1f2a3b4c5d6e7f8',
  [`network/interfaces/macs/${AWS_MACS.secondary}/subnet-ipv4-cidr-block`]: '10.0.16.0/20',
  [`network/interfaces/macs/${AWS_MACS.secondary}/local-ipv4s`]: '10.0.17.9\n10.0.17.10',
  [`network/interfaces/macs/${AWS_MACS.efaOnly}/device-number`]: '0',
  [`network/interfaces/macs/${AWS_MACS.efaOnly}/network-card`]: '2',
  [`network/interfaces/macs/${AWS_MACS.efaOnly}/vpc-id`]: 'vpc-0e1f2a3b4c5d6e7f8',
  [`network/interfaces/macs/${AWS_MACS.efaOnly}/subnet-ipv4-cidr-block`]: '10.0.32.0/20',
};

export interface AwsImdsState {
  /** Tokens handed out and still valid. */
  readonly tokens: Set<string>;
  /** Answer GETs without a token (HttpTokens=optional). Default false: IMDSv2 required. */
  v1Allowed?: boolean;
  /** Status for the PUT instead of a token (403: IMDS off; 405: no IMDSv2 here). */
  putStatus?: number;
  /** Extra or replaced meta-data keys. */
  meta?: Readonly<Record<string, string | undefined>>;
  issued: number;
}

export function awsState(init: Partial<AwsImdsState> = {}): AwsImdsState {
  return { tokens: new Set(), issued: 0, ...init };
}

/** The IMDSv2 rules of the AWS pages above over AWS_META. */
export function awsHandler(state: AwsImdsState): FakeHandler {
  return (req) => {
    if (req.url === '/latest/api/token') {
      if (req.method !== 'PUT') return { status: 405 };
      if (state.putStatus !== undefined) return { status: state.putStatus };
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21_600) return { status: 400 };
      const token = `AQAEAFcVb2${String(++state.issued).padStart(4, '0')}Zx==`;
      state.tokens.add(token);
      return { body: token, headers: { 'x-aws-ec2-metadata-token-ttl-seconds': String(ttl) } };
    }
    const token = req.headers['x-aws-ec2-metadata-token'];
    const authorised = typeof token === 'string' ? state.tokens.has(token) : state.v1Allowed === true;
    if (!authorised) return { status: 401 };
    if (!req.url.startsWith('/latest/meta-data/')) return undefined;
    const key = req.url.slice('/latest/meta-data/'.length);
    const value = state.meta && key in state.meta ? state.meta[key] : AWS_META[key];
    return value === undefined ? undefined : { body: value };
  };
}
