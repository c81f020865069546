/**
 * The wire steps of the sandbox watch as pure functions: the Subscribe
 * filter, an Envelope to the created container's id, a GetContainerResponse
 * to its record. Malformed or unexpected input gives a reason (logged at
 * debug by the watch), never a throw.
 */
import { CONTAINERD_TYPES, decodeMessage, type WireContainer, type WireEnvelope } from './protos.ts';

/** The topic containerd publishes on Containers.Create (plugins/services/containers/local.go). */
export const CONTAINER_CREATE_TOPIC = '/containers/create';

/** The Any type URL of a ContainerCreate event (typeurl names a proto message by its full name). */
export const CONTAINER_CREATE_TYPE_URL = 'containerd.events.ContainerCreate';

/**
 * containerd's identifier rule, which namespaces follow (pkg/identifiers/validate.go:
 * alphanumerics separated by single '.', '_' or '-', at most 76 characters). A valid
 * name needs no quoting beyond the filter's double quotes.
 */
export function validNamespace(ns: string): boolean {
  return ns.length <= 76 && /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/.test(ns);
}

/**
 * The Subscribe filter (pkg/filters/filter.go syntax: comma = all of, quoted
 * values): container creations in one namespace. Envelope's field paths are
 * `topic` and `namespace` (core/events/events.go, Envelope.Field).
 */
export function createTopicFilter(ns: string): string {
  return `topic==${JSON.stringify(CONTAINER_CREATE_TOPIC)},namespace==${JSON.stringify(ns)}`;
}

export interface Skipped {
  readonly reason: string;
}

/** The id of the container an Envelope says was created in `ns`, or why the Envelope is not one. */
export function decodeContainerCreate(bytes: Uint8Array, ns: string): string | Skipped {
  let env: WireEnvelope;
  let id: string;
  try {
    env = decodeMessage<WireEnvelope>(CONTAINERD_TYPES.Envelope, bytes);
    if (env.topic !== CONTAINER_CREATE_TOPIC) return { reason: `topic ${JSON.stringify(env.topic.slice(0, 100))}` };
    if (env.namespace !== ns) return { reason: `namespace ${JSON.stringify(env.namespace.slice(0, 100))}` };
    if (env.event === null) return { reason: 'no event in the envelope' };
    // A type URL may carry a host prefix ("type.googleapis.com/…"): the name is its last segment.
    const typeName = env.event.type_url.slice(env.event.type_url.lastIndexOf('/') + 1);
    if (typeName !== CONTAINER_CREATE_TYPE_URL) return { reason: `event type ${JSON.stringify(env.event.type_url.slice(0, 200))}` };
    id = decodeMessage<{ id: string }>(CONTAINERD_TYPES.ContainerCreate, env.event.value).id;
  } catch (err) {
    return { reason: `malformed event: ${(err as Error).message}` };
  }
  return id === '' ? { reason: 'ContainerCreate without an id' } : id;
}

/** The Container of a GetContainerResponse, checked to be the one asked for. */
export function decodeGetContainer(bytes: Uint8Array, id: string): WireContainer | Skipped {
  let c: WireContainer | null;
  try {
    c = decodeMessage<{ container: WireContainer | null }>(CONTAINERD_TYPES.GetContainerResponse, bytes).container;
  } catch (err) {
    return { reason: `malformed GetContainerResponse: ${(err as Error).message}` };
  }
  if (c === null) return { reason: 'GetContainerResponse without a container' };
  if (c.id !== id) return { reason: `asked for ${id}, got ${JSON.stringify(c.id.slice(0, 100))}` };
  return c;
}
