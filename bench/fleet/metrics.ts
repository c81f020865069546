/**
 * The API server's and etcd's own view of a scenario: Prometheus text from
 * kube-apiserver `/metrics` and etcd `/metrics`, read before and after, and
 * the difference: requests by verb (apiserver_request_total), request
 * latency quantiles from apiserver_request_duration_seconds (interpolated
 * inside buckets the way PromQL's histogram_quantile does), requests the
 * server's flow control rejected, and etcd's database size and key count.
 */
import { request } from 'node:https';

/** One sample: metric name, labels, value. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the Prometheus text format (enough of it: no timestamps, no exemplars). */
export function parseProm(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

export const sum = (ss: readonly Sample[], name: string, where: (l: Readonly<Record<string, string>>) => boolean = () => true): number =>
  ss.filter((s) => s.name === name && where(s.labels)).reduce((a, s) => a + s.value, 0);

/** Cumulative bucket counts by upper bound, summed over the samples that match. */
export function buckets(ss: readonly Sample[], name: string, where: (l: Readonly<Record<string, string>>) => boolean): Map<number, number> {
  const b = new Map<number, number>();
  for (const s of ss) {
    if (s.name !== `${name}_bucket` || !where(s.labels)) continue;
    const le = s.labels['le'] === '+Inf' ? Infinity : Number(s.labels['le']);
    b.set(le, (b.get(le) ?? 0) + s.value);
  }
  return b;
}

/** after − before, per bucket. */
export function bucketDelta(after: Map<number, number>, before: Map<number, number>): Map<number, number> {
  return new Map([...after].map(([le, n]) => [le, n - (before.get(le) ?? 0)]));
}

/** histogram_quantile: the q-quantile in seconds, linear inside its bucket; undefined without observations. */
export function quantile(q: number, b: Map<number, number>): number | undefined {
  const les = [...b.keys()].sort((x, y) => x - y);
  const total = b.get(Infinity) ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevN = 0;
  for (const le of les) {
    const n = b.get(le)!;
    if (n >= rank) {
      if (le === Infinity) return prevLe; // as PromQL: the highest finite bound
      return prevLe + ((le - prevLe) * (rank - prevN)) / Math.max(1e-12, n - prevN);
    }
    prevLe = le;
    prevN = n;
  }
  return prevLe;
}

export function fetchText(url: string, o: { ca?: string; token?: string } = {}): Promise<string> {
  if (url.startsWith('http://')) return fetch(url, { signal: AbortSignal.timeout(30_000) }).then((r) => r.text());
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: o.ca, headers: o.token ? { authorization: `Bearer ${o.token}` } : {}, timeout: 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: ${res.statusCode} ${body.slice(0, 200)}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

export interface ServerView {
  readonly api: Sample[];
  readonly etcd: Sample[];
}

export interface ServerDelta {
  /** ResourceSlice requests the API server counted, by verb (LIST, WATCH, GET, POST, PUT, DELETE…). */
  readonly sliceRequests: Record<string, number>;
  /** Of those, writes (POST, PUT, PATCH, DELETE, DELETECOLLECTION). */
  readonly sliceWrites: number;
  /** All mutating requests to any resource (what etcd has to absorb). */
  readonly allWrites: number;
  /** Responses 429 (flow control) and 409 (conflicts) on slices. */
  readonly slice429: number;
  readonly slice409: number;
  readonly flowControlRejected: number;
  /** apiserver_request_duration_seconds for slice writes, ms (bucket-interpolated). */
  readonly sliceWriteMs: { readonly p50?: number; readonly p99?: number };
  /** The same for every request except WATCH and CONNECT (the SLO's definition of non-long-running). */
  readonly allRequestMs: { readonly p50?: number; readonly p99?: number };
}

export interface EtcdView {
  readonly dbBytes: number;
  readonly dbInUseBytes: number;
  readonly keys: number;
  readonly resourceSlices: number;
}

const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'DELETECOLLECTION', 'APPLY']);
const isSlice = (l: Readonly<Record<string, string>>): boolean => l['resource'] === 'resourceslices';
const ms = (s: number | undefined): number | undefined => (s === undefined ? undefined : Math.round(s * 10_000) / 10);

export function serverDelta(before: ServerView, after: ServerView): ServerDelta {
  const verbs = new Set(after.api.filter((s) => s.name === 'apiserver_request_total' && isSlice(s.labels)).map((s) => s.labels['verb']!));
  const sliceRequests: Record<string, number> = {};
  for (const v of [...verbs].sort()) {
    const w = (l: Readonly<Record<string, string>>): boolean => isSlice(l) && l['verb'] === v;
    sliceRequests[v] = sum(after.api, 'apiserver_request_total', w) - sum(before.api, 'apiserver_request_total', w);
  }
  const write = (l: Readonly<Record<string, string>>): boolean => WRITE_VERBS.has(l['verb'] ?? '');
  const d = (name: string, w: (l: Readonly<Record<string, string>>) => boolean): number => sum(after.api, name, w) - sum(before.api, name, w);
  const lat = (w: (l: Readonly<Record<string, string>>) => boolean): { p50?: number; p99?: number } => {
    const b = bucketDelta(buckets(after.api, 'apiserver_request_duration_seconds', w), buckets(before.api, 'apiserver_request_duration_seconds', w));
    const p50 = ms(quantile(0.5, b));
    const p99 = ms(quantile(0.99, b));
    return { ...(p50 !== undefined && { p50 }), ...(p99 !== undefined && { p99 }) };
  };
  return {
    sliceRequests,
    sliceWrites: d('apiserver_request_total', (l) => isSlice(l) && write(l)),
    allWrites: d('apiserver_request_total', write),
    slice429: d('apiserver_request_total', (l) => isSlice(l) && l['code'] === '429'),
    slice409: d('apiserver_request_total', (l) => isSlice(l) && l['code'] === '409'),
    flowControlRejected: d('apiserver_flowcontrol_rejected_requests_total', () => true),
    sliceWriteMs: lat((l) => isSlice(l) && write(l)),
    allRequestMs: lat((l) => l['verb'] !== 'WATCH' && l['verb'] !== 'CONNECT'),
  };
}

export function etcdView(v: ServerView): EtcdView {
  return {
    dbBytes: sum(v.etcd, 'etcd_mvcc_db_total_size_in_bytes'),
    dbInUseBytes: sum(v.etcd, 'etcd_mvcc_db_total_size_in_use_in_bytes'),
    keys: sum(v.etcd, 'etcd_debugging_mvcc_keys_total'),
    // apiserver_resource_objects replaces the deprecated apiserver_storage_objects; both are refreshed periodically.
    resourceSlices: Math.max(
      sum(v.api, 'apiserver_resource_objects', (l) => l['resource'] === 'resourceslices'),
      sum(v.api, 'apiserver_storage_objects', (l) => l['resource'] === 'resourceslices.resource.k8s.io')),
  };
}

export async function readServer(cp: { server: string; caPem: string; token: string; etcdUrl: string }): Promise<ServerView> {
  const [api, etcd] = await Promise.all([fetchText(`${cp.server}/metrics`, { ca: cp.caPem, token: cp.token }), fetchText(`${cp.etcdUrl}/metrics`)]);
  return { api: parseProm(api), etcd: parseProm(etcd) };
}
