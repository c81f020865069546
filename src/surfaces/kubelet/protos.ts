/**
 * The kubelet plugin APIs, loaded once from the verbatim upstream protos in
 * proto/kubelet (k8s.io/kubelet v0.37.2) with protobufjs (as src/surfaces/nri
 * loads proto/nri): no generated code, the .proto stays the single source of
 * truth. grpc-server.ts serves them; the wire shapes the handlers see follow.
 *
 * Messages convert the way @grpc/proto-loader converted them before (its
 * options were keepCase, longs: Number, enums: String, defaults: true), so the
 * handlers read and write the same plain objects: proto field names; int64 as
 * numbers (the only ones are Unix seconds and timeouts); enums as names;
 * defaults filled (repeated → [], map → {}, message → null). Encoding is
 * protobufjs fromObject, which takes those shapes back.
 */
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { assetPath } from '../../common/assets.ts';

const PROTO_ROOT = assetPath('proto/kubelet/');

const FILES = [
  'pluginregistration/v1/api.proto',
  'dra/v1/api.proto',
  'dra/v1beta1/api.proto',
  'dra-health/v1alpha1/api.proto',
  'dra-health/v1/api.proto',
];

/** Fully qualified gRPC service names: they are part of every method path the kubelet calls. */
export const SERVICE = {
  registration: 'pluginregistration.Registration',
  draV1: 'k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin',
  draV1beta1: 'k8s.io.kubelet.pkg.apis.dra.v1beta1.DRAPlugin',
  healthV1alpha1: 'v1alpha1.DRAResourceHealth',
  healthV1: 'v1.DRAResourceHealth',
} as const;

export type ServiceName = (typeof SERVICE)[keyof typeof SERVICE];

/** The `supported_versions` strings a DRA plugin advertises (`<short package>.<Service>`). */
export type KubeletServiceVersion = 'v1.DRAPlugin' | 'v1beta1.DRAPlugin' | 'v1.DRAResourceHealth' | 'v1alpha1.DRAResourceHealth';

let cached: protobuf.Root | undefined;

/** All five files in one root (loaded on first use, then shared). The files import nothing. */
export function kubeletProtos(): protobuf.Root {
  if (cached === undefined) {
    const root = new protobuf.Root();
    root.loadSync(FILES.map((f) => join(PROTO_ROOT, f)), { keepCase: true });
    root.resolveAll();
    cached = root;
  }
  return cached;
}

export interface MethodTypes {
  readonly requestType: protobuf.Type;
  readonly responseType: protobuf.Type;
  /** Server-streaming (the only streaming kind these APIs use). */
  readonly streaming: boolean;
}

/** The methods of a service as its .proto declares them. */
export function serviceMethods(name: ServiceName): Map<string, MethodTypes> {
  const svc = kubeletProtos().lookupService(name);
  return new Map(svc.methodsArray.map((m) => [m.name, {
    requestType: m.resolvedRequestType!,
    responseType: m.resolvedResponseType!,
    streaming: m.responseStream === true,
  }]));
}

// proto-loader's toObject options, unchanged: the handlers were written against them.
const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: String, defaults: true };

/** Decodes a message into the plain object the handlers read; malformed bytes throw. */
export function decodeWire(type: protobuf.Type, buf: Uint8Array): unknown {
  return type.toObject(type.decode(buf), TO_OBJECT);
}

/** Encodes a handler's plain object (proto field names, enum names, numbers for int64). */
export function encodeWire(type: protobuf.Type, value: object): Uint8Array {
  return type.encode(type.fromObject(value)).finish();
}

// --- wire shapes (proto field names; what proto-loader produces and accepts) ---

export interface WirePluginInfo {
  type: string;
  name: string;
  endpoint: string;
  supported_versions: string[];
}

export interface WireRegistrationStatus {
  plugin_registered: boolean;
  error: string;
}

export interface WireClaim {
  namespace: string;
  uid: string;
  name: string;
}

export interface WireClaimsRequest {
  claims: WireClaim[];
}

export interface WireDevice {
  request_names: string[];
  pool_name: string;
  device_name: string;
  cdi_device_ids: string[];
  share_id?: string;
}

export interface WirePrepareResponse {
  claims: Record<string, { devices: WireDevice[]; error: string }>;
}

export interface WireUnprepareResponse {
  claims: Record<string, { error: string }>;
}

export interface WireDeviceHealth {
  device: { pool_name: string; device_name: string };
  health: 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY';
  last_updated_time: number;
  health_check_timeout_seconds: number;
  message: string;
}

export interface WireWatchResponse {
  devices: WireDeviceHealth[];
}
