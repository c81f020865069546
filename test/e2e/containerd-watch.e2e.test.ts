/**
 * SandboxWatch (src/surfaces/containerd/) against a real containerd v2.4.2
 * (the e2e tier's build), started by this file on its own temp dirs and
 * socket (test/lib/standalone-containerd.ts): it needs no e2e node and never
 * touches the node's containerd. Containers are made through containerd's
 * own Containers.Create, as the CRI plugin's client does.
 *
 * The e2e project's globalSetup starts the node; this file alone runs without it:
 *   NETCLAIM_E2E_NODE=none npx vitest run --project e2e test/e2e/containerd-watch.e2e.test.ts
 */
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxWatch, type SandboxSeen } from '../../src/surfaces/containerd/sandbox-watch.ts';
import { createContainer, startContainerd, type StandaloneContainerd } from '../lib/standalone-containerd.ts';

const fixture = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../fixtures/containerd/${name}`, import.meta.url), 'utf8')) as Record<string, unknown>;
const POD_SPEC = fixture('podsandbox-spec.json');
const HOST_NETWORK_SPEC = fixture('podsandbox-spec-hostnetwork.json');
const NETNS = '/var/run/netns/cni-6d1e4b2a-8c3f-4a7e-b5d9-0f2c1e3a4b5c';

let serial = 0;
/** A fresh sandbox-like id and its pod labels, as the CRI plugin writes them (internal/cri/util BuildLabels). */
function sandbox(kind = 'sandbox'): { id: string; uid: string; labels: Record<string, string> } {
  serial += 1;
  const id = `${process.pid.toString(16)}${serial.toString(16).padStart(4, '0')}`.padEnd(64, 'a');
  const uid = `00000000-0000-4000-8000-${serial.toString(16).padStart(12, '0')}`;
  return {
    id, uid,
    labels: {
      'io.cri-containerd.kind': kind,
      'io.kubernetes.pod.uid': uid,
      'io.kubernetes.pod.name': `pod-${serial}`,
      'io.kubernetes.pod.namespace': 'default',
    },
  };
}

async function until(what: string | (() => string), cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

type Line = Record<string, unknown> & { msg: string };

describe('SandboxWatch against a real containerd', () => {
  let ctrd: StandaloneContainerd | undefined;
  let watch: SandboxWatch | undefined;
  const seen: SandboxSeen[] = [];
  const lines: Line[] = [];
  const states: string[] = [];
  const log = pino({ level: 'debug' }, new Writable({
    write(chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString()) as Line); done(); },
  }));
  const skipped = (id: string): Line | undefined => lines.find((l) => l.container === id && l.msg === 'container skipped');

  beforeAll(async () => {
    ctrd = await startContainerd();
    watch = new SandboxWatch({ socketPath: ctrd.socket, onSandbox: (s) => seen.push(s), log, retryMs: 100 });
    watch.on('state', (s) => states.push(s));
    watch.start();
    await until('the watch to subscribe', () => watch!.connected);
  }, 120_000);

  afterAll(async () => {
    await watch?.close();
    await ctrd?.stop();
  });

  it('reports a sandbox container once, with its pod and netns', async () => {
    const s = sandbox();
    await createContainer(ctrd!.socket, 'k8s.io', { id: s.id, labels: s.labels, spec: POD_SPEC });
    await until('the sandbox to be reported', () => seen.some((x) => x.id === s.id));
    const sentinel = sandbox(); // a later creation seen means the first one's event is long past
    await createContainer(ctrd!.socket, 'k8s.io', { id: sentinel.id, labels: sentinel.labels, spec: POD_SPEC });
    await until('the sentinel', () => seen.some((x) => x.id === sentinel.id));
    expect(seen.filter((x) => x.id === s.id)).toEqual([{ id: s.id, uid: s.uid, name: s.labels['io.kubernetes.pod.name'], namespace: 'default', netns: NETNS }]);
  });

  it('skips application containers, other namespaces and containers without pod labels', async () => {
    const app = sandbox('container');
    const elsewhere = sandbox();
    const unlabelled = sandbox();
    delete unlabelled.labels['io.kubernetes.pod.uid'];
    delete unlabelled.labels['io.kubernetes.pod.name'];
    const sentinel = sandbox();
    await createContainer(ctrd!.socket, 'k8s.io', { id: app.id, labels: app.labels, spec: POD_SPEC });
    await createContainer(ctrd!.socket, 'moby', { id: elsewhere.id, labels: elsewhere.labels, spec: POD_SPEC });
    await createContainer(ctrd!.socket, 'k8s.io', { id: unlabelled.id, labels: unlabelled.labels, spec: POD_SPEC });
    await createContainer(ctrd!.socket, 'k8s.io', { id: sentinel.id, labels: sentinel.labels, spec: POD_SPEC });
    await until('the sentinel', () => seen.some((x) => x.id === sentinel.id));
    // Positive evidence each was looked at and refused (the other namespace is filtered by containerd itself).
    await until('both k8s.io skips to be logged', () => skipped(app.id) !== undefined && skipped(unlabelled.id) !== undefined);
    expect(skipped(app.id)).toMatchObject({ skip: 'not-sandbox', kind: 'container' });
    expect(skipped(unlabelled.id)).toMatchObject({ skip: 'pod-labels-missing', missing: ['io.kubernetes.pod.uid', 'io.kubernetes.pod.name'] });
    expect(lines.some((l) => l.container === elsewhere.id)).toBe(false);
    expect(seen.map((x) => x.id)).not.toContain(app.id);
    expect(seen.map((x) => x.id)).not.toContain(elsewhere.id);
    expect(seen.map((x) => x.id)).not.toContain(unlabelled.id);
  });

  it('skips a sandbox whose spec is not JSON (containerd stores any bytes)', async () => {
    const bad = sandbox();
    await createContainer(ctrd!.socket, 'k8s.io', { id: bad.id, labels: bad.labels, spec: Buffer.from('{"linux": {"namespaces": [') });
    await until('the skip to be logged', () => skipped(bad.id) !== undefined);
    expect(skipped(bad.id)).toMatchObject({ skip: 'spec-unreadable', reason: expect.stringMatching(/^spec is not JSON/) as unknown });
    expect(seen.map((x) => x.id)).not.toContain(bad.id);
  });

  it('reports a host-network sandbox without netns', async () => {
    const s = sandbox();
    await createContainer(ctrd!.socket, 'k8s.io', { id: s.id, labels: s.labels, spec: HOST_NETWORK_SPEC });
    await until('the sandbox to be reported', () => seen.some((x) => x.id === s.id));
    const got = seen.find((x) => x.id === s.id)!;
    expect(got).toEqual({ id: s.id, uid: s.uid, name: s.labels['io.kubernetes.pod.name'], namespace: 'default' });
    expect('netns' in got).toBe(false);
  });

  it('a burst of 40 concurrent creations: each sandbox reported exactly once', async () => {
    const burst = Array.from({ length: 40 }, () => sandbox());
    await Promise.all(burst.map((b) => createContainer(ctrd!.socket, 'k8s.io', { id: b.id, labels: b.labels, spec: POD_SPEC })));
    const ids = new Set(burst.map((b) => b.id));
    await until('all 40 reported', () => burst.every((b) => seen.some((x) => x.id === b.id)));
    const sentinel = sandbox();
    await createContainer(ctrd!.socket, 'k8s.io', { id: sentinel.id, labels: sentinel.labels, spec: POD_SPEC });
    await until('the sentinel', () => seen.some((x) => x.id === sentinel.id));
    expect(seen.filter((x) => ids.has(x.id))).toHaveLength(40);
  });

  it('reconnects after containerd is killed and restarted on the same socket', async () => {
    states.length = 0;
    await ctrd!.kill();
    await until('the watch to see containerd gone', () => !watch!.connected);
    expect(states).toEqual(['disconnected']);
    // A while down: several failed attempts (retryMs 100), one log line for them.
    const failedBefore = lines.filter((l) => l.msg.startsWith('containerd unreachable')).length;
    await new Promise((r) => setTimeout(r, 1_000));
    await ctrd!.start();
    await until('the watch to subscribe again', () => watch!.connected);
    expect(states).toEqual(['disconnected', 'connected']);
    expect(lines.filter((l) => l.msg.startsWith('containerd unreachable')).length - failedBefore).toBeLessThanOrEqual(1);
    const s = sandbox();
    await createContainer(ctrd!.socket, 'k8s.io', { id: s.id, labels: s.labels, spec: POD_SPEC });
    await until('the sandbox created after the restart', () => seen.some((x) => x.id === s.id));
    expect(seen.find((x) => x.id === s.id)).toMatchObject({ uid: s.uid, netns: NETNS });
  });

  it('close() is idempotent and leaves no handles behind', async () => {
    const kinds = (): string[] => process.getActiveResourcesInfo().filter((k) => k !== 'TTYWrap').sort();
    // The baseline once earlier tests' handles are gone: two readings 100 ms apart agree.
    let before = kinds();
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      const now = kinds();
      if (now.join() === before.join()) break;
      before = now;
    }
    const w = new SandboxWatch({ socketPath: ctrd!.socket, onSandbox: () => {}, log, retryMs: 100 });
    w.start();
    await until('the second watch to subscribe', () => w.connected);
    expect(kinds().length).toBeGreaterThan(before.length);
    await w.close();
    expect(kinds()).toEqual(before); // close() resolves once the socket is closed
    await w.close();
    expect(w.connected).toBe(false);
    // A watch closed while containerd is unreachable leaves no retry timer either.
    const down = new SandboxWatch({ socketPath: `${ctrd!.dir}/no-such.sock`, onSandbox: () => {}, log, retryMs: 60_000 });
    down.start();
    await until('the failed attempt to be logged', () => lines.some((l) => l.msg.startsWith('containerd unreachable') && String(l.socket).endsWith('no-such.sock')));
    await down.close();
    await until(() => `the handles to go (before ${before.join(',')}; now ${kinds().join(',')})`, () => kinds().join() === before.join(), 10_000);
  });
});
