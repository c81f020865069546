import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OCI_SPEC_TYPE_URL, type WireContainer } from './protos.ts';
import { MAX_SPEC_BYTES, netnsFromSpec, sandboxFromContainer } from './sandbox-container.ts';

// Spec shapes of containerd v2.4.2's podsandbox controller (test/fixtures/containerd/README.md says how they were made).
const specBytes = (name: string): Buffer => readFileSync(new URL(`../../../test/fixtures/containerd/${name}`, import.meta.url));
const POD_SPEC = specBytes('podsandbox-spec.json');
const HOST_NETWORK_SPEC = specBytes('podsandbox-spec-hostnetwork.json');

const POD_LABELS = {
  'io.cri-containerd.kind': 'sandbox',
  'io.kubernetes.pod.uid': '0b7d9c1e-3f5a-4e2b-9c8d-7a6b5c4d3e2f',
  'io.kubernetes.pod.name': 'pod-a',
  'io.kubernetes.pod.namespace': 'default',
  // What else the kubelet and the pause image put there (BuildLabels keeps them).
  'io.kubernetes.container.name': 'POD',
  'io.kubernetes.pod.uid.extra': 'ignored',
};
const ID = '4f0c2b8e9d51c7a3e6f2d8b0a1c9e7f5d3b1a0c8e6f4d2b0a9c7e5f3d1b0a8c6';

function container(labels: Record<string, string> = POD_LABELS, spec: Buffer | null = POD_SPEC, typeUrl = OCI_SPEC_TYPE_URL): WireContainer {
  return { id: ID, labels, image: 'registry.k8s.io/pause:3.10.2', spec: spec === null ? null : { type_url: typeUrl, value: spec } };
}

describe('sandboxFromContainer', () => {
  it('reads a pod sandbox as the podsandbox controller writes it', () => {
    expect(sandboxFromContainer(container())).toEqual({
      id: ID, uid: '0b7d9c1e-3f5a-4e2b-9c8d-7a6b5c4d3e2f', name: 'pod-a', namespace: 'default',
      netns: '/var/run/netns/cni-6d1e4b2a-8c3f-4a7e-b5d9-0f2c1e3a4b5c',
    });
  });

  it('a host-network sandbox has no netns key at all', () => {
    const s = sandboxFromContainer(container(POD_LABELS, HOST_NETWORK_SPEC));
    expect(s).toEqual({ id: ID, uid: POD_LABELS['io.kubernetes.pod.uid'], name: 'pod-a', namespace: 'default' });
    expect('netns' in s).toBe(false);
  });

  it('skips application containers and containers of no CRI kind', () => {
    expect(sandboxFromContainer(container({ ...POD_LABELS, 'io.cri-containerd.kind': 'container' }))).toEqual({ skip: 'not-sandbox', kind: 'container' });
    const { 'io.cri-containerd.kind': _, ...noKind } = POD_LABELS;
    expect(sandboxFromContainer(container(noKind))).toEqual({ skip: 'not-sandbox', kind: undefined });
    expect(sandboxFromContainer(container({ ...POD_LABELS, 'io.cri-containerd.kind': 'Sandbox' }))).toMatchObject({ skip: 'not-sandbox' });
  });

  it('names every missing or empty pod label', () => {
    const { 'io.kubernetes.pod.name': _, ...noName } = POD_LABELS;
    expect(sandboxFromContainer(container({ ...noName, 'io.kubernetes.pod.uid': '' }))).toEqual({
      skip: 'pod-labels-missing', missing: ['io.kubernetes.pod.uid', 'io.kubernetes.pod.name'],
    });
  });

  it('skips a spec it cannot read, saying why', () => {
    const reason = (c: WireContainer): string => {
      const r = sandboxFromContainer(c);
      return 'skip' in r && r.skip === 'spec-unreadable' ? r.reason : `not skipped: ${JSON.stringify(r)}`;
    };
    expect(reason(container(POD_LABELS, null))).toBe('no spec');
    expect(reason(container(POD_LABELS, POD_SPEC, 'types.containerd.io/opencontainers/runtime-spec/2/Spec'))).toMatch(/spec type .*runtime-spec\/2\/Spec/);
    expect(reason(container(POD_LABELS, POD_SPEC.subarray(0, 100)))).toMatch(/^spec is not JSON/);
    expect(reason(container(POD_LABELS, Buffer.from('[]')))).toBe('spec is not a JSON object');
    expect(reason(container(POD_LABELS, Buffer.alloc(MAX_SPEC_BYTES + 1, 0x20)))).toMatch(/exceeds/);
  });
});

describe('netnsFromSpec', () => {
  const ns = (namespaces: unknown): ReturnType<typeof netnsFromSpec> => netnsFromSpec({ linux: { namespaces } });

  it('undefined without linux, namespaces, a network entry or its path', () => {
    expect(netnsFromSpec({})).toBeUndefined();
    expect(netnsFromSpec({ linux: null })).toBeUndefined();
    expect(netnsFromSpec({ linux: {} })).toBeUndefined();
    expect(ns([{ type: 'pid' }])).toBeUndefined();
    expect(ns([{ type: 'network' }])).toBeUndefined();
    expect(ns([{ type: 'network', path: '' }])).toBeUndefined();
  });

  it('refuses shapes no runtime would run', () => {
    expect(ns({ type: 'network' })).toMatchObject({ skip: 'spec-unreadable', reason: 'spec.linux.namespaces is not an array' });
    expect(ns([{ type: 'network', path: '/a' }, { type: 'network', path: '/b' }])).toMatchObject({ reason: /more than one network entry/ });
    expect(ns([{ type: 'network', path: 7 }])).toMatchObject({ reason: /path is not a string/ });
    expect(ns([{ type: 'network', path: 'proc/1/ns/net' }])).toMatchObject({ reason: /is not absolute/ });
    expect(netnsFromSpec({ linux: 'x' })).toMatchObject({ reason: 'spec.linux is not an object' });
  });

  it('never throws, and only ever returns an absolute path, undefined or a skip', () => {
    const namespaceEntry = fc.record({ type: fc.constantFrom('network', 'pid', 'mount', 7), path: fc.oneof(fc.string(), fc.jsonValue()) }, { requiredKeys: [] });
    const spec = fc.oneof(fc.jsonValue(), fc.record({ linux: fc.oneof(fc.jsonValue(), fc.record({ namespaces: fc.oneof(fc.jsonValue(), fc.array(namespaceEntry)) })) }));
    fc.assert(fc.property(spec, (s) => {
      const r = netnsFromSpec(s);
      expect(r === undefined || (typeof r === 'string' && r.startsWith('/')) || (typeof r === 'object' && r.skip === 'spec-unreadable')).toBe(true);
    }), { numRuns: 2000 });
  });

  it('any bytes as the spec: a sandbox or a skip, never a throw', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), (b) => {
      const r = sandboxFromContainer(container(POD_LABELS, Buffer.from(b)));
      expect('skip' in r || r.id === ID).toBe(true);
    }), { numRuns: 1000 });
  });
});
