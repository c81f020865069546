/**
 * The limits `netclaim validate` puts on what it reads, so that no file can
 * take it down or make it use memory out of proportion (docs/cli.md, "Limits"):
 *
 * - 1 MiB per file (or stdin), checked before decoding. Memory is the reason:
 *   the YAML library's document model costs up to about 120 bytes of
 *   transient memory per byte of dense YAML (1 MiB of ResourceClaims peaks near
 *   200 MB of RSS, 8 MiB near 700 MB). Nothing netclaim checks comes close:
 *   a ResourceClaim, template or DeviceClass holds at most 32 configs of at
 *   most 10 KiB of parameters each. A larger List (`kubectl get -A -o yaml`
 *   of a big cluster) can be checked a namespace at a time.
 * - 100 levels of nesting. The deepest netclaim config sits about 10 levels
 *   down in a ResourceClaimTemplate, and Kubernetes objects rarely pass 30;
 *   the decoders and checkers recurse, and fail some thousands of levels down.
 * - 100,000 values stood for by YAML aliases per document: an alias (`*a`)
 *   stands for a copy of its anchor's value, and without a bound a few lines
 *   of aliases to aliases ("billion laughs") stand for billions.
 */
import { formatPath, type PathSegment } from '../../config/claim-config/nodes.ts';

export const MAX_INPUT_BYTES = 1024 * 1024;
export const MAX_NESTING = 100;
export const MAX_ALIAS_VALUES = 100_000;

/** A path built while walking, one link per level; text only when a problem is reported. */
export interface PathLink {
  readonly parent: PathLink | undefined;
  readonly segment: PathSegment;
}

export function childPath(parent: PathLink | undefined, segment: PathSegment): PathLink {
  return { parent, segment };
}

/** A key as a path segment: `name` when it reads as a field name, `[key]` otherwise. */
export function keySegment(key: string): PathSegment {
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? key : { key };
}

/** The path as text (`spec.devices.config[0]`); a path more than 12 levels deep is cut, with `…`. */
export function pathText(path: PathLink | undefined): string {
  const segments: PathSegment[] = [];
  for (let p = path; p !== undefined; p = p.parent) segments.push(p.segment);
  segments.reverse();
  return segments.length > 12 ? `${formatPath(segments.slice(0, 12))}…` : formatPath(segments);
}
