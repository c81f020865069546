/**
 * A grpc-js client of the kubelet plugin APIs, loaded from the same protos as
 * the server with @grpc/proto-loader: what the kubelet does, minus its rules
 * (the conformance tier has the real ones). grpc-js and proto-loader are an
 * independent gRPC implementation here, the oracle for our own server
 * (src/surfaces/kubelet/grpc-server.ts); that is why they stay devDependencies.
 * One client per socket and service; `closeAllClients()` in afterEach.
 */
import { join } from 'node:path';
import { credentials, makeClientConstructor, type Client, type ClientReadableStream, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { assetPath } from '../../src/common/assets.ts';
import { SERVICE, type WireWatchResponse } from '../../src/surfaces/kubelet/protos.ts';

const PROTO_ROOT = assetPath('proto/kubelet/');
const FILES = ['pluginregistration/v1/api.proto', 'dra/v1/api.proto', 'dra/v1beta1/api.proto', 'dra-health/v1alpha1/api.proto', 'dra-health/v1/api.proto'];
let protos: PackageDefinition | undefined;

/** The grpc-js service definition of one kubelet service (the options the server's conversions match). */
export function serviceDefinition(name: ServiceName): ServiceDefinition {
  protos ??= loadSync(FILES.map((f) => join(PROTO_ROOT, f)), { keepCase: true, longs: Number, enums: String, defaults: true });
  return protos[name] as unknown as ServiceDefinition;
}

type ServiceName = (typeof SERVICE)[keyof typeof SERVICE];
type Unary = (req: unknown, opts: { deadline: Date }, cb: (err: ServiceError | null, res: unknown) => void) => void;

const open = new Set<Client>();

export function kubeletClient(socket: string, service: ServiceName): Client {
  const Ctor = makeClientConstructor(serviceDefinition(service), service);
  const client = new Ctor(`unix:${socket}`, credentials.createInsecure());
  open.add(client);
  return client;
}

/** A unary call; rejects with the ServiceError (its `code` is the gRPC status). */
export function unary<T>(client: Client, method: string, req: unknown, timeoutMs = 5_000): Promise<T> {
  const fn = (client as unknown as Record<string, Unary>)[method].bind(client);
  return new Promise((resolve, reject) => {
    fn(req, { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => { if (err) reject(err); else resolve(res as T); });
  });
}

export function watchHealth(client: Client): ClientReadableStream<WireWatchResponse> {
  const fn = (client as unknown as Record<string, (req: unknown) => ClientReadableStream<WireWatchResponse>>)['NodeWatchResources'];
  return fn.call(client, {});
}

/** Collects stream messages; `next()` resolves with the next one not yet taken. */
export function messages<T>(stream: ClientReadableStream<T>): { next(timeoutMs?: number): Promise<T>; readonly received: T[]; ended: Promise<ServiceError | null> } {
  const received: T[] = [];
  let taken = 0;
  let wake: (() => void) | undefined;
  stream.on('data', (m: T) => { received.push(m); wake?.(); });
  const ended = new Promise<ServiceError | null>((resolve) => {
    stream.on('error', (e: ServiceError) => { resolve(e); });
    stream.on('end', () => { resolve(null); });
  });
  return {
    received,
    ended,
    async next(timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (taken >= received.length) {
        if (Date.now() > deadline) throw new Error(`no stream message within ${timeoutMs} ms (got ${received.length})`);
        await new Promise<void>((r) => { wake = r; setTimeout(r, 50); });
      }
      return received[taken++];
    },
  };
}

export function closeAllClients(): void {
  for (const c of open) c.close();
  open.clear();
}
