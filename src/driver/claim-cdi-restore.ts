/**
 * After a node reboot: the claim store (state dir, on disk) still has the
 * claims the kubelet prepared, but the CDI directory (/var/run/cdi, a tmpfs)
 * is empty. The kubelet re-prepares the claims of the pods it restarts and
 * gets the stored CDI ids back; without their specs the runtime refuses every
 * container ("unresolvable CDI devices") and the pod never starts.
 *
 * So each stored claim's specs (and device-metadata files) are written again
 * when the ClaimDriver starts and checked on each Prepare answered from the
 * store: rebuilt from the record alone (never re-planned from the inventory,
 * which may have changed), so they are the bytes the first Prepare wrote and
 * the ids in the record stay valid. The claim spec is a pure function of the
 * stored device plans (cdi/cdi-spec.ts); the metadata spec and files are
 * stored in the record as written (StoredMetadata). Before writing, the ids
 * the rebuilt specs give are checked against the record's: a mismatch writes
 * nothing and fails with CDI_WRITE_FAILED.
 */
import { existsSync } from 'node:fs';
import { DriverError } from '../common/errors.ts';
import { ensureClaimCdiSpec } from './cdi/cdi-files.ts';
import { CDI_KIND } from './cdi/cdi-names.ts';
import { buildClaimCdiSpec, type ClaimCdiSpec } from './cdi/cdi-spec.ts';
import { METADATA_CDI_KIND } from './cdi/device-metadata.ts';
import { metadataSpecPath, restoreClaimMetadata } from './device-metadata-files.ts';
import type { AdminRecord, ClaimRecord } from './record-model.ts';

/** The claim's CDI spec as withCdi (claim-driver.ts) built it: every device's plan carries the claim's merged env. */
export function storedClaimCdiSpec(record: ClaimRecord): ClaimCdiSpec | undefined {
  return buildClaimCdiSpec(record.claim.uid, record.devices.map((d) => ({ device: d.device, charDevices: d.rdma?.charDevices ?? [], env: d.env })));
}

/** The admin claim's CDI spec as withAdminCdi (admin-access-cdi.ts) built it. */
export function storedAdminCdiSpec(record: AdminRecord): ClaimCdiSpec | undefined {
  return buildClaimCdiSpec(record.claim.uid, record.access.map((d) => ({ device: d.device, charDevices: d.charDevices, env: d.env })));
}

/** Writes the stored claim's CDI spec and metadata where missing or different; returns the paths written. */
export function restoreClaimCdi(record: ClaimRecord, cdiDir: string): string[] {
  const uid = record.claim.uid;
  const built = storedClaimCdiSpec(record);
  const metaNames = new Set((record.metadata?.spec.devices ?? []).map((d) => `${METADATA_CDI_KIND}=${d.name}`));
  for (const d of record.devices) {
    checkIds(record, d.device, d.cdiDeviceIds, CDI_KIND, built?.deviceIds.get(d.device) ?? []);
    const meta = d.cdiDeviceIds.filter((id) => id.startsWith(`${METADATA_CDI_KIND}=`));
    if (record.metadata === undefined) {
      // A record from before the metadata was stored: nothing to write it from; say so rather than let the runtime refuse the pod.
      if (meta.length > 0 && !existsSync(metadataSpecPath(cdiDir, uid))) {
        throw mismatch(record, d.device, `its device-metadata CDI spec ${metadataSpecPath(cdiDir, uid)} is gone and the record (from an earlier version) does not hold it; delete the pod so the claim is prepared again`);
      }
    } else if (meta.some((id) => !metaNames.has(id))) {
      throw mismatch(record, d.device, `its metadata CDI ids ${meta.join(', ')} are not all in the stored metadata spec`);
    }
  }
  const written: string[] = [];
  const path = built === undefined ? undefined : ensureClaimCdiSpec(cdiDir, built);
  if (path !== undefined) written.push(path);
  if (record.metadata !== undefined) written.push(...restoreClaimMetadata(cdiDir, uid, record.metadata));
  return written;
}

/** As restoreClaimCdi, for an admin claim (no metadata). */
export function restoreAdminCdi(record: AdminRecord, cdiDir: string): string[] {
  const built = storedAdminCdiSpec(record);
  for (const d of record.access) checkIds(record, d.device, d.cdiDeviceIds, CDI_KIND, built?.deviceIds.get(d.device) ?? []);
  const path = built === undefined ? undefined : ensureClaimCdiSpec(cdiDir, built);
  return path === undefined ? [] : [path];
}

/** The record's ids of `kind` must be exactly those the rebuilt spec gives, or the spec written would not be the one answered. */
function checkIds(record: ClaimRecord | AdminRecord, device: string, ids: readonly string[], kind: string, rebuilt: readonly string[]): void {
  const stored = ids.filter((id) => id.startsWith(`${kind}=`));
  if (stored.length !== rebuilt.length || stored.some((id, i) => id !== rebuilt[i])) {
    throw mismatch(record, device, `its stored CDI ids [${stored.join(', ')}] are not those its stored plan gives [${rebuilt.join(', ')}]`);
  }
}

function mismatch(record: ClaimRecord | AdminRecord, device: string, why: string): DriverError {
  return new DriverError('CDI_WRITE_FAILED',
    `cannot restore the CDI spec of claim ${record.claim.namespace}/${record.claim.name} (device ${device}): ${why}`,
    { context: { claimUid: record.claim.uid, device } });
}
