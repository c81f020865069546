import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hexFixture, mutatedBytes } from '../../../test/fuzz/decoder-fuzz.ts';
import { CONTAINERD_TYPES, encodeMessage } from './protos.ts';
import { sandboxFromContainer } from './sandbox-container.ts';
import { createTopicFilter, decodeContainerCreate, decodeGetContainer, validNamespace } from './watch-codec.ts';

const ID = '4f0c2b8e9d51c7a3e6f2d8b0a1c9e7f5d3b1a0c8e6f4d2b0a9c7e5f3d1b0a8c6';

/** An Envelope as containerd's events service sends it (fields per api/types/event.proto, api/events/container.proto). */
function envelope(o: { topic?: string; namespace?: string; typeUrl?: string; id?: string } = {}): Uint8Array {
  const event = encodeMessage(CONTAINERD_TYPES.ContainerCreate, { id: o.id ?? ID, image: 'registry.k8s.io/pause:3.10.2', runtime: { name: 'io.containerd.runc.v2' } });
  return encodeMessage(CONTAINERD_TYPES.Envelope, {
    timestamp: { seconds: 1_796_000_000, nanos: 5 },
    namespace: o.namespace ?? 'k8s.io',
    topic: o.topic ?? '/containers/create',
    event: { type_url: o.typeUrl ?? 'containerd.events.ContainerCreate', value: event },
  });
}

describe('the Subscribe filter', () => {
  it('selects container creations of one namespace, in containerd filter syntax', () => {
    expect(createTopicFilter('k8s.io')).toBe('topic=="/containers/create",namespace=="k8s.io"');
  });

  it('accepts only containerd identifiers as namespaces (nothing to escape in the filter)', () => {
    for (const ok of ['k8s.io', 'moby', 'a-b_c.d', 'x'.repeat(76)]) expect(validNamespace(ok), ok).toBe(true);
    for (const bad of ['', 'k8s..io', '-a', 'a"b', 'a,b', 'a b', 'x'.repeat(77)]) expect(validNamespace(bad), bad).toBe(false);
  });
});

describe('decodeContainerCreate', () => {
  it('the created container id', () => {
    expect(decodeContainerCreate(envelope(), 'k8s.io')).toBe(ID);
    expect(decodeContainerCreate(envelope({ typeUrl: 'type.googleapis.com/containerd.events.ContainerCreate' }), 'k8s.io')).toBe(ID);
  });

  it('says why an envelope is not one', () => {
    expect(decodeContainerCreate(envelope({ topic: '/containers/delete' }), 'k8s.io')).toEqual({ reason: 'topic "/containers/delete"' });
    expect(decodeContainerCreate(envelope({ namespace: 'moby' }), 'k8s.io')).toEqual({ reason: 'namespace "moby"' });
    expect(decodeContainerCreate(envelope({ typeUrl: 'containerd.events.TaskCreate' }), 'k8s.io')).toEqual({ reason: 'event type "containerd.events.TaskCreate"' });
    expect(decodeContainerCreate(envelope({ id: '' }), 'k8s.io')).toEqual({ reason: 'ContainerCreate without an id' });
    expect(decodeContainerCreate(Buffer.from([0x0a, 0xff]), 'k8s.io')).toMatchObject({ reason: /^malformed event/ });
  });

  it('never throws on random or mutated bytes', () => {
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 256 }).map((a) => Buffer.from(a)), mutatedBytes([Buffer.from(envelope())])), (b) => {
      const r = decodeContainerCreate(b, 'k8s.io');
      expect(typeof r === 'string' || typeof r.reason === 'string').toBe(true);
    }), { numRuns: 2000 });
  });
});

describe('decodeGetContainer', () => {
  const reply = (id: string): Uint8Array => encodeMessage(CONTAINERD_TYPES.GetContainerResponse, {
    container: { id, labels: { 'io.cri-containerd.kind': 'sandbox' }, runtime: { name: 'io.containerd.runc.v2' }, spec: { type_url: 'u', value: Buffer.from('{}') } },
  });

  it('the container asked for, labels and spec as sent', () => {
    expect(decodeGetContainer(reply(ID), ID)).toMatchObject({ id: ID, labels: { 'io.cri-containerd.kind': 'sandbox' }, spec: { type_url: 'u', value: Buffer.from('{}') } });
  });

  it('refuses another container, an empty reply and bad bytes', () => {
    expect(decodeGetContainer(reply('other'), ID)).toEqual({ reason: `asked for ${ID}, got "other"` });
    expect(decodeGetContainer(new Uint8Array(), ID)).toEqual({ reason: 'GetContainerResponse without a container' });
    fc.assert(fc.property(mutatedBytes([Buffer.from(reply(ID))]), (b) => {
      const r = decodeGetContainer(b, ID);
      expect('reason' in r || r.id === ID).toBe(true);
    }), { numRuns: 2000 });
  });
});

// Recorded from a real containerd v2.4.2 by test/fixtures/containerd/capture.ts.
const golden = (name: string): Buffer => hexFixture(readFileSync(new URL(`../../../test/fixtures/containerd/${name}.hex`, import.meta.url), 'utf8'));

describe('captured from containerd v2.4.2', () => {
  it('the /containers/create Envelope names the container', () => {
    expect(decodeContainerCreate(golden('create-envelope'), 'k8s.io')).toBe(ID);
    expect(decodeContainerCreate(golden('create-envelope'), 'moby')).toEqual({ reason: 'namespace "k8s.io"' });
  });

  it('the Containers.Get response is the sandbox, fields the watch does not declare skipped', () => {
    const c = decodeGetContainer(golden('get-sandbox'), ID);
    expect('reason' in c ? c.reason : sandboxFromContainer(c)).toEqual({
      id: ID, uid: '0b7d9c1e-3f5a-4e2b-9c8d-7a6b5c4d3e2f', name: 'pod-a', namespace: 'default',
      netns: '/var/run/netns/cni-6d1e4b2a-8c3f-4a7e-b5d9-0f2c1e3a4b5c',
    });
  });

  it('mutations of the captures never throw', () => {
    fc.assert(fc.property(mutatedBytes([golden('create-envelope'), golden('get-sandbox')]), (b) => {
      const e = decodeContainerCreate(b, 'k8s.io');
      expect(typeof e === 'string' || typeof e.reason === 'string').toBe(true);
      const c = decodeGetContainer(b, ID);
      if (!('reason' in c)) sandboxFromContainer(c);
    }), { numRuns: 2000 });
  });
});
