/**
 * Who may scrape the daemon's /metrics (`netclaim run --metrics-auth`;
 * docs/observability.md, "Secure scraping"): the scraper's bearer token is
 * authenticated by the API server (TokenReview) and the user it names is
 * authorized for `get` on the non-resource URL /metrics (SubjectAccessReview)
 * — the check kube-rbac-proxy and controller-runtime's secure metrics make,
 * so a Prometheus set up for those works here: bind its service account to a
 * ClusterRole with `nonResourceURLs: ["/metrics"], verbs: ["get"]`.
 *
 * Answers are kept for `ttlMs` (default 60 s) by a hash of the token (never
 * the token itself), at most `maxEntries` of them, so a scrape every 15-30 s
 * costs two API calls a minute, not two per scrape; a token revoked or a
 * binding removed takes effect within that time. An API server that cannot
 * be asked gives 503 and is not remembered.
 */
import { createHash } from 'node:crypto';
import type { V1SubjectAccessReview, V1TokenReview } from '@kubernetes/client-node';
import { errorText } from '../../common/errors.ts';
import type { ScrapeAuthorizer, ScrapeDecision } from '../../observe/http-server.ts';
import type { KubeApi } from './kube-api.ts';
import { DEFAULT_KUBE_TIMEOUT_MS } from './kube-deadline.ts';

export interface KubeScrapeAuthOptions {
  readonly kubeConfig: KubeApi;
  /** The non-resource URL the SubjectAccessReview asks about (default /metrics). */
  readonly path?: string;
  readonly ttlMs?: number;
  readonly maxEntries?: number;
  readonly timeoutMs?: number;
}

export function kubeScrapeAuthorizer(o: KubeScrapeAuthOptions): ScrapeAuthorizer {
  const api = o.kubeConfig;
  const path = o.path ?? '/metrics';
  const ttlMs = o.ttlMs ?? 60_000;
  const maxEntries = o.maxEntries ?? 256;
  const timeoutMs = o.timeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS;
  const cache = new Map<string, { readonly at: number; readonly decision: ScrapeDecision }>();

  const decide = async (token: string): Promise<ScrapeDecision> => {
    let review: V1TokenReview;
    try {
      review = await api.request<V1TokenReview>({
        method: 'POST', path: '/apis/authentication.k8s.io/v1/tokenreviews', timeoutMs,
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
      });
    } catch (err) {
      return { allowed: false, status: 503, reason: `cannot authenticate the token: TokenReview failed: ${errorText(err)}` };
    }
    const user = review.status?.user;
    const username = user?.username;
    if (review.status?.authenticated !== true || user === undefined || username === undefined) {
      return { allowed: false, status: 401, reason: `the token is not valid${review.status?.error ? `: ${review.status.error}` : ''}` };
    }
    let access: V1SubjectAccessReview;
    try {
      access = await api.request<V1SubjectAccessReview>({ method: 'POST', path: '/apis/authorization.k8s.io/v1/subjectaccessreviews', timeoutMs, body: {
        apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
        spec: {
          user: username,
          ...(user.uid === undefined ? {} : { uid: user.uid }),
          ...(user.groups === undefined ? {} : { groups: user.groups }),
          ...(user.extra === undefined ? {} : { extra: user.extra }),
          nonResourceAttributes: { path, verb: 'get' },
        },
      } });
    } catch (err) {
      return { allowed: false, status: 503, reason: `cannot authorize ${username}: SubjectAccessReview failed: ${errorText(err)}` };
    }
    return access.status?.allowed === true
      ? { allowed: true }
      : { allowed: false, status: 403, reason: `${username} may not get ${path}${access.status?.reason ? `: ${access.status.reason}` : ''}` };
  };

  return async (token) => {
    if (token === undefined || token === '') return { allowed: false, status: 401, reason: `a bearer token is needed to read ${path}` };
    const key = createHash('sha256').update(token).digest('hex');
    const now = Date.now();
    const hit = cache.get(key);
    if (hit && now - hit.at <= ttlMs) return hit.decision;
    const decision = await decide(token);
    if (decision.allowed || decision.status !== 503) {
      cache.delete(key);
      cache.set(key, { at: now, decision });
      // Oldest first (insertion order): a flood of made-up tokens cannot grow the map.
      for (const k of cache.keys()) { if (cache.size <= maxEntries) break; cache.delete(k); }
    }
    return decision;
  };
}
