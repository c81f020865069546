/**
 * The few containerd API messages the sandbox watch reads, written out by hand
 * as a protobufjs JSON descriptor (no .proto files vendored, no generated
 * code). Field names and numbers are those of github.com/containerd/containerd/api
 * v1.12.0, the api module containerd v2.4.2's go.mod requires:
 *
 * - `services/events/v1/events.proto`: service `containerd.services.events.v1.Events`,
 *   `rpc Subscribe(SubscribeRequest) returns (stream containerd.types.Envelope)`;
 *   `SubscribeRequest { repeated string filters = 1; }`.
 * - `types/event.proto`: `Envelope { Timestamp timestamp = 1; string namespace = 2;
 *   string topic = 3; Any event = 4; }`.
 * - `events/container.proto`: `ContainerCreate { string id = 1; string image = 2;
 *   Runtime runtime = 3; }` with `Runtime { string name = 1; Any options = 2; }`.
 * - `services/containers/v1/containers.proto`: service
 *   `containerd.services.containers.v1.Containers` (`Get`, `Create`), `Container`
 *   (fields 1-7 and 11 here; created_at, updated_at and extensions are left out:
 *   protobuf skips fields a reader does not declare), `GetContainerRequest { string id = 1; }`,
 *   `GetContainerResponse { Container container = 1; }`, `CreateContainerRequest` and
 *   `CreateContainerResponse` (both `{ Container container = 1; }`).
 * - google.protobuf.Any and Timestamp as protobuf's well-known types define them.
 *
 * Only Create is used by the tests (to make containers through the real API).
 */
import protobuf from 'protobufjs';

// A plain literal first: protobufjs's INamespace typing has no map fields (IMapField's keyType).
const DESCRIPTOR = {
  nested: {
    google: { nested: { protobuf: { nested: {
      Any: { fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } },
      Timestamp: { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } },
    } } } },
    containerd: { nested: {
      types: { nested: {
        Envelope: { fields: {
          timestamp: { type: 'google.protobuf.Timestamp', id: 1 },
          namespace: { type: 'string', id: 2 },
          topic: { type: 'string', id: 3 },
          event: { type: 'google.protobuf.Any', id: 4 },
        } },
      } },
      events: { nested: {
        ContainerCreate: {
          fields: { id: { type: 'string', id: 1 }, image: { type: 'string', id: 2 }, runtime: { type: 'Runtime', id: 3 } },
          nested: { Runtime: { fields: { name: { type: 'string', id: 1 }, options: { type: 'google.protobuf.Any', id: 2 } } } },
        },
      } },
      services: { nested: {
        events: { nested: { v1: { nested: {
          SubscribeRequest: { fields: { filters: { rule: 'repeated', type: 'string', id: 1 } } },
        } } } },
        containers: { nested: { v1: { nested: {
          Container: {
            fields: {
              id: { type: 'string', id: 1 },
              labels: { keyType: 'string', type: 'string', id: 2 },
              image: { type: 'string', id: 3 },
              runtime: { type: 'Runtime', id: 4 },
              spec: { type: 'google.protobuf.Any', id: 5 },
              snapshotter: { type: 'string', id: 6 },
              snapshot_key: { type: 'string', id: 7 },
              sandbox: { type: 'string', id: 11 },
            },
            nested: { Runtime: { fields: { name: { type: 'string', id: 1 }, options: { type: 'google.protobuf.Any', id: 2 } } } },
          },
          GetContainerRequest: { fields: { id: { type: 'string', id: 1 } } },
          GetContainerResponse: { fields: { container: { type: 'Container', id: 1 } } },
          CreateContainerRequest: { fields: { container: { type: 'Container', id: 1 } } },
          CreateContainerResponse: { fields: { container: { type: 'Container', id: 1 } } },
        } } } },
      } },
    } },
  },
};
const ROOT = protobuf.Root.fromJSON(DESCRIPTOR as protobuf.INamespace);
ROOT.resolveAll();

const type = (name: string): protobuf.Type => ROOT.lookupType(name);

export const CONTAINERD_TYPES = {
  SubscribeRequest: type('containerd.services.events.v1.SubscribeRequest'),
  Envelope: type('containerd.types.Envelope'),
  ContainerCreate: type('containerd.events.ContainerCreate'),
  GetContainerRequest: type('containerd.services.containers.v1.GetContainerRequest'),
  GetContainerResponse: type('containerd.services.containers.v1.GetContainerResponse'),
  CreateContainerRequest: type('containerd.services.containers.v1.CreateContainerRequest'),
  CreateContainerResponse: type('containerd.services.containers.v1.CreateContainerResponse'),
} as const;

/** gRPC method paths (`/<package>.<Service>/<Method>`). */
export const CONTAINERD_METHOD = {
  subscribe: '/containerd.services.events.v1.Events/Subscribe',
  getContainer: '/containerd.services.containers.v1.Containers/Get',
  createContainer: '/containerd.services.containers.v1.Containers/Create',
} as const;

/**
 * The type URL containerd gives an OCI spec stored in a Container's `spec` Any:
 * client/client.go registers specs.Spec under `types.containerd.io`,
 * `opencontainers/runtime-spec`, the spec's major version, `Spec`; typeurl
 * marshals a non-proto type as JSON (typeurl v2 types.go, MarshalAny).
 */
export const OCI_SPEC_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Spec';

/** The metadata header that selects a containerd namespace (pkg/namespaces/grpc.go, GRPCHeader). */
export const NAMESPACE_HEADER = 'containerd-namespace';

/** The wire shapes as decoded (keepCase field names, defaults filled, int64 as numbers). */
export interface WireAny {
  readonly type_url: string;
  readonly value: Uint8Array;
}

export interface WireEnvelope {
  readonly timestamp: { readonly seconds: number; readonly nanos: number } | null;
  readonly namespace: string;
  readonly topic: string;
  readonly event: WireAny | null;
}

export interface WireContainer {
  readonly id: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly image: string;
  readonly spec: WireAny | null;
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, defaults: true, bytes: Buffer };

/** Decodes bytes into a plain object; malformed bytes throw (protobufjs's errors: callers wrap them). */
export function decodeMessage<T>(t: protobuf.Type, bytes: Uint8Array): T {
  return t.toObject(t.decode(bytes), TO_OBJECT) as T;
}

export function encodeMessage(t: protobuf.Type, value: object): Uint8Array {
  return t.encode(t.fromObject(value)).finish();
}
