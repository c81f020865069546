/**
 * One HTTP request to a metadata service: plain node:http, no keep-alive
 * (a one-shot `netclaim inventory` must not wait on an idle socket), no
 * proxy (Azure's IMDS must be reached directly), a hard timeout covering
 * connect and body, and a cap on the body. Failures are DriverErrors whose
 * context names the URL and the status, so the provider can log them.
 */
import { NotFoundError, ProtocolError } from '../../common/errors.ts';
import { nodeHttp } from '../../common/node-http.ts';

const { request } = nodeHttp;

/** Metadata documents are small; anything bigger is not one. */
const MAX_BODY = 1 << 20;

export interface ImdsResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: string;
}

export interface ImdsRequest {
  readonly method?: 'GET' | 'PUT';
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** Any answer with a status; rejects on timeout, abort, connection errors and oversize bodies. */
export function imdsRequest(url: string, r: ImdsRequest): Promise<ImdsResponse> {
  return new Promise((resolve, reject) => {
    const signals = [AbortSignal.timeout(r.timeoutMs), ...(r.signal ? [r.signal] : [])];
    const signal = AbortSignal.any(signals);
    const req = request(url, { method: r.method ?? 'GET', headers: { ...r.headers, connection: 'close' }, agent: false, signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) { req.destroy(new ProtocolError(`${url}: response larger than ${MAX_BODY} bytes`, { context: { url } })); return; }
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', (err) => {
      const timedOut = signals[0]!.aborted;
      reject(timedOut ? new ProtocolError(`${url}: no answer within ${r.timeoutMs} ms`, { cause: err, context: { url } }, 'PROTOCOL_UNEXPECTED') : err);
    });
    req.end();
  });
}

/** The body of a 200; a 404 is NotFoundError (the key does not exist here), any other status a ProtocolError. */
export async function imdsGet(url: string, r: ImdsRequest): Promise<string> {
  const res = await imdsRequest(url, r);
  return okBody(url, res);
}

export function okBody(url: string, res: ImdsResponse): string {
  if (res.status === 200) return res.body;
  const context = { url, status: res.status };
  if (res.status === 404) throw new NotFoundError(`${url}: 404 Not Found`, { context });
  throw new ProtocolError(`${url}: HTTP ${res.status}${res.body ? `: ${res.body.slice(0, 200)}` : ''}`, { context }, 'PROTOCOL_UNEXPECTED');
}

/** `undefined` for a 404 (an optional key), the body otherwise. */
export async function imdsGetOptional(url: string, r: ImdsRequest): Promise<string | undefined> {
  const res = await imdsRequest(url, r);
  return res.status === 404 ? undefined : okBody(url, res);
}

/** JSON.parse that fails as a ProtocolError naming the URL. */
export function parseJson(url: string, body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch (err) {
    throw new ProtocolError(`${url}: malformed JSON`, { cause: err, context: { url } });
  }
}

/** The status of a failed request, when it was an HTTP answer (for the provider's back-off log). */
export function statusOf(err: unknown): number | undefined {
  const s = (err as { context?: { status?: unknown } } | undefined)?.context?.status;
  return typeof s === 'number' ? s : undefined;
}
