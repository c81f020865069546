/**
 * The NRI and ttrpc protobuf types, loaded once from proto/nri with
 * protobufjs (no code generation: the .proto files stay the single source of
 * truth, as proto/kubelet is for the kubelet surface), plus the wire shapes
 * the NRI handlers see.
 *
 *   const req = decodeMessage<WireConfigureRequest>(NRI_TYPES.ConfigureRequest, payload);
 *   const bytes = encodeMessage(NRI_TYPES.ConfigureResponse, { events: 0xf });
 *
 * Decoding keeps the proto field names (keepCase), turns int64 into numbers
 * and enums into their names, and fills defaults (repeated → [], message →
 * null), so a handler reads a message like the .proto reads. Unknown fields
 * (newer runtimes) are skipped; malformed bytes raise ProtocolError only.
 */
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { assetPath } from '../../common/assets.ts';
import { ProtocolError } from '../../common/errors.ts';

const PROTO_ROOT = assetPath('proto/nri/');

/** Fully qualified service names: part of every ttrpc Request. */
export const NRI_SERVICE = {
  plugin: 'nri.pkg.api.v1alpha1.Plugin',
  runtime: 'nri.pkg.api.v1alpha1.Runtime',
} as const;

function loadRoot(): protobuf.Root {
  const root = new protobuf.Root();
  // Imports resolve inside proto/nri; google/protobuf/* come bundled with protobufjs.
  root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : join(PROTO_ROOT, target));
  root.loadSync(['api.proto', 'ttrpc.proto'], { keepCase: true });
  root.resolveAll();
  return root;
}

const NRI_ROOT = loadRoot();

const NRI_PACKAGE = 'nri.pkg.api.v1alpha1';
const nri = (name: string): protobuf.Type => NRI_ROOT.lookupType(`${NRI_PACKAGE}.${name}`);

/** The message types the surface encodes or decodes by name (looked up once). */
export const NRI_TYPES = {
  TtrpcRequest: NRI_ROOT.lookupType('ttrpc.Request'),
  TtrpcResponse: NRI_ROOT.lookupType('ttrpc.Response'),
  Empty: nri('Empty'),
  RegisterPluginRequest: nri('RegisterPluginRequest'),
  ConfigureRequest: nri('ConfigureRequest'),
  ConfigureResponse: nri('ConfigureResponse'),
  SynchronizeRequest: nri('SynchronizeRequest'),
  SynchronizeResponse: nri('SynchronizeResponse'),
  RunPodSandboxRequest: nri('RunPodSandboxRequest'),
  StopPodSandboxRequest: nri('StopPodSandboxRequest'),
  RemovePodSandboxRequest: nri('RemovePodSandboxRequest'),
  CreateContainerRequest: nri('CreateContainerRequest'),
  CreateContainerResponse: nri('CreateContainerResponse'),
  StartContainerRequest: nri('StartContainerRequest'),
  StateChangeEvent: nri('StateChangeEvent'),
  PodSandbox: nri('PodSandbox'),
  Container: nri('Container'),
  ContainerAdjustment: nri('ContainerAdjustment'),
} as const;

/** The Plugin service as declared in api.proto (method name → request/response types). */
export const PLUGIN_SERVICE = NRI_ROOT.lookupService(NRI_SERVICE.plugin);

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: String, defaults: true, arrays: true, objects: true };

/** Decodes `buf` as `type` into a plain object; anything malformed is a ProtocolError. */
export function decodeMessage<T>(type: protobuf.Type, buf: Uint8Array): T {
  try {
    return type.toObject(type.decode(buf), TO_OBJECT) as T;
  } catch (err) {
    throw new ProtocolError(`${type.name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err, context: { type: type.fullName } });
  }
}

/**
 * Encodes a plain object (proto field names, numbers for int64, enum names or
 * numbers) as `type`. Zero scalars and empty lists are left out, as proto3
 * encoders (Go's included) do, so the bytes match what the runtime would send;
 * a present sub-message stays present even when empty.
 */
export function encodeMessage(type: protobuf.Type, value: object): Uint8Array {
  return type.encode(type.fromObject(withoutZeroValues(type, value))).finish();
}

/** `value` without zero scalars and empty lists, following the schema (map values are kept as they are). */
function withoutZeroValues(type: protobuf.Type, value: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const input = value as Record<string, unknown>;
  for (const field of type.fieldsArray) {
    const v = input[field.name];
    if (v === undefined || v === null) continue;
    const sub = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
    if (field.map) out[field.name] = v;
    else if (field.repeated) {
      if (Array.isArray(v) && v.length === 0) continue;
      out[field.name] = sub && Array.isArray(v) ? v.map((e: object) => withoutZeroValues(sub, e)) : v;
    } else if (sub) out[field.name] = withoutZeroValues(sub, v as object);
    else if (!(v === '' || v === 0 || v === false || (v instanceof Uint8Array && v.length === 0))) out[field.name] = v;
  }
  return out;
}

// --- wire shapes (proto field names, as decodeMessage returns them) ---

export interface WireLinuxNamespace {
  type: string;
  path: string;
}

export interface WirePodSandbox {
  id: string;
  name: string;
  uid: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtime_handler: string;
  linux: { cgroup_parent: string; namespaces: WireLinuxNamespace[] } | null;
  pid: number;
  ips: string[];
}

export interface WireContainer {
  id: string;
  pod_sandbox_id: string;
  name: string;
  /** Enum name, e.g. CONTAINER_CREATED (a number if the runtime sent a value this file does not know). */
  state: string | number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  args: string[];
  env: string[];
}

export interface WireConfigureRequest {
  config: string;
  runtime_name: string;
  runtime_version: string;
  /** Milliseconds. */
  registration_timeout: number;
  /** Milliseconds. */
  request_timeout: number;
  /** Empty from runtimes before nri v0.12. */
  NRI_version: string;
}

export interface WireSynchronizeRequest {
  pods: WirePodSandbox[];
  containers: WireContainer[];
  more: boolean;
}

/** RunPodSandboxRequest, StopPodSandboxRequest and RemovePodSandboxRequest. */
export interface WirePodRequest {
  pod: WirePodSandbox | null;
}

export interface WireCreateContainerRequest {
  pod: WirePodSandbox | null;
  container: WireContainer | null;
}

/** StartContainerRequest has the same shape. */
export type WireStartContainerRequest = WireCreateContainerRequest;

export interface WireStateChangeEvent {
  /** Enum name (RUN_POD_SANDBOX ...), or the number if unknown to api.proto. */
  event: string | number;
  pod: WirePodSandbox | null;
  container: WireContainer | null;
}

/** What a plugin sends back in CreateContainerResponse.adjust (the parts netclaim uses). */
export interface WireContainerAdjustment {
  env?: { key: string; value: string }[];
  linux?: {
    devices: {
      path: string;
      type: string;
      major: number;
      minor: number;
      file_mode?: { value: number };
    }[];
  };
}

export interface WireTtrpcRequest {
  service: string;
  method: string;
  payload: Uint8Array;
  /** 0: no deadline. */
  timeout_nano: number;
  metadata: { key: string; value: string }[];
}

export interface WireTtrpcResponse {
  status: { code: number; message: string } | null;
  payload: Uint8Array;
}
