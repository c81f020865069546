/**
 * A device with an RDMA device but no netdev (an InfiniBand-only HCA port)
 * has no interface to configure: a config for one may only say how RDMA is
 * handled. DraNet's ValidateRDMAOnlyConfig lets `vrf` and `forwarding` (and
 * `profile`) through although nothing can apply them; here only `rdma` and
 * the type fields are allowed. The planner calls this once it knows the
 * device has no netdev.
 */
import type { ConfigIssue } from './issues.ts';
import type { NetworkConfig } from './types.ts';

const ALLOWED = new Set<string>(['apiVersion', 'kind', 'rdma']);

export function rdmaOnlyProblems(c: NetworkConfig): ConfigIssue[] {
  return Object.keys(c)
    .filter((k) => !ALLOWED.has(k) && !isEmpty((c as Record<string, unknown>)[k]))
    .map((k) => ({ path: k, message: 'not allowed for an RDMA-only device (it has no network interface); only rdma settings apply' }));
}

/** Nothing to apply: absent, empty, `false` (the defaults of `dhcp` and `disableEbpfPrograms`), or made only of those. */
const isEmpty = (v: unknown): boolean =>
  v === undefined || v === false || (Array.isArray(v) && v.length === 0)
  || (typeof v === 'object' && v !== null && Object.values(v).every(isEmpty));
