/**
 * What a claim config may say for an adminAccess request (KEP-5018): an
 * admin claim looks at a device another pod may hold and never changes it
 * (docs/claims.md, "Admin access"), so its config may only choose what its
 * own pod gets (`rdma`). Prepare refuses anything else
 * (PREPARE_ADMIN_ACCESS_CONFIG, driver/admin-access.ts); `netclaim validate`
 * and the admission webhook say so when the claim is written (documents.ts).
 */
import type { ConfigIssue } from './issues.ts';

/** Top-level config fields an admin claim may set: they choose what its pod gets, not what the device is. */
export const ADMIN_CONFIG_FIELDS: readonly string[] = ['apiVersion', 'kind', 'rdma'];

export const ADMIN_CONFIG_MESSAGE = 'an adminAccess request may not change a device it does not own: only rdma (what its pod gets) may be set';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The paths (`PREFIX.field` or `PREFIX.field.sub`) of what `parameters` sets beyond ADMIN_CONFIG_FIELDS. */
export function adminDeniedPaths(parameters: unknown, prefix: string): string[] {
  if (!isObject(parameters)) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(parameters)) {
    if (ADMIN_CONFIG_FIELDS.includes(k)) continue;
    const subs = isObject(v) ? Object.keys(v) : [];
    out.push(...(subs.length === 0 ? [`${prefix}.${k}`] : subs.map((s) => `${prefix}.${k}.${s}`)));
  }
  return out;
}

export const adminDeniedIssues = (parameters: unknown, prefix: string): ConfigIssue[] =>
  adminDeniedPaths(parameters, prefix).map((path) => ({ path, message: ADMIN_CONFIG_MESSAGE }));
