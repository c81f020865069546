/**
 * Device metadata on the node (cdi/device-metadata.ts has the format): per
 * claim, `<dir>/<claimUid>/<request>/metadata.json` (dir: the kubelet plugin
 * directory's `metadata/`, a host path the runtime can bind-mount) and a CDI
 * spec `netclaim.dev-metadata_<claimUid>.json` beside the claim's own.
 *
 * Written at Prepare with what the plan knows (published attributes, the
 * interface name and addresses the config asks for), then once more when the
 * devices are in the pod (the interface's real name, MAC and addresses;
 * `generation` 2) — before any container of the pod is created, since the
 * attach hook runs at RunPodSandbox. That update writes in place (same
 * inode), so a container already holding the bind mount sees it too.
 *
 * None of these writes is fsynced: the claim's record holds the bytes
 * Prepare wrote and is durable, and restoreClaimMetadata writes back, at the
 * next start, a file that a power loss took or left empty or cut short, or
 * that a crash in the middle of the in-place update left torn. Two disk
 * flushes per file would otherwise sit on the pod's path at Prepare.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DriverError } from '../common/errors.ts';
import { DRIVER_NAME } from '../common/driver.ts';
import { removeFileDurable, replaceFile } from './state/atomic-file.ts';
import { isValidClaimUid } from './state/claim-record.ts';
import { fileHolds, serializeCdiSpec } from './cdi/cdi-files.ts';
import { cdiSpecProblems } from './cdi/cdi-validate.ts';
import { METADATA_API_VERSIONS, decodeMetadataStream, isWholeMetadataStream, type DeviceMetadataObject, type MetadataNetworkData, type MetadataPlan } from './cdi/device-metadata.ts';
import type { AttachedDevice, StoredMetadata } from './record-model.ts';

export interface MetadataDirs {
  /** Where the metadata files live on the node. */
  readonly dir: string;
  /** The runtime's CDI spec directory. */
  readonly cdiDir: string;
}

const metadataSpecFile = (claimUid: string): string => `${DRIVER_NAME}-metadata_${claimUid}.json`;

/** The claim's metadata CDI spec file in the runtime's CDI directory. */
export function metadataSpecPath(cdiDir: string, claimUid: string): string {
  return join(cdiDir, metadataSpecFile(claimUid));
}

export function metadataFile(dir: string, claimUid: string, request: string): string {
  return join(dir, claimUid, request, 'metadata.json');
}

/** Writes a claim's metadata files and CDI spec (replacing earlier ones). */
export function writeClaimMetadata(d: MetadataDirs, claimUid: string, plan: MetadataPlan): void {
  checkUid(claimUid);
  const problems = cdiSpecProblems(plan.spec);
  if (problems.length > 0) throw failed('write', claimUid, d.cdiDir, `the CDI spec would be refused by the runtime: ${problems.join('; ')}`);
  try {
    for (const f of plan.files) {
      mkdirSync(join(d.dir, claimUid, f.request), { recursive: true, mode: 0o755 });
      replaceFile(f.hostPath, f.content, 0o644);
    }
    mkdirSync(d.cdiDir, { recursive: true, mode: 0o755 });
    replaceFile(join(d.cdiDir, metadataSpecFile(claimUid)), serializeCdiSpec(plan.spec), 0o644);
  } catch (err) {
    throw failed('write', claimUid, d.dir, err);
  }
}

/**
 * Writes again what {@link writeClaimMetadata} wrote for a stored claim, where
 * it is gone or broken (a node reboot empties the CDI directory, a power loss
 * may leave an unsynced file empty or cut short; claim-cdi-restore.ts): the
 * CDI spec when missing or different; a file when missing, or when it does
 * not hold every API version's object whole. A whole file stays as it is: it
 * may hold the attach's later generation. A broken file is rewritten in
 * place (same inode: a container may hold it bind-mounted) with the stored
 * bytes, the first generation. Not fsynced, as at Prepare: what is lost
 * again is restored again at the next start from the record, which is
 * durable. Returns the paths written.
 */
export function restoreClaimMetadata(cdiDir: string, claimUid: string, stored: StoredMetadata): string[] {
  checkUid(claimUid);
  const problems = cdiSpecProblems(stored.spec);
  if (problems.length > 0) throw failed('restore', claimUid, cdiDir, `the stored CDI spec would be refused by the runtime: ${problems.join('; ')}`);
  const written: string[] = [];
  let at = cdiDir;
  try {
    for (const f of stored.files) {
      at = f.hostPath;
      const now = readIfThere(f.hostPath);
      if (now !== undefined && isWholeMetadataStream(now)) continue;
      if (now === undefined) {
        mkdirSync(dirname(f.hostPath), { recursive: true, mode: 0o755 });
        replaceFile(f.hostPath, f.content, 0o644);
      } else {
        writeFileSync(f.hostPath, f.content);
      }
      written.push(f.hostPath);
    }
    const spec = join(cdiDir, metadataSpecFile(claimUid));
    at = spec;
    const bytes = serializeCdiSpec(stored.spec);
    if (!fileHolds(spec, bytes)) {
      mkdirSync(cdiDir, { recursive: true, mode: 0o755 });
      replaceFile(spec, bytes, 0o644);
      written.push(spec);
    }
  } catch (err) {
    throw failed('restore', claimUid, at, err);
  }
  return written;
}

/** Removes a claim's metadata files and CDI spec; missing ones are fine. */
export function removeClaimMetadata(d: MetadataDirs, claimUid: string): void {
  checkUid(claimUid);
  try {
    removeFileDurable(join(d.cdiDir, metadataSpecFile(claimUid)));
    rmSync(join(d.dir, claimUid), { recursive: true, force: true });
  } catch (err) {
    throw failed('remove', claimUid, d.dir, err);
  }
}

/**
 * At start-up: removes the metadata of claims the store does not have (a
 * crash between writing it at Prepare and storing the record, or an
 * unprepare cut short). Returns the claim UIDs swept.
 */
export function sweepClaimMetadata(d: MetadataDirs, keep: ReadonlySet<string>): string[] {
  const found = new Set<string>();
  const prefix = `${DRIVER_NAME}-metadata_`;
  for (const name of listDir(d.cdiDir)) {
    if (name.startsWith(prefix) && name.endsWith('.json')) found.add(name.slice(prefix.length, -'.json'.length));
  }
  for (const name of listDir(d.dir)) found.add(name);
  const swept = [...found].filter((uid) => isValidClaimUid(uid) && !keep.has(uid)).sort();
  for (const uid of swept) removeClaimMetadata(d, uid);
  return swept;
}

/** The file's text, or undefined when there is no file to read. */
function readIfThere(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * The devices are in the pod: their network data as attached goes into every
 * request file of the claim that lists them (generation + 1). Returns the
 * files updated; a claim without files (metadata off when it was prepared)
 * updates none.
 */
export function updateClaimMetadataNetwork(dir: string, claimUid: string, attached: readonly AttachedDevice[]): string[] {
  checkUid(claimUid);
  const byDevice = new Map(attached.filter((a) => a.kind === undefined).map((a) => [a.device, networkDataOf(a)]));
  const updated: string[] = [];
  let requests: string[];
  try {
    requests = readdirSync(join(dir, claimUid));
  } catch {
    return [];
  }
  for (const request of requests) {
    const path = metadataFile(dir, claimUid, request);
    let first: DeviceMetadataObject;
    try {
      first = decodeMetadataStream(readFileSync(path, 'utf8'));
    } catch {
      continue;
    }
    const next = {
      ...first,
      metadata: { ...first.metadata, generation: first.metadata.generation + 1 },
      requests: first.requests.map((r) => ({ ...r, devices: r.devices.map((d) => (byDevice.has(d.name) ? { ...d, networkData: byDevice.get(d.name)! } : d)) })),
    };
    // In place (same inode): a bind mount of the file already made keeps seeing it.
    writeFileSync(path, METADATA_API_VERSIONS.map((apiVersion) => JSON.stringify({ ...next, apiVersion })).join('\n') + '\n');
    updated.push(path);
  }
  return updated;
}

function networkDataOf(a: AttachedDevice): MetadataNetworkData {
  return { interfaceName: a.name, ...(a.ips.length === 0 ? {} : { ips: [...a.ips] }), ...(a.mac === '' ? {} : { hardwareAddress: a.mac }) };
}

function checkUid(claimUid: string): void {
  if (!isValidClaimUid(claimUid)) throw failed('name', claimUid, '', `claim UID ${JSON.stringify(claimUid)} cannot name a metadata directory`);
}

function failed(what: string, claimUid: string, path: string, err: unknown): DriverError {
  const reason = typeof err === 'string' ? err : ((err as NodeJS.ErrnoException).code ?? String(err));
  return new DriverError('CDI_WRITE_FAILED', `cannot ${what} device metadata of claim ${claimUid} (${path}): ${reason}`, {
    ...(typeof err === 'string' ? {} : { cause: err }), context: { path, claimUid },
  });
}
