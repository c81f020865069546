/**
 * A tiny JSON client for the conformance tier's API server: bearer token, the
 * fixture's CA (node:https, so no global TLS switches), JSON in and out.
 * Deliberately minimal: tests assert on raw status codes and Status messages.
 */
import { request } from 'node:https';

export interface KubeResponse<T = unknown> {
  status: number;
  /** Parsed JSON body (a `Status` object on errors), or undefined when the body is not JSON. */
  body: T;
  text: string;
}

export interface KubeStatus {
  kind: 'Status';
  status: string;
  message: string;
  reason: string;
  code: number;
  details?: { causes?: Array<{ reason?: string; message?: string; field?: string }> };
}

export interface KubeClientOptions {
  server: string;
  token: string;
  caPem: string;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
}

export class KubeClient {
  readonly server: string;
  readonly #token: string;
  readonly #ca: string;
  readonly #timeoutMs: number;

  constructor(opts: KubeClientOptions) {
    this.server = opts.server;
    this.#token = opts.token;
    this.#ca = opts.caPem;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /** The same server and CA, another identity (e.g. a node token). */
  as(token: string): KubeClient {
    return new KubeClient({ server: this.server, token, caPem: this.#ca, timeoutMs: this.#timeoutMs });
  }

  get<T = unknown>(path: string): Promise<KubeResponse<T>> {
    return this.request<T>('GET', path);
  }
  post<T = unknown>(path: string, body: unknown): Promise<KubeResponse<T>> {
    return this.request<T>('POST', path, body);
  }
  put<T = unknown>(path: string, body: unknown): Promise<KubeResponse<T>> {
    return this.request<T>('PUT', path, body);
  }
  delete<T = unknown>(path: string): Promise<KubeResponse<T>> {
    return this.request<T>('DELETE', path);
  }
  /** PATCH; contentType picks the kind: merge-patch+json (default), json-patch+json, apply-patch+yaml, strategic-merge-patch+json. */
  patch<T = unknown>(path: string, body: unknown, contentType = 'application/merge-patch+json'): Promise<KubeResponse<T>> {
    return this.request<T>('PATCH', path, body, contentType);
  }

  request<T = unknown>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<KubeResponse<T>> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${this.#token}` };
    if (payload !== undefined) {
      headers['content-type'] = contentType;
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolve, reject) => {
      const req = request(new URL(path, this.server), { method, headers, ca: this.#ca, timeout: this.#timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed as T, text });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out after ${this.#timeoutMs} ms`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }
}
