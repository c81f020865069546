/**
 * pooledConnections (src/surfaces/kube/kube-connections.ts) against the real
 * kube-apiserver, through a TCP relay that counts the connections the client
 * opens: @kubernetes/client-node alone opens one per request (a TLS handshake
 * each); pooled, the requests share one kept-alive connection.
 */
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { pooledConnections } from '../../src/surfaces/kube/kube-connections.ts';
import { kubeConfigFor } from './slice-fixtures.ts';

const cp = inject('controlPlane');
let relay: Server;
const sockets = new Set<Socket>();
let accepted = 0;
let relayUrl = '';

beforeAll(async () => {
  const target = new URL(cp.server);
  relay = createServer((client) => {
    accepted += 1;
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  relayUrl = `https://127.0.0.1:${(relay.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => relay.close(resolve));
});

async function connectionsFor(pooled: boolean, requests: number): Promise<number> {
  const kc = kubeConfigFor({ ...cp, server: relayUrl }, cp.token);
  const pool = pooled ? pooledConnections(kc) : undefined;
  const api = kc.makeApiClient(CoreV1Api);
  const before = accepted;
  for (let i = 0; i < requests; i++) await api.readNamespace({ name: 'default' });
  await pool?.close();
  return accepted - before;
}

describe('pooledConnections', () => {
  it('the client alone opens a connection per request (why the pool exists: if this starts failing, the client keeps connections itself)', async () => {
    expect(await connectionsFor(false, 5)).toBe(5);
  });

  it('pooled: five requests share one connection, and the pool is the same for the same KubeConfig', async () => {
    expect(await connectionsFor(true, 5)).toBe(1);
    const kc = kubeConfigFor({ ...cp, server: relayUrl }, cp.token);
    expect(pooledConnections(kc)).toBe(pooledConnections(kc));
  });
});
