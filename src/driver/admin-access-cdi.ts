/**
 * The CDI spec of an admin claim (cdi/cdi-spec.ts builds it as for any
 * claim): one CDI device per admin device carrying its RDMA character
 * devices, or the environment alone when it has none, so every admin device
 * gets an id (the environment always names the devices, so there is always
 * a spec). Written before the record is stored, removed after it goes, as
 * for owners' claims (claim-driver.ts).
 */
import { buildClaimCdiSpec } from './cdi/cdi-spec.ts';
import { removeClaimCdiSpec, writeClaimCdiSpec } from './cdi/cdi-files.ts';
import type { AdminRecord } from './record-model.ts';

export function withAdminCdi(record: AdminRecord, cdiDir: string): AdminRecord {
  const built = buildClaimCdiSpec(record.claim.uid, record.access.map((d) => ({ device: d.device, charDevices: d.charDevices, env: d.env })));
  if (built === undefined) {
    removeClaimCdiSpec(cdiDir, record.claim.uid);
    return record;
  }
  const path = writeClaimCdiSpec(cdiDir, built);
  return { ...record, access: record.access.map((d) => ({ ...d, cdiDeviceIds: built.deviceIds.get(d.device) ?? [] })), cdiSpec: path };
}
