/**
 * The CDI spec of an admin claim (cdi/cdi-spec.ts builds it as for any
 * claim): one CDI device per admin device carrying its RDMA character
 * devices, or the environment alone when it has none, so every admin device
 * gets an id (the environment always names the devices, so there is always
 * a spec). Written before the record is stored, removed after it goes, as
 * for owners' claims (claim-driver.ts).
 */
import { removeClaimCdiSpec, writeClaimCdiSpec } from './cdi/cdi-files.ts';
import { storedAdminCdiSpec } from './claim-cdi-restore.ts';
import type { AdminRecord } from './record-model.ts';

export function withAdminCdi(record: AdminRecord, cdiDir: string): AdminRecord {
  // The function a restart after a node reboot rebuilds it with (claim-cdi-restore.ts): the same bytes, the same ids.
  const built = storedAdminCdiSpec(record);
  if (built === undefined) {
    removeClaimCdiSpec(cdiDir, record.claim.uid);
    return record;
  }
  const path = writeClaimCdiSpec(cdiDir, built);
  return { ...record, access: record.access.map((d) => ({ ...d, cdiDeviceIds: built.deviceIds.get(d.device) ?? [] })), cdiSpec: path };
}
