/**
 * The bytes of a KubeTarget's credentials (kube-config.ts), read from their
 * files and read again once they are `refreshMs` old (default 60 s), as
 * client-go's cached token source re-reads a service-account token file: the
 * kubelet rotates projected tokens (hourly by default) and certificate
 * rotation replaces the files in place. Inline data never changes.
 *
 * A file that cannot be read again keeps the last bytes read (the next
 * request may still succeed; the API server says so when it does not); one
 * that was never read fails the request, naming the file.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../../common/errors.ts';
import type { Credential, KubeTarget } from './kube-config.ts';

export interface CredentialBytes {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** The bearer token, trimmed (token files end with a newline). */
  readonly token?: string;
}

export class CredentialCache {
  readonly #target: KubeTarget;
  readonly #refreshMs: number;
  #last: CredentialBytes | undefined;
  #readAt = 0;
  #reading: Promise<CredentialBytes> | undefined;

  constructor(target: KubeTarget, refreshMs = 60_000) {
    this.#target = target;
    this.#refreshMs = refreshMs;
  }

  /** The current bytes: cached, or read when older than `refreshMs`. */
  get(now = Date.now()): Promise<CredentialBytes> {
    if (this.#last !== undefined && now - this.#readAt < this.#refreshMs) return Promise.resolve(this.#last);
    this.#reading ??= this.#read(now).finally(() => { this.#reading = undefined; });
    return this.#reading;
  }

  async #read(now: number): Promise<CredentialBytes> {
    const t = this.#target;
    const [ca, cert, key, token] = await Promise.all([
      this.#bytes(t.ca, 'certificate-authority', this.#last?.ca),
      this.#bytes(t.clientCert, 'client-certificate', this.#last?.cert),
      this.#bytes(t.clientKey, 'client-key', this.#last?.key),
      this.#bytes(t.token, 'token', this.#last?.token === undefined ? undefined : Buffer.from(this.#last.token)),
    ]);
    const tokenText = token?.toString('utf8').trim();
    this.#last = {
      ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}),
      ...(tokenText ? { token: tokenText } : {}),
    };
    this.#readAt = now;
    return this.#last;
  }

  async #bytes(c: Credential | undefined, what: string, last: Buffer | undefined): Promise<Buffer | undefined> {
    if (c === undefined) return undefined;
    if ('data' in c) return c.data;
    try {
      return await readFile(c.file);
    } catch (err) {
      if (last !== undefined) return last;
      throw new ConfigError(`${this.#target.source}: cannot read the ${what} file ${c.file}: ${(err as Error).message}`, { cause: err, context: { field: what, path: c.file } });
    }
  }
}
