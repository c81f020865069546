/**
 * The e2e bench's per-pod timeline: what the kubelet, containerd and netclaim
 * logged about one pod, as milliseconds from the moment the bench created it,
 * so the whole path from create to Ready is visible and the claim's extra time
 * can be placed in it.
 *
 * Sources (all on this machine's clock; the node shares it):
 *  - kubelet.log (klog, --v=2): `"SyncLoop ADD" ... pods=["ns/name"]` — the pod
 *    reached the kubelet (created, claim made from its template, scheduled);
 *    `"SyncLoop DELETE"` the same for the deletion.
 *  - containerd.log (logrus): `RunPodSandbox for name:"X" ...` and its
 *    `... returns sandbox id "S"` (CNI and NRI RunPodSandbox inside), `CreateContainer
 *    within sandbox "S"`, `StartContainer for "C" returns successfully`,
 *    `StopPodSandbox for "S"` and its `returns successfully`.
 *  - netclaim's log (pino JSON): `claim prepared` (ms, steps) for the pod UID,
 *    `nri run|create|stop|remove` and `early attach` (ms, steps; `hook` says which) for
 *    `ns/name`, `claim unprepared`.
 */

export interface NetclaimCall {
  /** When it ended (ms from the pod's create). */
  readonly endMs: number;
  readonly ms: number;
  readonly steps: Readonly<Record<string, number>>;
}

export interface PodTimeline {
  /** The kubelet saw the pod (SyncLoop ADD). */
  kubeletAddMs?: number;
  sandboxStartMs?: number;
  sandboxEndMs?: number;
  containerCreateMs?: number;
  containerStartedMs?: number;
  prepare?: NetclaimCall;
  /** The early attach (the runtime reported the sandbox ahead of RunPodSandbox; docs/pods.md "Early attach"). */
  early?: NetclaimCall;
  run?: NetclaimCall;
  create?: NetclaimCall;
  /** The container gate at StartContainer (`--container-gate start`). */
  start?: NetclaimCall;
  /** From the deletion request (ms from it). */
  kubeletDeleteMs?: number;
  stopSandboxStartMs?: number;
  stopSandboxEndMs?: number;
  stop?: NetclaimCall;
  unpreparedMs?: number;
}

/** klog's `I1204 23:16:07.648918` (no year, local time): epoch ms, the year taken from `near`. */
export function klogTime(line: string, near: number): number | undefined {
  const m = /^[IWEF](\d\d)(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{6})/.exec(line);
  if (m === null) return undefined;
  const year = new Date(near).getFullYear();
  const [mo, d, h, mi, s, us] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  return new Date(year, mo - 1, d, h, mi, s).getTime() + us / 1000;
}

/** logrus's `time="2026-12-04T23:16:07.747079794Z"`: epoch ms (to the µs). */
export function logrusTime(line: string): number | undefined {
  const m = /^time="([^".]+)\.(\d+)Z"/.exec(line);
  if (m === null) return undefined;
  return Date.parse(`${m[1]!}Z`) + Number(`0.${m[2]!}`) * 1000;
}

interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** Epoch ms of the create request. */
  readonly createdAt: number;
  /** Epoch ms of the delete request. */
  readonly deletedAt?: number;
}

/** The timeline of one pod from the three logs (missing entries stay undefined). */
export function podTimeline(pod: PodRef, logs: { kubelet: string; containerd: string; netclaim: string }): PodTimeline {
  const t: PodTimeline = {};
  const rel = (at: number): number => round(at - pod.createdAt);
  const relDel = (at: number): number => round(at - (pod.deletedAt ?? NaN));
  const full = `${pod.namespace}/${pod.name}`;
  for (const line of logs.kubelet.split('\n')) {
    if (!line.includes(`"${full}"`)) continue;
    const at = klogTime(line, pod.createdAt);
    if (at === undefined) continue;
    if (line.includes('"SyncLoop ADD"') && t.kubeletAddMs === undefined) t.kubeletAddMs = rel(at);
    if (line.includes('"SyncLoop DELETE"') && t.kubeletDeleteMs === undefined && pod.deletedAt !== undefined) t.kubeletDeleteMs = relDel(at);
  }
  let sandbox: string | undefined;
  let container: string | undefined;
  for (const line of logs.containerd.split('\n')) {
    const at = logrusTime(line);
    if (at === undefined) continue;
    if (line.includes(`RunPodSandbox for name:\\"${pod.name}\\" uid:\\"${pod.uid}\\"`)) {
      const ret = /returns sandbox id \\"([0-9a-f]+)\\"/.exec(line);
      if (ret !== null) {
        sandbox = ret[1];
        t.sandboxEndMs = rel(at);
      } else if (t.sandboxStartMs === undefined) t.sandboxStartMs = rel(at);
      continue;
    }
    if (sandbox === undefined) continue;
    if (line.includes(`CreateContainer within sandbox \\"${sandbox}\\"`)) {
      const ret = /returns container id \\"([0-9a-f]+)\\"/.exec(line);
      if (ret !== null) container = ret[1];
      else if (t.containerCreateMs === undefined) t.containerCreateMs = rel(at);
    } else if (container !== undefined && line.includes(`StartContainer for \\"${container}\\" returns successfully`)) {
      t.containerStartedMs = rel(at);
    } else if (pod.deletedAt !== undefined && line.includes(`StopPodSandbox for \\"${sandbox}\\"`)) {
      if (line.includes('returns successfully')) t.stopSandboxEndMs ??= relDel(at);
      else t.stopSandboxStartMs ??= relDel(at);
    }
  }
  for (const line of logs.netclaim.split('\n')) {
    if (!line.startsWith('{')) continue;
    let e: { time?: string; msg?: string; ms?: number; steps?: Record<string, number>; podUid?: string; pod?: string; hook?: string; claim?: { uid?: string } };
    try {
      e = JSON.parse(line) as typeof e;
    } catch {
      continue;
    }
    const at = Date.parse(e.time ?? '');
    if (Number.isNaN(at)) continue;
    const call = (): NetclaimCall => ({ endMs: rel(at), ms: e.ms ?? NaN, steps: e.steps ?? {} });
    if (e.msg === 'claim prepared' && e.podUid === pod.uid) t.prepare = call();
    else if (e.pod === full && e.hook === 'early') t.early = call();
    else if (e.pod === full && e.hook === 'run') t.run = call();
    else if (e.pod === full && e.hook === 'create') t.create = call();
    else if (e.pod === full && e.hook === 'start') t.start = call();
    else if (e.pod === full && e.hook === 'stop' && pod.deletedAt !== undefined) t.stop = { ...call(), endMs: relDel(at) };
  }
  return t;
}

/**
 * The pod's path in segments (ms), each from one stamp to the next; a segment
 * whose stamps are missing is left out.
 *   toKubelet        create → the kubelet has it (claim from template, scheduling, binding)
 *   kubeletToSandbox → containerd's RunPodSandbox starts (NodePrepareResources in it)
 *   runPodSandbox    RunPodSandbox (netns, CNI, NRI RunPodSandbox hooks)
 *   toContainer      → CreateContainer starts
 *   container        CreateContainer + StartContainer (NRI CreateContainer hooks in it)
 *   toReady          StartContainer returned → Ready seen by the API server (PLEG, status)
 */
export function segments(t: PodTimeline, readyMs: number): Record<string, number> {
  const stamps: Array<[string, number | undefined]> = [
    ['toKubelet', t.kubeletAddMs], ['kubeletToSandbox', t.sandboxStartMs], ['runPodSandbox', t.sandboxEndMs],
    ['toContainer', t.containerCreateMs], ['container', t.containerStartedMs], ['toReady', readyMs],
  ];
  const out: Record<string, number> = {};
  let last = 0;
  for (const [name, at] of stamps) {
    if (at === undefined) continue;
    out[name] = round(at - last);
    last = at;
  }
  return out;
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

/** Go's time.Duration text (`9.814µs`, `35.895104ms`, `1.2s`, `1m2.5s`) in ms; undefined when it is not one. */
export function goDurationMs(s: string): number | undefined {
  const unit: Record<string, number> = { ns: 1e-6, 'µs': 1e-3, us: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let ms = 0;
  let rest = s;
  while (rest !== '') {
    const m = /^(\d+(?:\.\d+)?)(ns|µs|us|ms|s|m|h)/.exec(rest);
    if (m === null) return undefined;
    ms += Number(m[1]) * unit[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return s === '' ? undefined : ms;
}

/**
 * A klog-logging peer's own calls for one pod, where it logs their duration as dranet
 * does (`PrepareResourceClaim Claim ns/claim  took 1.35ms`, the claim named after the
 * pod by its template; `RunPodSandbox Pod ns/name UID … took 35.8ms`). Both are on the
 * pod's path: the kubelet waits for Prepare, containerd for the NRI hook.
 */
export function klogPeerCalls(log: string, pod: { namespace: string; name: string }): { prepareMs?: number; runPodSandboxMs?: number } {
  const out: { prepareMs?: number; runPodSandboxMs?: number } = {};
  const full = `${pod.namespace}/${pod.name}`;
  for (const line of log.split('\n')) {
    const took = /\btook (\S+)$/.exec(line.trimEnd());
    if (took === null) continue;
    const ms = goDurationMs(took[1]!);
    if (ms === undefined) continue;
    // Template claims are `<pod>-<claim>-<5 random>`.
    const claim = /PrepareResourceClaim Claim (\S+)/.exec(line)?.[1];
    if (claim !== undefined && claim.startsWith(`${full}-`) && /^[a-z0-9]+-[a-z0-9]{5}$/.test(claim.slice(full.length + 1))) out.prepareMs = (out.prepareMs ?? 0) + ms;
    if (line.includes(`RunPodSandbox Pod ${full} UID `)) out.runPodSandboxMs = ms;
  }
  return out;
}

/**
 * Prepare's time for one pod from the log of a driver built on the kubelet plugin helper
 * (k8s.io/dynamic-resource-allocation/kubeletplugin) at `-v=6`, which logs every gRPC call
 * as it comes and as it is answered, with one request ID (the floor, bench/e2e-peer.ts):
 *   I1205 05:33:10.390685  464 nonblockinggrpcserver.go:150] "handling request" logger="dra" requestID=6
 *     method="/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/NodePrepareResources" request="claims:{namespace:\"ns\" uid:\"…\" name:\"<claim>\"}"
 *   I1205 05:33:10.394890  464 nonblockinggrpcserver.go:161] "handling request succeeded" logger="dra" requestID=6 …
 * The call's time as the helper saw it: its claim GET and the driver's Prepare.
 */
export function klogGrpcCalls(log: string, pod: { namespace: string; name: string }): { prepareMs?: number } {
  const near = Date.now();
  const started = new Map<string, number>();
  let prepareMs: number | undefined;
  for (const line of log.split('\n')) {
    if (!line.includes('DRAPlugin/NodePrepareResources"')) continue;
    const id = /\brequestID=(\d+)/.exec(line)?.[1];
    const at = klogTime(line, near);
    if (id === undefined || at === undefined) continue;
    if (line.includes('"handling request" ')) {
      const ns = /namespace:\\"([^\\"]+)\\"/.exec(line)?.[1];
      // Template claims are `<pod>-<claim>-<5 random>`.
      const ours = [...line.matchAll(/\bname:\\"([^\\"]+)\\"/g)].some((m) => m[1]!.startsWith(`${pod.name}-`)
        && /^[a-z0-9]+-[a-z0-9]{5}$/.test(m[1]!.slice(pod.name.length + 1)));
      if (ns === pod.namespace && ours) started.set(id, at);
    } else if (line.includes('"handling request succeeded"') && started.has(id)) {
      prepareMs = (prepareMs ?? 0) + round(at - started.get(id)!);
    }
  }
  return prepareMs === undefined ? {} : { prepareMs };
}
