/**
 * The lowest `cdiVersion` a spec's content needs. Runtimes refuse a version
 * they do not know and a declared version below what the fields need
 * (specs-go/version.go `ValidateVersion`), and containerd 1.7/2.0 know only
 * up to 0.8.0, 2.1/2.2 up to 1.0.0: so netclaim writes the minimum, which for
 * its device nodes and env is 0.3.0, or 0.5.0 when a device name starts with
 * a digit (most claim UIDs do).
 *
 * The rules are those of specs-go/version.go `requiresV*` (CDI 1.1.0):
 * 0.8.0 and 1.0.0 added no fields, so nothing requires them.
 */
import type { CdiContainerEdits, CdiSpec } from './cdi-types.ts';

/** Every released spec version, oldest first. */
export const CDI_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.4.0', '0.5.0', '0.6.0', '0.7.0', '0.8.0', '1.0.0', '1.1.0'] as const;
export type CdiVersion = (typeof CDI_VERSIONS)[number];

/** The earliest version the CDI library still accepts. */
export const CDI_EARLIEST: CdiVersion = '0.3.0';

/** Newest first: the first rule that matches gives the minimum. */
const RULES: readonly { readonly version: CdiVersion; readonly requires: (spec: CdiSpec) => boolean }[] = [
  { version: '1.1.0', requires: (s) => anyEdits(s, (e) => nonEmpty(e.netDevices) || e.intelRdt?.schemata !== undefined || e.intelRdt?.enableMonitoring === true) },
  { version: '0.7.0', requires: (s) => anyEdits(s, (e) => e.intelRdt !== undefined || nonEmpty(e.additionalGids)) },
  {
    version: '0.6.0',
    requires: (s) => hasKeys(s.annotations) || s.devices.some((d) => hasKeys(d.annotations)) || classOf(s.kind).includes('.'),
  },
  {
    version: '0.5.0',
    requires: (s) => s.devices.some((d) => /^[0-9]/.test(d.name)) || anyEdits(s, (e) => e.deviceNodes?.some((n) => !!n.hostPath) === true),
  },
  { version: '0.4.0', requires: (s) => anyEdits(s, (e) => e.mounts?.some((m) => !!m.type) === true) },
];

export function minimumCdiVersion(spec: CdiSpec): CdiVersion {
  for (const rule of RULES) if (rule.requires(spec)) return rule.version;
  return CDI_EARLIEST;
}

/** Compare two known versions: negative, zero or positive. */
export function compareCdiVersions(a: CdiVersion, b: CdiVersion): number {
  return CDI_VERSIONS.indexOf(a) - CDI_VERSIONS.indexOf(b);
}

export function isCdiVersion(v: string): v is CdiVersion {
  return (CDI_VERSIONS as readonly string[]).includes(v);
}

function anyEdits(spec: CdiSpec, test: (e: CdiContainerEdits) => boolean): boolean {
  return (spec.containerEdits !== undefined && test(spec.containerEdits)) || spec.devices.some((d) => test(d.containerEdits));
}

function nonEmpty(a: readonly unknown[] | undefined): boolean {
  return a !== undefined && a.length > 0;
}

function hasKeys(o: Readonly<Record<string, string>> | undefined): boolean {
  return o !== undefined && Object.keys(o).length > 0;
}

function classOf(kind: string): string {
  const slash = kind.indexOf('/');
  return slash > 0 ? kind.slice(slash + 1) : '';
}
