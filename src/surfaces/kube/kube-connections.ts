/**
 * The API client's kept connections, as the daemon's stop and the fleet
 * bench see them.
 *
 * @kubernetes/client-node 2.0 built a new undici Agent for every request of
 * a TLS cluster, so every GET and PUT paid a TCP connect and a full TLS
 * handshake (on the e2e node about 50 ms of a pod's start-up,
 * docs/benchmarks.md "e2e"); this file used to patch that. The client the
 * daemon uses now (kube-api.ts) keeps its connections alive itself, one
 * agent per set of TLS credentials, as client-go's transport cache does;
 * what is left here is the handle to count and close them.
 */
import type { KubeApi } from './kube-api.ts';

export interface ConnectionPool {
  /** Agents made so far (one per distinct TLS credentials). */
  readonly size: number;
  /** Closes the kept connections (at daemon stop). */
  close(): Promise<void>;
}

export function pooledConnections(api: KubeApi): ConnectionPool {
  return {
    get size() { return api.agents; },
    close: () => api.close(),
  };
}
