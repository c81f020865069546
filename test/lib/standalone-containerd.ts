/**
 * A throwaway containerd (the e2e tier's v2.4.2 build) for tests of
 * containerd's own API: its own root, state and socket in a temp dir, the
 * CRI and NRI plugins off, so it needs nothing from the host and touches no
 * other containerd (not /run/containerd, not the e2e node's).
 *
 *   const c = await startContainerd();
 *   await createContainer(c.socket, 'k8s.io', { id, labels, spec });
 *   await c.kill();           // SIGKILL by PID, socket left behind
 *   await c.start();          // the same root, state and socket again
 *   await c.stop();           // kill + remove the temp dir
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GrpcUnixSession } from '../../src/surfaces/containerd/grpc-unix.ts';
import { CONTAINERD_METHOD, CONTAINERD_TYPES, NAMESPACE_HEADER, OCI_SPEC_TYPE_URL, decodeMessage, encodeMessage } from '../../src/surfaces/containerd/protos.ts';

const REPO = new URL('../../', import.meta.url).pathname;

/** The e2e tier's runtime bin folder (build-runtime.sh prints it last; cached after the first build). */
export function runtimeBin(): string {
  const out = execFileSync('bash', [join(REPO, 'test/e2e/runtime/build-runtime.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').at(-1)!;
}

// Plugins that would reach outside the temp dir or are not needed: the CRI plugin and
// its parts (images, runtime, pod sandboxes, CNI), NRI (/var/run/nri), the restart monitor.
const DISABLED = [
  'io.containerd.grpc.v1.cri', 'io.containerd.cri.v1.runtime', 'io.containerd.cri.v1.images',
  'io.containerd.podsandbox.controller.v1.podsandbox', 'io.containerd.nri.v1.nri', 'io.containerd.monitor.container.v1.restart',
];

function config(dir: string): string {
  return [
    'version = 3',
    `root = '${dir}/root'`,
    `state = '${dir}/state'`,
    `temp = '${dir}/state/tmp'`,
    `disabled_plugins = [${DISABLED.map((p) => `'${p}'`).join(', ')}]`,
    '[grpc]',
    `  address = '${dir}/containerd.sock'`,
    '[plugins]',
    "  [plugins.'io.containerd.internal.v1.opt']",
    `    path = '${dir}/root/opt'`,
    "  [plugins.'io.containerd.shim.v1.manager']",
    `    socket_dir = '${dir}/s'`,
    '',
  ].join('\n');
}

export interface StandaloneContainerd {
  readonly dir: string;
  readonly socket: string;
  /** The running process's PID (undefined while killed). */
  readonly pid: number | undefined;
  /** Starts containerd (again) on the same dirs and socket; resolves once it answers. */
  start(): Promise<void>;
  /** SIGKILL by PID; resolves once the process has exited. */
  kill(): Promise<void>;
  /** kill + remove the temp dir (idempotent). */
  stop(): Promise<void>;
  /** containerd's log so far (for failure messages). */
  log(): string;
}

export async function startContainerd(bin = runtimeBin()): Promise<StandaloneContainerd> {
  // Short: the shim socket dir must stay under containerd's 42-character limit.
  const dir = mkdtempSync('/tmp/ncctrd.');
  const socket = join(dir, 'containerd.sock');
  writeFileSync(join(dir, 'config.toml'), config(dir));
  let child: ChildProcess | undefined;
  const logPath = join(dir, 'containerd.log');

  const kill = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    process.kill(c.pid!, 'SIGKILL');
    await exited;
  };

  const start = async (): Promise<void> => {
    if (child !== undefined) throw new Error('containerd is already running');
    const fd = openSync(logPath, 'a');
    const c = spawn(join(bin, 'containerd'), ['--config', join(dir, 'config.toml')], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    child = c;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (c.exitCode !== null) throw new Error(`containerd exited (${c.exitCode}):\n${readLog()}`);
      if (existsSync(socket) && await answers(socket)) return;
      if (Date.now() > deadline) throw new Error(`containerd did not answer on ${socket} within 60 s:\n${readLog()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const readLog = (): string => (existsSync(logPath) ? readFileSync(logPath, 'utf8').slice(-4000) : '');

  await start();
  return {
    dir, socket, start, kill, log: readLog,
    get pid() { return child?.pid; },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** containerd answers a unary call (Version) on the socket. */
async function answers(socket: string): Promise<boolean> {
  const s = new GrpcUnixSession(socket);
  try {
    await s.ready();
    await s.unary('/containerd.services.version.v1.Version/Version', new Uint8Array(), {}, 4096);
    return true;
  } catch {
    return false;
  } finally {
    await s.destroy();
  }
}

export interface NewContainer {
  readonly id: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The OCI spec, stored as containerd's client does (JSON in an Any); bytes are stored as given. */
  readonly spec: unknown;
}

/** Containers.Create through containerd's API (what the CRI plugin's client.NewContainer ends in). */
export async function createContainer(socket: string, namespace: string, c: NewContainer): Promise<{ id: string }> {
  const s = new GrpcUnixSession(socket);
  try {
    await s.ready();
    const request = encodeMessage(CONTAINERD_TYPES.CreateContainerRequest, {
      container: {
        id: c.id, labels: c.labels, image: '',
        runtime: { name: 'io.containerd.runc.v2' },
        spec: { type_url: OCI_SPEC_TYPE_URL, value: Buffer.isBuffer(c.spec) ? c.spec : Buffer.from(JSON.stringify(c.spec)) },
      },
    });
    const reply = await s.unary(CONTAINERD_METHOD.createContainer, request, { [NAMESPACE_HEADER]: namespace }, 4 * 1024 * 1024);
    return decodeMessage<{ container: { id: string } }>(CONTAINERD_TYPES.CreateContainerResponse, reply).container;
  } finally {
    await s.destroy(); // closed before it returns: tests count open handles
  }
}
