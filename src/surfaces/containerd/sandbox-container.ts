/**
 * Is a containerd container a CRI pod sandbox, and of which pod? Pure
 * functions over the Container record that Containers.Get returns.
 *
 * What containerd v2.4.2's CRI plugin writes for a pod sandbox
 * (internal/cri/server/podsandbox/sandbox_run.go, Controller.Start):
 * - the container's id is the sandbox id (`client.NewContainer(ctx, id, …)`);
 * - its labels are `util.BuildLabels(config.Labels, image labels, "sandbox")`
 *   (internal/cri/util/util.go): the pause image's labels, then the CRI
 *   request's labels over them (the kubelet's `io.kubernetes.pod.{uid,name,namespace}`),
 *   then `io.cri-containerd.kind=sandbox` (internal/cri/labels/labels.go) over all;
 *   image labels under `io.cri-containerd.` are dropped, so an image cannot
 *   claim the kind, and the kubelet's pod labels override an image's;
 * - its spec is the OCI runtime spec as JSON (client.WithSpec, typeurl); the
 *   pod's network namespace is `linux.namespaces[{type: "network", path}]`
 *   with the netns containerd made before CNI, and the network namespace is
 *   absent for a host-network pod (podsandbox/sandbox_run_linux.go,
 *   sandboxContainerSpec: WithLinuxNamespace or WithoutNamespace).
 */
import type { WireContainer } from './protos.ts';
import { OCI_SPEC_TYPE_URL } from './protos.ts';

export const KIND_LABEL = 'io.cri-containerd.kind';
export const KIND_SANDBOX = 'sandbox';
export const POD_UID_LABEL = 'io.kubernetes.pod.uid';
export const POD_NAME_LABEL = 'io.kubernetes.pod.name';
export const POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';

/** A pod sandbox container as the watch reports it. */
export interface SandboxSeen {
  /** The sandbox id (= the pause container's id). */
  readonly id: string;
  /** Label io.kubernetes.pod.uid. */
  readonly uid: string;
  /** Label io.kubernetes.pod.name. */
  readonly name: string;
  /** Label io.kubernetes.pod.namespace. */
  readonly namespace: string;
  /** spec linux.namespaces[type=network].path; absent when none (host network). */
  readonly netns?: string;
}

/** Why a container is not reported (logged at debug). */
export type SandboxSkip =
  | { readonly skip: 'not-sandbox'; readonly kind: string | undefined }
  | { readonly skip: 'pod-labels-missing'; readonly missing: readonly string[] }
  | { readonly skip: 'spec-unreadable'; readonly reason: string };

/** The largest spec this reads (the Container message is capped before it, see sandbox-watch.ts). */
export const MAX_SPEC_BYTES = 1024 * 1024;

/** The sandbox a container record describes, or why it describes none. */
export function sandboxFromContainer(c: WireContainer): SandboxSeen | SandboxSkip {
  const kind = c.labels[KIND_LABEL];
  if (kind !== KIND_SANDBOX) return { skip: 'not-sandbox', kind };
  const uid = c.labels[POD_UID_LABEL] ?? '';
  const name = c.labels[POD_NAME_LABEL] ?? '';
  const namespace = c.labels[POD_NAMESPACE_LABEL] ?? '';
  const missing = ([[POD_UID_LABEL, uid], [POD_NAME_LABEL, name], [POD_NAMESPACE_LABEL, namespace]] as const)
    .filter(([, v]) => v === '').map(([k]) => k);
  if (missing.length > 0) return { skip: 'pod-labels-missing', missing };
  const netns = netnsFromSpecAny(c.spec);
  if (typeof netns === 'object') return netns;
  return netns === undefined ? { id: c.id, uid, name, namespace } : { id: c.id, uid, name, namespace, netns };
}

export function isSkip(r: SandboxSeen | SandboxSkip): r is SandboxSkip {
  return 'skip' in r;
}

/** The spec Any's network namespace path (undefined: none), or why the spec cannot be read. */
export function netnsFromSpecAny(spec: WireContainer['spec']): string | undefined | SandboxSkip {
  const unreadable = (reason: string): SandboxSkip => ({ skip: 'spec-unreadable', reason });
  if (spec === null) return unreadable('no spec');
  if (spec.type_url !== OCI_SPEC_TYPE_URL) return unreadable(`spec type ${JSON.stringify(spec.type_url.slice(0, 200))} is not ${OCI_SPEC_TYPE_URL}`);
  if (spec.value.length > MAX_SPEC_BYTES) return unreadable(`spec of ${spec.value.length} bytes exceeds ${MAX_SPEC_BYTES}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(spec.value.buffer, spec.value.byteOffset, spec.value.byteLength).toString('utf8'));
  } catch (err) {
    return unreadable(`spec is not JSON: ${(err as Error).message}`);
  }
  return netnsFromSpec(parsed);
}

/**
 * `linux.namespaces[type=network].path` of a parsed OCI spec
 * (runtime-spec config-linux.md, "Namespaces"): undefined when there is no
 * network namespace entry or it has no path (runc would then make a new,
 * empty netns: not a pod's CNI netns either way).
 */
export function netnsFromSpec(spec: unknown): string | undefined | SandboxSkip {
  const unreadable = (reason: string): SandboxSkip => ({ skip: 'spec-unreadable', reason });
  if (!isObject(spec)) return unreadable('spec is not a JSON object');
  const linux = spec['linux'];
  if (linux === undefined || linux === null) return undefined;
  if (!isObject(linux)) return unreadable('spec.linux is not an object');
  const namespaces = linux['namespaces'];
  if (namespaces === undefined || namespaces === null) return undefined;
  if (!Array.isArray(namespaces)) return unreadable('spec.linux.namespaces is not an array');
  const network = namespaces.filter((n): n is Record<string, unknown> => isObject(n) && n['type'] === 'network');
  if (network.length > 1) return unreadable('spec.linux.namespaces has more than one network entry');
  const path = network[0]?.['path'];
  if (path === undefined || path === '') return undefined;
  if (typeof path !== 'string') return unreadable('spec.linux.namespaces[type=network].path is not a string');
  if (!path.startsWith('/')) return unreadable(`network namespace path ${JSON.stringify(path.slice(0, 200))} is not absolute`);
  return path;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
