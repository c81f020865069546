/**
 * The socket files the kubelet watches and dials: naming, stale-file removal
 * and permissions. Only sockets are ever deleted: a regular file or directory
 * at a socket path is somebody else's data (or a mis-set hostPath), so it
 * stops the start with a clear error instead.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync, unlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, DriverError } from '../../common/errors.ts';

/** sun_path is 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

// A driver name is a DNS subdomain (as ResourceSlices require); an instance
// suffix is normally a pod UID. Both end up in file names, so neither may
// contain anything that leaves the directory.
const DRIVER_RE = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/;
const INSTANCE_RE = /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;

export interface KubeletPaths {
  /** `<registryDir>/<driver>-reg.sock`, or `<driver>-<instance>-reg.sock` in rolling-update mode. */
  readonly registrationSocket: string;
  /** `<pluginDir>/dra.sock`, or `dra-<instance>.sock`: the DRA and health services. */
  readonly draSocket: string;
  /** Held for this instance's whole life: two processes never serve the same socket names. */
  readonly instanceLock: string;
  /** Shared by all instances of the driver: prepare/unprepare run one at a time across them. */
  readonly serializeLock: string;
  /**
   * `<pluginDir>/instance-<instance>.started`, rolling-update mode: made once this instance's start
   * is complete (the runtime has synchronized its NRI plugin), for the surge startup probe
   * (docs/deployment.md, "Updates"); removed with the lock.
   */
  readonly startedMarker: string;
}

export function kubeletPaths(driverName: string, registryDir: string, pluginDir: string, instance?: string): KubeletPaths {
  if (!DRIVER_RE.test(driverName)) {
    throw new ConfigError(`driver name "${driverName}" is not a valid DNS subdomain`, { context: { driverName } });
  }
  if (instance !== undefined && !INSTANCE_RE.test(instance)) {
    throw new ConfigError(`rolling-update instance "${instance}" must be letters, digits, '.', '_' or '-'`, { context: { instance } });
  }
  const suffix = instance === undefined ? '' : `-${instance}`;
  return {
    registrationSocket: join(registryDir, `${driverName}${suffix}-reg.sock`),
    draSocket: join(pluginDir, `dra${suffix}.sock`),
    instanceLock: join(pluginDir, `instance${suffix}.lock`),
    serializeLock: join(pluginDir, 'serialize.lock'),
    startedMarker: join(pluginDir, `instance${suffix}.started`),
  };
}

/** Creates a missing directory as 0700; an existing one (the kubelet's registry dir) keeps its mode. */
export function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Prepares `path` for listen(): refuses paths too long for a unix socket and
 * non-socket files, and removes a socket left behind by a crashed instance.
 * The caller holds the instance lock, so a socket found here has no live owner.
 */
export function prepareSocketPath(path: string): void {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new DriverError('KUBELET_LISTEN_FAILED',
      `socket path ${path} is longer than ${MAX_SOCKET_PATH_BYTES} bytes, the unix socket limit`, { context: { path } });
  }
  const st = lstatOrUndefined(path);
  if (st === undefined) return;
  if (!st.isSocket()) {
    const kind = st.isDirectory() ? 'a directory' : st.isSymbolicLink() ? 'a symbolic link' : 'a regular file or other non-socket';
    throw new DriverError('KUBELET_SOCKET_PATH_OCCUPIED',
      `${path} is ${kind}, not a socket; refusing to delete it (remove it by hand if it is stale)`, { context: { path } });
  }
  unlinkSync(path);
}

/** Identity of a socket file we bound, so close() removes only that one. */
export interface SocketIdentity {
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
}

/** Restricts a freshly bound socket to its owner (connect needs write permission). */
export function secureSocket(path: string): SocketIdentity {
  chmodSync(path, 0o600);
  const st = lstatSync(path);
  return { path, dev: st.dev, ino: st.ino };
}

/** Removes the socket if it is still the one we bound; quietly does nothing if it is gone. */
export function removeOwnSocket(id: SocketIdentity): void {
  const st = lstatOrUndefined(id.path);
  if (st === undefined || !st.isSocket() || st.dev !== id.dev || st.ino !== id.ino) return;
  try {
    unlinkSync(id.path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Removes a file if it is there; a file already gone is fine. */
export function unlinkIfPresent(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * Other rolling-update instances with a lock file in the plugin dir (`instance-<suffix>.lock`),
 * by suffix, with the socket and lock paths each one uses.
 */
export function otherInstances(driverName: string, registryDir: string, pluginDir: string, self: string): KubeletPaths[] {
  const out: KubeletPaths[] = [];
  for (const f of readdirSync(pluginDir)) {
    const m = /^instance-(.+)\.lock$/.exec(f);
    if (!m || m[1] === self || !INSTANCE_RE.test(m[1]!)) continue;
    out.push(kubeletPaths(driverName, registryDir, pluginDir, m[1]));
  }
  return out;
}
