/**
 * Carries TCP connections across network namespaces through a Unix socket, which
 * any namespace can reach through the file system. The e2e node's processes reach
 * the API server (which listens on the host's loopback, like the conformance tier's)
 * at https://127.0.0.1:6443 of their own namespace:
 *
 *   node side  (a process inside the node):  tcp 127.0.0.1:6443 -> unix SOCK
 *                                            (and 10.96.0.1:443, the `kubernetes` Service,
 *                                            for in-cluster clients: netclaim's pod)
 *   host side  (in the test process):        unix SOCK -> tcp 127.0.0.1:<apiserver port>
 *
 * Bytes are piped unchanged, so TLS runs end to end and the serving certificate's
 * 127.0.0.1 SAN is what the node's clients check.
 *
 * Both TCP legs set TCP_NODELAY, as Go's net package does on every TCP connection
 * (the kubelet's and the API server's own). With Nagle on (Node's default for a
 * net.Socket), a piped write that follows an unacknowledged one waits for the
 * peer's delayed ACK: 40 ms on Linux. The e2e bench saw exactly that: the kubelet's
 * GET of a pod's claim took 40-49 or 86-87 ms in half the pods instead of 3-7 ms, with
 * netclaim idle and the bench's event loop free (docs/benchmarks.md).
 *
 *   node test/e2e/node/api-bridge.ts tcp-to-unix PORT SOCK [HOST:PORT...]   (runs until killed)
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

function pipeBoth(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const end = (): void => {
    a.destroy();
    b.destroy();
  };
  a.once('error', end).once('close', end);
  b.once('error', end).once('close', end);
}

export interface Bridge {
  server: Server;
  /** Stops accepting and cuts every open connection (the node's clients hold theirs for good). */
  close(): void;
}

/** Host side: accepts on a Unix socket, connects each one to host:port. */
export function unixToTcp(sock: string, host: string, port: number): Promise<Bridge> {
  rmSync(sock, { force: true });
  const open = new Set<Socket>();
  const server = createServer((c) => {
    open.add(c);
    c.once('close', () => open.delete(c));
    pipeBoth(c, createConnection({ host, port, noDelay: true }));
  });
  const close = (): void => {
    server.close();
    for (const c of open) c.destroy();
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(sock, () => resolve({ server, close }));
  });
}

/** Node side: accepts on host:port (default 127.0.0.1), connects each one to the Unix socket. */
export function tcpToUnix(port: number, sock: string, host = '127.0.0.1'): Promise<Server> {
  const server = createServer({ noDelay: true }, (c) => pipeBoth(c, createConnection({ path: sock })));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [mode, port, sock, ...more] = process.argv.slice(2);
  if (mode !== 'tcp-to-unix' || !port || !sock || more.some((m) => !/^[0-9.]+:[0-9]+$/.test(m))) {
    console.error('usage: node api-bridge.ts tcp-to-unix PORT SOCK [HOST:PORT...]');
    process.exit(2);
  }
  await tcpToUnix(Number(port), sock);
  console.log(`api-bridge: 127.0.0.1:${port} -> ${sock}`);
  for (const m of more) {
    const [host, p] = m.split(':') as [string, string];
    await tcpToUnix(Number(p), sock, host);
    console.log(`api-bridge: ${m} -> ${sock}`);
  }
  process.on('SIGTERM', () => process.exit(0));
}
