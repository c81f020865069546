/**
 * Keeps connections to the API server open between requests.
 *
 * @kubernetes/client-node 2.0 builds a new undici Agent (its `createDispatcher`)
 * for every request of a TLS cluster, so every GET and PUT pays a TCP connect
 * and a full TLS handshake, and the old agent's socket lingers until it is
 * collected. On the e2e node (2 vCPUs) that made the claim fetch of
 * NodePrepareResources take about 50 ms of the pod's start-up, and each claim
 * status write two handshakes more (docs/benchmarks.md, "e2e").
 *
 * pooledConnections() makes the KubeConfig hand every request one dispatcher
 * per distinct set of options (cluster, CA, client certificate), created the
 * first time and kept: undici pools and reuses its keep-alive connections, as
 * client-go does with its transport cache. Credentials that change (a rotated
 * CA or client certificate) give a new set of options and so a new
 * dispatcher; bearer tokens are headers, read per request as before.
 */
import type { KubeConfig } from '@kubernetes/client-node';

type CreateDispatcher = (cluster: unknown, agentOptions: Record<string, unknown>) => { close?: () => Promise<void> } | undefined;

const pools = new WeakMap<KubeConfig, ConnectionPool>();

export interface ConnectionPool {
  /** Dispatchers made so far (one per distinct set of options). */
  readonly size: number;
  /** Closes the kept connections (at daemon stop). */
  close(): Promise<void>;
}

export function pooledConnections(kc: KubeConfig): ConnectionPool {
  const existing = pools.get(kc);
  if (existing !== undefined) return existing;
  const target = kc as unknown as { createDispatcher?: CreateDispatcher };
  const original = target.createDispatcher;
  const made = new Map<string, ReturnType<CreateDispatcher>>();
  const pool: ConnectionPool = {
    get size() { return made.size; },
    async close() {
      const all = [...made.values()];
      made.clear();
      await Promise.all(all.map((d) => d?.close?.().catch(() => {})));
    },
  };
  pools.set(kc, pool);
  // The method is private in the typings; a client version without it keeps its own behaviour.
  if (typeof original !== 'function') return pool;
  target.createDispatcher = (cluster, agentOptions) => {
    const key = JSON.stringify([cluster, agentOptions], (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('base64') : v));
    if (!made.has(key)) made.set(key, original.call(kc, cluster, agentOptions));
    return made.get(key);
  };
  return pool;
}
