/**
 * The DRAPlugin service (v1 and v1beta1 on the same handlers): request
 * validation and the translation between the wire messages and the driver
 * port. Error mapping follows the kubelet's rules (protocols.md §2.3): a gRPC
 * error fails the whole batch, so it is used only for malformed requests;
 * every driver failure becomes the `error` string of the claims it affects.
 */
import { errorText } from '../../common/errors.ts';
import type { ClaimUid } from '../../common/ids.ts';
import type { CallSerializer } from './call-serializer.ts';
import { GrpcStatus, GrpcStatusError } from './grpc-frames.ts';
import type { ServiceImplementation, UnaryHandler } from './grpc-server.ts';
import type { ClaimRef, DriverPort, PreparedDevice, PrepareResult, UnprepareResult } from '../../driver/driver-port.ts';
import type { WireClaimsRequest, WireDevice, WirePrepareResponse, WireUnprepareResponse } from './protos.ts';

export type DraVersion = 'v1' | 'v1beta1';

/** The claims of a request, or why the request is malformed. */
export function decodeClaims(req: WireClaimsRequest): ClaimRef[] | string {
  const byUid = new Map<string, ClaimRef>();
  for (const [i, c] of (req.claims ?? []).entries()) {
    for (const field of ['namespace', 'uid', 'name'] as const) {
      if (!c[field]) return `claims[${i}].${field} is required`;
    }
    const seen = byUid.get(c.uid);
    // The same claim twice is harmless (answered once); one uid naming two claims is not.
    if (seen && (seen.namespace !== c.namespace || seen.name !== c.name)) {
      return `claims[${i}]: uid ${c.uid} names both ${seen.namespace}/${seen.name} and ${c.namespace}/${c.name}`;
    }
    byUid.set(c.uid, { namespace: c.namespace, uid: c.uid as ClaimUid, name: c.name });
  }
  return [...byUid.values()];
}

function encodeDevice(d: PreparedDevice, version: DraVersion): WireDevice {
  const wire: WireDevice = {
    // The kubelet matches request_names against the pod's main request names.
    request_names: d.requestNames.map((r) => r.split('/')[0]),
    pool_name: d.poolName,
    device_name: d.deviceName,
    cdi_device_ids: [...d.cdiDeviceIds],
  };
  // v1beta1 has no share_id field; a kubelet speaking it cannot use one.
  if (version === 'v1' && d.shareId !== undefined) wire.share_id = d.shareId;
  return wire;
}

/** One entry per requested claim, exactly: the kubelet rejects missing and unknown keys. */
export function encodePrepareResponse(claims: readonly ClaimRef[], results: ReadonlyMap<ClaimUid, PrepareResult>, version: DraVersion): WirePrepareResponse {
  const out: WirePrepareResponse = { claims: {} };
  for (const c of claims) {
    const r = results.get(c.uid);
    if (r === undefined) out.claims[c.uid] = { devices: [], error: `driver returned no result for claim ${c.namespace}/${c.name}` };
    else if ('error' in r) out.claims[c.uid] = { devices: [], error: r.error || 'prepare failed' };
    else out.claims[c.uid] = { devices: r.devices.map((d) => encodeDevice(d, version)), error: '' };
  }
  return out;
}

export function encodeUnprepareResponse(claims: readonly ClaimRef[], results: ReadonlyMap<ClaimUid, UnprepareResult>): WireUnprepareResponse {
  const out: WireUnprepareResponse = { claims: {} };
  for (const c of claims) {
    const r = results.get(c.uid);
    out.claims[c.uid] = { error: r === undefined ? `driver returned no result for claim ${c.namespace}/${c.name}` : r.error ?? '' };
  }
  return out;
}

function failAll<R>(claims: readonly ClaimRef[], err: unknown): Map<ClaimUid, R> {
  const error = errorText(err);
  return new Map(claims.map((c) => [c.uid, { error } as R]));
}

/**
 * Handles one call: decode, wait for the driver's start gate, run the driver
 * under the serializer, encode.
 * A driver that throws or a lock that fails fails only this call's claims.
 * The call's signal aborts when the kubelet cancels it (its 45 s timeout),
 * its grpc-timeout passes, or the server force-closes.
 */
function claimsHandler<Res, R>(
  driver: DriverPort,
  serializer: CallSerializer,
  invoke: (claims: readonly ClaimRef[]) => Promise<ReadonlyMap<ClaimUid, R>>,
  encode: (claims: readonly ClaimRef[], results: ReadonlyMap<ClaimUid, R>) => Res,
): UnaryHandler<WireClaimsRequest, Res> {
  return async (request, { signal }) => {
    const claims = decodeClaims(request);
    if (typeof claims === 'string') throw new GrpcStatusError(GrpcStatus.INVALID_ARGUMENT, claims);
    if (claims.length === 0) return encode(claims, new Map());
    // The driver's start gate first, outside the call lock (the pod hooks take that lock too).
    const results = await (driver.ready?.(signal) ?? Promise.resolve())
      .then(() => serializer.run(() => invoke(claims), signal))
      .catch((err: unknown) => failAll<R>(claims, err));
    if (signal.aborted) throw new GrpcStatusError(GrpcStatus.CANCELLED, 'cancelled by the client');
    return encode(claims, results);
  };
}

/** Handlers for `k8s.io.kubelet.pkg.apis.dra.<version>.DRAPlugin`. */
export function draPluginHandlers(driver: DriverPort, serializer: CallSerializer, version: DraVersion): ServiceImplementation {
  return {
    NodePrepareResources: claimsHandler<WirePrepareResponse, PrepareResult>(driver, serializer,
      (claims) => driver.prepare(claims),
      (claims, results) => encodePrepareResponse(claims, results, version)),
    NodeUnprepareResources: claimsHandler<WireUnprepareResponse, UnprepareResult>(driver, serializer,
      (claims) => driver.unprepare(claims),
      encodeUnprepareResponse),
  };
}
