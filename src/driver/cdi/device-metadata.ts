/**
 * Device metadata for workloads (KEP-5304, "DRA Device Attributes Downward
 * API": alpha in Kubernetes 1.36, beta in 1.37), pure. What exists in 1.37 is
 * a driver-side contract, not a kubelet RPC field (k8s.io/kubelet v0.37.2's
 * dra/v1 NodePrepareResources has no metadata field): the driver writes one
 * JSON file per claim request and a CDI device that bind-mounts it read-only
 * into every container using the claim, at
 *
 *   /var/run/kubernetes.io/dra-device-attributes/resourceclaims/<claimName>/<requestName>/<driverName>-metadata.json
 *   /var/run/kubernetes.io/dra-device-attributes/resourceclaimtemplates/<podClaimName>/<requestName>/<driverName>-metadata.json
 *
 * (the second for claims made from a template: the pod spec's claim name,
 * from the claim's `resource.kubernetes.io/pod-claim-name` annotation). Facts
 * from k8s.io/dynamic-resource-allocation v0.37.2, api/metadata (doc.go,
 * types.go, v1beta1/types.go) and kubeletplugin/metadata.go.
 *
 * The file is a JSON stream: the same `DeviceMetadata` object once per API
 * version, newest first (`metadata.resource.k8s.io/v1beta1`, then `v1alpha1`
 * for 1.36 readers); a reader takes the first version it knows. Because the
 * runtime does the mount, it works on any cluster whose runtime applies CDI
 * mounts (containerd >= 1.7, CRI-O >= 1.23); the env variables below are the
 * fallback for workloads that do not read the file.
 */
import type { Attributes, AttributeValue } from '../../inventory/attributes/limits.ts';
import { DRIVER_NAME } from '../../common/driver.ts';
import type { CdiDevice, CdiSpec } from './cdi-types.ts';
import { minimumCdiVersion } from './cdi-version.ts';

export const METADATA_CONTAINER_DIR = '/var/run/kubernetes.io/dra-device-attributes';
export const METADATA_API_VERSIONS = ['metadata.resource.k8s.io/v1beta1', 'metadata.resource.k8s.io/v1alpha1'] as const;
export const METADATA_CDI_KIND = `${DRIVER_NAME}/metadata`;

export interface MetadataClaim {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  /** The pod spec's name for a claim made from a template. */
  readonly podClaimName?: string;
}

/** resource.k8s.io/v1 NetworkDeviceData, as ResourceClaim status has it. */
export interface MetadataNetworkData {
  readonly interfaceName?: string;
  readonly ips?: readonly string[];
  readonly hardwareAddress?: string;
}

export interface MetadataDevice {
  /** The claim's request (a `main/sub` sub-request counts as `main`). */
  readonly request: string;
  readonly pool: string;
  readonly device: string;
  readonly attributes: Readonly<Record<string, AttributeValue | { readonly strings: readonly string[] }>>;
  readonly networkData?: MetadataNetworkData;
}

/** One `DeviceMetadata` object (v1beta1 and v1alpha1 have the same shape). */
export interface DeviceMetadataObject {
  readonly kind: 'DeviceMetadata';
  readonly apiVersion: string;
  readonly metadata: { readonly name: string; readonly namespace: string; readonly uid: string; readonly generation: number };
  readonly podClaimName?: string;
  readonly requests: readonly { readonly name: string; readonly devices: readonly { driver: string; pool: string; name: string; attributes?: MetadataDevice['attributes']; networkData?: MetadataNetworkData }[] }[];
}

export const baseRequest = (request: string): string => request.split('/')[0]!;

/** Where the file appears in the container. */
export function metadataContainerPath(claim: MetadataClaim, request: string): string {
  return claim.podClaimName !== undefined && claim.podClaimName !== ''
    ? `${METADATA_CONTAINER_DIR}/resourceclaimtemplates/${claim.podClaimName}/${request}/${DRIVER_NAME}-metadata.json`
    : `${METADATA_CONTAINER_DIR}/resourceclaims/${claim.name}/${request}/${DRIVER_NAME}-metadata.json`;
}

/** The file's bytes: one object per API version, newest first, newline-separated. */
export function encodeMetadataStream(claim: MetadataClaim, request: string, devices: readonly MetadataDevice[], generation: number): string {
  return METADATA_API_VERSIONS.map((apiVersion) => JSON.stringify(metadataObject(claim, request, devices, generation, apiVersion))).join('\n') + '\n';
}

export function metadataObject(claim: MetadataClaim, request: string, devices: readonly MetadataDevice[], generation: number, apiVersion: string): DeviceMetadataObject {
  return {
    kind: 'DeviceMetadata', apiVersion,
    metadata: { name: claim.name, namespace: claim.namespace, uid: claim.uid, generation },
    ...(claim.podClaimName === undefined ? {} : { podClaimName: claim.podClaimName }),
    requests: [{
      name: request,
      devices: devices.map((d) => ({
        driver: DRIVER_NAME, pool: d.pool, name: d.device,
        ...(Object.keys(d.attributes).length === 0 ? {} : { attributes: d.attributes }),
        ...(d.networkData === undefined ? {} : { networkData: d.networkData }),
      })),
    }],
  };
}

/** The first object of a stream written by encodeMetadataStream (the newest version). */
export function decodeMetadataStream(text: string): DeviceMetadataObject {
  return JSON.parse(text.split('\n')[0]!) as DeviceMetadataObject;
}

/**
 * Whether a metadata file's text is whole: one JSON object per line for each
 * of METADATA_API_VERSIONS, in that order, ending with a newline. What a
 * power loss or a torn in-place write leaves (empty, cut at any byte) is not.
 */
export function isWholeMetadataStream(text: string): boolean {
  if (!text.endsWith('\n')) return false;
  const lines = text.slice(0, -1).split('\n');
  if (lines.length !== METADATA_API_VERSIONS.length) return false;
  return lines.every((line, i) => {
    try {
      const o = JSON.parse(line) as Partial<DeviceMetadataObject> | null;
      return o !== null && typeof o === 'object' && o.apiVersion === METADATA_API_VERSIONS[i];
    } catch {
      return false;
    }
  });
}

export interface MetadataPlan {
  /** Per request: the host file, its container path and its bytes. */
  readonly files: readonly { readonly request: string; readonly hostPath: string; readonly containerPath: string; readonly content: string }[];
  readonly spec: CdiSpec;
  /** Per device: the CDI id of its request's metadata device. */
  readonly deviceIds: ReadonlyMap<string, string>;
}

/** The CDI device name for one request of a claim: `<claimUid>_<request>` (as the upstream helper names it). */
export const metadataCdiDeviceName = (claimUid: string, request: string): string => `${claimUid}_${request}`;

/**
 * Files and CDI spec for a claim: one file and one CDI device per request.
 * `hostFile(request)` says where the file lives on the node. The CDI device
 * also carries the env fallback (metadata-env.ts), which must fit in one
 * container with the claim's other devices: names are per request.
 */
export function planDeviceMetadata(
  claim: MetadataClaim, devices: readonly MetadataDevice[], hostFile: (request: string) => string,
  env: (request: string, devices: readonly MetadataDevice[], containerPath: string) => readonly string[],
): MetadataPlan {
  const byRequest = new Map<string, MetadataDevice[]>();
  for (const d of devices) {
    const r = baseRequest(d.request);
    byRequest.set(r, [...(byRequest.get(r) ?? []), d]);
  }
  const files: MetadataPlan['files'][number][] = [];
  const cdiDevices: CdiDevice[] = [];
  const deviceIds = new Map<string, string>();
  for (const [request, ds] of byRequest) {
    const hostPath = hostFile(request);
    const containerPath = metadataContainerPath(claim, request);
    files.push({ request, hostPath, containerPath, content: encodeMetadataStream(claim, request, ds, 1) });
    const name = metadataCdiDeviceName(claim.uid, request);
    cdiDevices.push({ name, containerEdits: { env: [...env(request, ds, containerPath)], mounts: [{ hostPath, containerPath, options: ['ro', 'bind'] }] } });
    for (const d of ds) deviceIds.set(d.device, `${METADATA_CDI_KIND}=${name}`);
  }
  const draft: CdiSpec = { cdiVersion: '0.3.0', kind: METADATA_CDI_KIND, devices: cdiDevices };
  return { files, spec: { ...draft, cdiVersion: minimumCdiVersion(draft) }, deviceIds };
}

/** Attributes for the file: the device's published ones plus what only a container needs (its char devices). */
export function metadataAttributes(published: Attributes, charDevices: readonly string[]): MetadataDevice['attributes'] {
  return { ...published, ...(charDevices.length === 0 ? {} : { [`${DRIVER_NAME}/charDevices`]: { strings: [...charDevices] } }) };
}
