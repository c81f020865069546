/**
 * The e2e node's API bridge must not add latency of its own: both of its TCP legs
 * set TCP_NODELAY, as Go's net package does for the kubelet and the API server.
 * With Nagle's algorithm on (a Node net.Socket's default), a small write that
 * follows an unacknowledged one waits for the peer's delayed ACK, 40 ms on Linux;
 * the e2e bench measured the kubelet's GET of a claim at 40-49 or 86-87 ms in half
 * the pods until the bridge set it (docs/benchmarks.md).
 *
 * The kernel is the oracle: getsockopt(TCP_NODELAY) on the bridge's own sockets,
 * found through /proc/net/tcp by their ports.
 */
import { createRequire } from 'node:module';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { tcpToUnix, unixToTcp, type Bridge } from './api-bridge.ts';

const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;

/** TCP_NODELAY of one of this process's file descriptors, from the kernel. */
function noDelayOf(fd: number): number {
  const koffi = createRequire(import.meta.url)('koffi') as { load(path: null): { func(signature: string): (...args: unknown[]) => number } };
  const getsockopt = koffi.load(null).func('int getsockopt(int, int, int, _Out_ int *, _Inout_ uint32_t *)');
  const value = [0];
  const len = [4];
  if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, value, len) !== 0) throw new Error(`getsockopt(${fd}) failed`);
  return value[0]!;
}

/** This process's IPv4 TCP sockets: fd, local port and remote port (from /proc/net/tcp by inode). */
function tcpSockets(): Array<{ fd: number; local: number; remote: number }> {
  const byInode = new Map<string, { local: number; remote: number }>();
  for (const line of readFileSync('/proc/self/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    byInode.set(f[9]!, { local: parseInt(f[1]!.split(':')[1]!, 16), remote: parseInt(f[2]!.split(':')[1]!, 16) });
  }
  const out: Array<{ fd: number; local: number; remote: number }> = [];
  for (const name of readdirSync('/proc/self/fd')) {
    let link: string;
    try {
      link = readlinkSync(`/proc/self/fd/${name}`);
    } catch {
      continue;
    }
    const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
    const s = inode === undefined ? undefined : byInode.get(inode);
    if (s) out.push({ fd: Number(name), ...s });
  }
  return out;
}

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanup.splice(0).reverse()) c();
});

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

test('both TCP legs of the bridge set TCP_NODELAY (no delayed-ACK stalls on the node\'s API calls)', async () => {
  // The "API server": a TCP echo server.
  const upstream = createServer((c) => c.pipe(c));
  const upstreamPort = await listen(upstream);
  cleanup.push(() => upstream.close());

  const dir = mkdtempSync(join(tmpdir(), 'nc-bridge-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const sock = join(dir, 'api.sock');
  const host: Bridge = await unixToTcp(sock, '127.0.0.1', upstreamPort);
  cleanup.push(() => host.close());
  const node = await tcpToUnix(0, sock);
  cleanup.push(() => node.close());
  const nodePort = (node.address() as AddressInfo).port;

  // A client of the node side, as the kubelet is; bytes go through both legs and back.
  const client: Socket = createConnection({ host: '127.0.0.1', port: nodePort });
  cleanup.push(() => client.destroy());
  const echoed = await new Promise<string>((resolve, reject) => {
    client.once('error', reject);
    client.once('data', (d) => resolve(d.toString()));
    client.write('ping');
  });
  expect(echoed).toBe('ping');

  const sockets = tcpSockets();
  // The node leg: the bridge's accepted socket (local port = the bridge's port, remote = the client).
  const nodeLeg = sockets.filter((s) => s.local === nodePort && s.remote === client.localPort);
  // The host leg: the bridge's connection to the API server.
  const hostLeg = sockets.filter((s) => s.remote === upstreamPort);
  expect(nodeLeg).toHaveLength(1);
  expect(hostLeg).toHaveLength(1);
  expect(noDelayOf(nodeLeg[0]!.fd)).toBe(1);
  expect(noDelayOf(hostLeg[0]!.fd)).toBe(1);
  // The client made here did not ask for it: the oracle does tell the two apart.
  const clientSide = sockets.filter((s) => s.local === client.localPort && s.remote === nodePort);
  expect(clientSide).toHaveLength(1);
  expect(noDelayOf(clientSide[0]!.fd)).toBe(0);
});
