/**
 * Device metadata of one prepared claim (KEP-5304; cdi/device-metadata.ts
 * has the format, device-metadata-files.ts the files): from the planned
 * record, the claim (its template's pod claim name) and the inventory's
 * published attributes. Adds each device's metadata CDI id to its ids, so
 * the kubelet hands it to the runtime with the others.
 */
import type { Device } from '../inventory/model.ts';
import { metadataAttributes, planDeviceMetadata, type MetadataDevice } from './cdi/device-metadata.ts';
import { metadataEnv } from './cdi/metadata-env.ts';
import type { AllocatedClaim, ClaimStatusSink } from './claim.ts';
import { metadataFile, removeClaimMetadata, restoreClaimMetadata, sweepClaimMetadata, updateClaimMetadataNetwork, writeClaimMetadata, type MetadataDirs } from './device-metadata-files.ts';
import type { AttachedDevice, ClaimRecord, DevicePlan } from './record-model.ts';

export type { MetadataDirs } from './device-metadata-files.ts';

export function metadataDevice(d: DevicePlan, device: Device | undefined): MetadataDevice {
  const mac = d.pod?.mac ?? d.host?.mac;
  return {
    request: d.request, pool: d.pool, device: d.device,
    attributes: metadataAttributes(device?.attributes ?? {}, (d.rdma?.charDevices ?? []).map((c) => c.path)),
    ...(d.pod === undefined ? {} : {
      networkData: { interfaceName: d.pod.name, ...(d.pod.addresses.length === 0 ? {} : { ips: [...d.pod.addresses] }), ...(mac === undefined ? {} : { hardwareAddress: mac }) },
    }),
  };
}

/** Writes the claim's metadata (files and CDI spec) and returns the record with the metadata CDI ids added. */
export function withDeviceMetadata(record: ClaimRecord, claim: Pick<AllocatedClaim, 'podClaimName'>, device: (name: string) => Device | undefined, dirs: MetadataDirs): ClaimRecord {
  const uid = record.claim.uid;
  const plan = planDeviceMetadata(
    { ...record.claim, ...(claim.podClaimName === undefined ? {} : { podClaimName: claim.podClaimName }) },
    record.devices.map((d) => metadataDevice(d, device(d.device))),
    (request) => metadataFile(dirs.dir, uid, request),
    metadataEnv,
  );
  writeClaimMetadata(dirs, uid, plan);
  // What was written goes into the record, so a node reboot can write the same bytes again (claim-cdi-restore.ts).
  const metadata = { spec: plan.spec, files: plan.files.map((f) => ({ request: f.request, hostPath: f.hostPath, content: f.content })) };
  return { ...record, metadata, devices: record.devices.map((d) => ({ ...d, cdiDeviceIds: [...d.cdiDeviceIds, plan.deviceIds.get(d.device)!] })) };
}

export { removeClaimMetadata, restoreClaimMetadata, sweepClaimMetadata };

/**
 * A claim status sink that first puts the devices' network data as attached
 * into the claim's metadata files, before any container of the pod is
 * created: at devicesInPlace (the attach, before the container gate), or at
 * devicesReady when that did not come first with the same devices. A failure
 * there is reported, never fails the attach: the file keeps what Prepare
 * wrote.
 */
export function metadataStatusSink(inner: ClaimStatusSink | undefined, dir: string, onError: (err: unknown) => void): ClaimStatusSink {
  /** What devicesInPlace wrote, per claim, so the devicesReady that follows does not write it again. */
  const written = new Map<string, string>();
  const update = (record: ClaimRecord, devices: readonly AttachedDevice[]): void => {
    try {
      updateClaimMetadataNetwork(dir, record.claim.uid, devices);
    } catch (err) {
      onError(err);
    }
  };
  return {
    devicesInPlace(record, devices) {
      update(record, devices);
      written.set(record.claim.uid, JSON.stringify(devices));
    },
    devicesReady(record, devices) {
      const before = written.get(record.claim.uid);
      written.delete(record.claim.uid);
      if (before !== JSON.stringify(devices)) update(record, devices);
      inner?.devicesReady(record, devices);
    },
    devicesNotReady(record, message) {
      inner?.devicesNotReady(record, message);
    },
  };
}
