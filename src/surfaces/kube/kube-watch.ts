/**
 * A Kubernetes watch (`?watch=true`): the response is a stream of JSON
 * objects, one per line, `{"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR", "object": …}`.
 * The same contract as @kubernetes/client-node's Watch, which the informers
 * were written against:
 *
 *   const ac = await watchStream(api, path, { resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 25 },
 *     (type, obj) => …, (err) => …);   // rejects when the watch is refused (KubeResponseError: 410, 403, …)
 *   ac.abort();                          // ends it; `done` is not called for our own abort
 *
 * `done(null)` when the server ends the stream (its timeoutSeconds ran out),
 * `done(err)` when it fails: the connection drops, a line is not JSON, or no
 * byte (nor the response's head) came for `idleMs` (default 30 s, client-node's figure: a half-open
 * connection would otherwise hold a dead watch for ever; callers ask the
 * server for a shorter timeoutSeconds, so a healthy watch ends first).
 */
import { ProtocolError } from '../../common/errors.ts';
import { deadlineFor, KubeResponseError, type KubeApi } from './kube-api.ts';
import { connectionClosed } from './kube-h2.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR' | (string & {});

export interface WatchOptions {
  /** No byte for this long ends the watch with an error (ms, default 30 s). */
  readonly idleMs?: number;
}

/** Bytes of one event line at most (a ResourceSlice is ≤ 1.5 MiB; etcd's object limit is 1.5 MiB). */
const MAX_LINE = 16 * 1024 * 1024;

export async function watchStream(
  api: KubeApi, path: string, query: Readonly<Record<string, string | number | boolean | undefined>>,
  onEvent: (type: WatchEventType, obj: unknown) => void, done: (err: unknown) => void, o: WatchOptions = {},
): Promise<AbortController> {
  const idleMs = o.idleMs ?? 30_000;
  // The response's head has the same time to come as any byte after it.
  const head = deadlineFor(idleMs);
  const res = await api.open({ path, query: { ...query, watch: true } }, head).finally(() => head.clear());
  const status = res.status;
  if (status !== 200) {
    const chunks: Buffer[] = [];
    for await (const c of res.body) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown = text;
    try { body = JSON.parse(text); } catch { /* the text, then */ }
    throw new KubeResponseError('WATCH', path, status, body);
  }
  const ac = new AbortController();
  let finished = false;
  const finish = (err: unknown): void => {
    if (finished) return;
    finished = true;
    clearTimeout(idle);
    // A watch the server ended leaves its connection to be kept; one that failed or was aborted is cancelled.
    if (err !== null) res.cancel(err instanceof Error ? err : new Error(String(err)));
    else if (ac.signal.aborted) res.cancel();
    if (!ac.signal.aborted) done(err);
  };
  const idle = setTimeout(() => finish(new Error(`watch ${path}: no data for ${idleMs} ms`)), idleMs);
  ac.signal.addEventListener('abort', () => finish(null), { once: true });

  let pending = '';
  let ended = false;
  res.body.setEncoding('utf8');
  res.body.on('data', (chunk: string) => {
    idle.refresh();
    pending += chunk;
    if (pending.length > MAX_LINE) {
      finish(new ProtocolError(`watch ${path}: an event line is longer than ${MAX_LINE} bytes`));
      return;
    }
    let nl: number;
    while (!finished && (nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line === '') continue;
      let ev: { type?: unknown; object?: unknown };
      try {
        ev = JSON.parse(line) as typeof ev;
      } catch (err) {
        finish(new ProtocolError(`watch ${path}: an event is not JSON`, { cause: err }));
        return;
      }
      onEvent(String(ev.type) as WatchEventType, ev.object);
    }
  });
  res.body.on('end', () => {
    ended = true;
    finish(null);
  });
  res.body.on('error', (err: Error) => finish(err));
  res.body.on('close', () => finish(ended ? null : res.body.errored ?? connectionClosed(`watch ${path}: the connection closed`)));
  return ac;
}
