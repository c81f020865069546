/**
 * `netclaim run` against the real kube-apiserver, the kubelet peer and the
 * NRI peer, with its stdout on a full fifo whose reader never reads (a stuck
 * log reader: docs/observability.md, "When the log reader stops reading or
 * goes away"). It registers, becomes ready, answers Prepare (every call logs
 * at warn: the claims do not exist) and, on SIGTERM, stops with its sockets
 * removed and exit 0. Before the log sink it never exited.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, constants, existsSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createNetns } from '../kernel/netns-fixture.ts';
import { KubeClient } from './kube-client.ts';
import { freePort } from './control-plane.ts';
import { closeAllPeerProcesses } from './peers/json-lines.ts';
import { KubeletPeer } from './peers/kubelet-peer.ts';
import { NriPeer } from './peers/nri-peer.ts';
import { ensureNode, SLICES, suffix, waitFor } from './slice-fixtures.ts';

const cp = inject('controlPlane');
const kube = new KubeClient({ server: cp.server, token: cp.token, caPem: cp.caPem });
const DRIVER = 'netclaim.dev';
const NODE = process.versions.node.startsWith('24.') ? process.execPath : resolve('node_modules/.bin/node');
const cleanup: Array<() => Promise<unknown> | void> = [];

afterAll(async () => {
  for (const f of cleanup.reverse()) await Promise.resolve().then(f).catch(() => {});
  await closeAllPeerProcesses();
});

describe('netclaim run with a stuck log reader', () => {
  it('registers, gets ready and answers Prepare while nobody reads its stdout; SIGTERM → sockets removed, exit 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nc-runlog-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const host = createNetns('runlog', { forFile: true });
    const runNode = `runlog-${suffix()}`;
    await ensureNode(kube, runNode);
    cleanup.push(() => kube.delete(`/api/v1/nodes/${runNode}`));
    cleanup.push(() => kube.delete(`${SLICES}?fieldSelector=${encodeURIComponent(`spec.nodeName=${runNode},spec.driver=${DRIVER}`)}`));
    const kubelet = await KubeletPeer.start({ registry: join(dir, 'kubelet', 'plugins_registry') });
    cleanup.push(() => kubelet.close());
    const runtime = await NriPeer.start({ socket: join(dir, 'nri.sock') });
    cleanup.push(() => runtime.close());

    // The fifo, filled: a reader that is there but never reads.
    const path = join(dir, 'stdout');
    execFileSync('mkfifo', [path]);
    const reader = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    cleanup.push(() => { closeSync(writer); closeSync(reader); });
    for (;;) {
      try {
        writeSync(writer, Buffer.alloc(4096, 'f'));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw err;
      }
    }

    const port = await freePort();
    const child = spawn(NODE, [
      'src/main.ts', 'run', '--node-name', runNode, '--kubeconfig', cp.kubeconfigPath, '--kubelet-root-dir', join(dir, 'kubelet'),
      '--state-dir', join(dir, 'state'), '--cdi-dir', join(dir, 'cdi'), '--host-netns', host.path,
      '--nri-socket', join(dir, 'nri.sock'), '--metrics-address', `127.0.0.1:${port}`,
    ], { stdio: ['ignore', writer, 'pipe'] });
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    cleanup.push(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });

    const reg = await kubelet.waitForRegistered(DRIVER, 90_000);
    await waitFor('/readyz 200', async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, 90_000, 100);
    // Each Prepare of a claim that does not exist fails and logs a warning into the stuck pipe.
    for (let i = 0; i < 20; i++) {
      const uid = randomUUID();
      const r = await kubelet.prepare(DRIVER, [{ namespace: 'default', name: `nope-${i}`, uid }]);
      expect(r.response?.claims?.[uid]?.error, JSON.stringify(r)).toBeTruthy();
    }
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain('netclaim_log_lines_dropped_total{reason="error"} 0');

    child.kill('SIGTERM');
    const end = await Promise.race([exited, new Promise((r) => setTimeout(() => r('no exit within 90 s after SIGTERM'), 90_000))]);
    expect(end, stderr).toEqual({ code: 0, signal: null });
    expect(existsSync(reg.socket)).toBe(false);
    expect(readdirSync(join(dir, 'kubelet', 'plugins', DRIVER)).filter((f) => f.endsWith('.sock'))).toEqual([]);
    expect(stderr).toBe('');
  }, 240_000);
});
