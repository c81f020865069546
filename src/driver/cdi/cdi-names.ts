/**
 * CDI names for netclaim's per-claim specs, and the CDI syntax rules they
 * follow (api/producer/identifiers.go):
 * - kind `vendor/class`: each part starts with a letter, ends with a letter
 *   or digit, and has letters, digits, `-`, `_`, `.` in between;
 * - device name: starts and ends with a letter or digit, `-`, `_`, `.` in
 *   between (newer CDI libraries also allow `:`; netclaim neither writes nor
 *   accepts it, so older runtimes parse every name);
 * - fully qualified device id `vendor/class=name`;
 * - transient spec file `vendor-class_<id>` (GenerateTransientSpecName).
 */
import { DRIVER_NAME } from '../../common/driver.ts';
import { isValidClaimUid } from '../state/claim-record.ts';

export const CDI_VENDOR = DRIVER_NAME;
export const CDI_CLASS = 'net';
export const CDI_KIND = `${CDI_VENDOR}/${CDI_CLASS}`;

const SPEC_PREFIX = `${CDI_VENDOR}-${CDI_CLASS}_`;
const SPEC_SUFFIX = '.json';

const VENDOR_OR_CLASS = /^[A-Za-z](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$/;
const DEVICE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$/;

/** The CDI device name of one allocated device: `<claimUid>-<device>`, unique per claim so a cached spec is never reused for another. */
export function cdiDeviceName(claimUid: string, device: string): string {
  return `${claimUid}-${device}`;
}

/** The fully qualified CDI device id the kubelet passes to the runtime: `netclaim.dev/net=<claimUid>-<device>`. */
export function cdiDeviceId(claimUid: string, device: string): string {
  return `${CDI_KIND}=${cdiDeviceName(claimUid, device)}`;
}

/** `netclaim.dev-net_<claimUid>.json`. */
export function claimCdiSpecFileName(claimUid: string): string {
  return SPEC_PREFIX + claimUid + SPEC_SUFFIX;
}

/** The claim UID a spec file of ours is named after, or undefined for any other file. */
export function claimUidOfCdiSpecFile(name: string): string | undefined {
  if (!name.startsWith(SPEC_PREFIX) || !name.endsWith(SPEC_SUFFIX)) return undefined;
  const uid = name.slice(SPEC_PREFIX.length, -SPEC_SUFFIX.length);
  return isValidClaimUid(uid) ? uid : undefined;
}

/** Why `name` is not a valid CDI device name, or undefined. */
export function cdiDeviceNameProblem(name: string): string | undefined {
  return DEVICE_NAME.test(name)
    ? undefined
    : `CDI device name ${JSON.stringify(name)} must start and end with a letter or digit and contain only letters, digits, "-", "_" and "."`;
}

/** Why `kind` is not a valid CDI `vendor/class`, or undefined. */
export function cdiKindProblem(kind: string): string | undefined {
  const slash = kind.indexOf('/');
  if (slash <= 0 || slash === kind.length - 1) return `CDI kind ${JSON.stringify(kind)} is not vendor/class`;
  for (const part of [kind.slice(0, slash), kind.slice(slash + 1)]) {
    if (!VENDOR_OR_CLASS.test(part)) {
      return `CDI kind ${JSON.stringify(kind)}: ${JSON.stringify(part)} must start with a letter, end with a letter or digit, and contain only letters, digits, "-", "_" and "."`;
    }
  }
  return undefined;
}
