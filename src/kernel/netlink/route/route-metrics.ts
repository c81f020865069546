/**
 * RTA_METRICS: a nest of RTAX_* attributes, u32 each except RTAX_CC_ALGO (a
 * string). The kernel sends and iproute2 writes the nest without
 * NLA_F_NESTED; so does this codec.
 */
import { attrTable, readString, readU32, walkAttrs, type AttrTable } from '../attrs.ts';
import type { NlWriter } from '../writer.ts';
import { RTA, RTAX, U32_MAX } from './route-constants.ts';
import { checkInt, fieldError } from './route-names.ts';
import type { RouteMetrics } from './route-types.ts';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type NumericMetric = Exclude<keyof RouteMetrics, 'ccAlgo'>;

/** The u32 metrics by field name, in RTAX order. */
const U32_METRICS: readonly (readonly [NumericMetric, number])[] = [
  ['lock', RTAX.RTAX_LOCK], ['mtu', RTAX.RTAX_MTU], ['window', RTAX.RTAX_WINDOW], ['rtt', RTAX.RTAX_RTT],
  ['rttvar', RTAX.RTAX_RTTVAR], ['ssthresh', RTAX.RTAX_SSTHRESH], ['cwnd', RTAX.RTAX_CWND],
  ['advmss', RTAX.RTAX_ADVMSS], ['reordering', RTAX.RTAX_REORDERING], ['hoplimit', RTAX.RTAX_HOPLIMIT],
  ['initcwnd', RTAX.RTAX_INITCWND], ['features', RTAX.RTAX_FEATURES], ['rtoMin', RTAX.RTAX_RTO_MIN],
  ['initrwnd', RTAX.RTAX_INITRWND], ['quickack', RTAX.RTAX_QUICKACK],
  ['fastopenNoCookie', RTAX.RTAX_FASTOPEN_NO_COOKIE],
];
const KNOWN: ReadonlySet<string> = new Set([...U32_METRICS.map(([k]) => k), 'ccAlgo']);
/** TCP_CA_NAME_MAX, including the NUL. */
const TCP_CA_NAME_MAX = 16;

/** Checks every field of `m` (unknown keys included) and returns it. */
export function checkMetrics(what: string, m: RouteMetrics): RouteMetrics {
  for (const key of Object.keys(m)) {
    if (!KNOWN.has(key)) throw fieldError(what, `metrics.${key}`, `unknown metric (known: ${[...KNOWN].join(', ')})`);
  }
  for (const [key] of U32_METRICS) {
    const v = m[key];
    if (v !== undefined) checkInt(what, `metrics.${key}`, v, 0, U32_MAX);
  }
  if (m.ccAlgo !== undefined && (typeof m.ccAlgo !== 'string' || m.ccAlgo === '' || Buffer.byteLength(m.ccAlgo) >= TCP_CA_NAME_MAX)) {
    throw fieldError(what, 'metrics.ccAlgo', `"${m.ccAlgo}" must be 1..${TCP_CA_NAME_MAX - 1} bytes`);
  }
  return m;
}

/** Writes RTA_METRICS with the metrics set in `m`; nothing when none are. */
export function encodeMetrics(w: NlWriter, m: RouteMetrics): void {
  const present = U32_METRICS.filter(([k]) => m[k] !== undefined);
  if (present.length === 0 && m.ccAlgo === undefined) return;
  const nest = w.nestStart(RTA.RTA_METRICS, false);
  for (const [key, type] of present) w.attrU32(type, m[key]!);
  if (m.ccAlgo !== undefined) w.attrString(RTAX.RTAX_CC_ALGO, m.ccAlgo);
  w.nestEnd(nest);
}

const METRIC_ATTRS: AttrTable<Mutable<RouteMetrics>> = attrTable<Mutable<RouteMetrics>>({
  ...Object.fromEntries(U32_METRICS.map(([key, type]) => [type, (b: Buffer, o: number, l: number, out: Mutable<RouteMetrics>) => {
    out[key] = readU32(b, o, l);
  }])),
  [RTAX.RTAX_CC_ALGO]: (b, o, l, out) => { out.ccAlgo = readString(b, o, l); },
});

/** Decodes the payload of RTA_METRICS at `buf[off, off+len)`. */
export function decodeMetrics(buf: Buffer, off: number, len: number): RouteMetrics {
  const out: Mutable<RouteMetrics> = {};
  walkAttrs(buf, off, off + len, METRIC_ATTRS, out);
  return out;
}
