/**
 * The kubelet plugin APIs, loaded once from the verbatim upstream protos in
 * proto/kubelet (k8s.io/kubelet v0.37.2) with @grpc/proto-loader, plus the
 * wire shapes the handlers see. proto-loader is used at run time instead of
 * generated code: five small files, no build step, and the .proto stays the
 * single source of truth.
 */
import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
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

/** The `supported_versions` strings a DRA plugin advertises (`<short package>.<Service>`). */
export type KubeletServiceVersion = 'v1.DRAPlugin' | 'v1beta1.DRAPlugin' | 'v1.DRAResourceHealth' | 'v1alpha1.DRAResourceHealth';

// keepCase: handlers see the proto field names, so each mapping reads like the
// .proto. longs as numbers: the only int64s are Unix seconds and timeouts.
// enums as names; defaults so repeated fields arrive as [] rather than absent.
const LOAD_OPTIONS = { keepCase: true, longs: Number, enums: String, defaults: true, includeDirs: [PROTO_ROOT] };

let cached: PackageDefinition | undefined;

/** The package definition of all five files (loaded on first use, then shared). */
export function kubeletProtos(): PackageDefinition {
  cached ??= loadSync(FILES, LOAD_OPTIONS);
  return cached;
}

export function serviceDefinition(name: (typeof SERVICE)[keyof typeof SERVICE]): ServiceDefinition {
  // proto-loader's service definitions are grpc-js ServiceDefinitions; its own
  // types name them separately, so the one cast lives here.
  return kubeletProtos()[name] as unknown as ServiceDefinition;
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
