import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../common/errors.ts';
import { kubeletClient, unary } from '../../../test/kubelet/kubelet-client.ts';
import { cleanupServers, startServer } from '../../../test/kubelet/server-fixture.ts';
import { SERVICE, type WirePrepareResponse, type WireUnprepareResponse } from './protos.ts';

afterEach(cleanupServers);

const ok = { namespace: 'ns', uid: 'uid-a', name: 'net-a' };
const bad = { namespace: 'ns', uid: 'uid-b', name: 'net-fail' };

function draClient(socket: string, version: 'v1' | 'v1beta1') {
  return kubeletClient(socket, version === 'v1' ? SERVICE.draV1 : SERVICE.draV1beta1);
}

describe.each(['v1', 'v1beta1'] as const)('DRAPlugin %s', (version) => {
  it('prepares and unprepares, one failed claim failing only itself', async () => {
    const { server, driver } = await startServer();
    const c = draClient(server.paths.draSocket, version);
    const prep = await unary<WirePrepareResponse>(c, 'NodePrepareResources', { claims: [ok, bad] });
    expect(prep.claims).toEqual({
      'uid-a': {
        error: '',
        devices: [{
          request_names: ['net'], // the sub-request is stripped
          pool_name: 'pool-a', device_name: 'dev-net-a', cdi_device_ids: ['netclaim.dev/net=net-a'],
          // share_id exists on v1 only
          ...(version === 'v1' ? { share_id: 'share-1' } : {}),
        }],
      },
      'uid-b': { devices: [], error: 'cannot prepare ns/net-fail' },
    });
    const unprep = await unary<WireUnprepareResponse>(c, 'NodeUnprepareResources', { claims: [ok, bad] });
    expect(unprep.claims).toEqual({ 'uid-a': { error: '' }, 'uid-b': { error: 'cannot unprepare ns/net-fail' } });
    expect(driver.calls.map((k) => [k.op, k.claims.map((x) => x.uid)])).toEqual([['prepare', ['uid-a', 'uid-b']], ['unprepare', ['uid-a', 'uid-b']]]);
  });

  it('turns a thrown exception into the error of every claim of that call, with its code', async () => {
    const { server, driver } = await startServer();
    const c = draClient(server.paths.draSocket, version);
    driver.throwNext = new ConfigError('spec.mtu: must be positive');
    const prep = await unary<WirePrepareResponse>(c, 'NodePrepareResources', { claims: [ok, bad] });
    expect(prep.claims).toEqual({
      'uid-a': { devices: [], error: 'CONFIG_INVALID: spec.mtu: must be positive' },
      'uid-b': { devices: [], error: 'CONFIG_INVALID: spec.mtu: must be positive' },
    });
    driver.throwNext = new Error('store unavailable');
    const unprep = await unary<WireUnprepareResponse>(c, 'NodeUnprepareResources', { claims: [ok] });
    expect(unprep.claims).toEqual({ 'uid-a': { error: 'store unavailable' } });
    // The next call is unaffected.
    expect((await unary<WirePrepareResponse>(c, 'NodePrepareResources', { claims: [ok] })).claims['uid-a'].error).toBe('');
  });
});

describe('DRAPlugin request handling', () => {
  it('answers every requested claim exactly once: missing results become errors, duplicates collapse', async () => {
    const { server, driver } = await startServer();
    const c = draClient(server.paths.draSocket, 'v1');
    const skip = { namespace: 'ns', uid: 'uid-s', name: 'net-skip' };
    const prep = await unary<WirePrepareResponse>(c, 'NodePrepareResources', { claims: [ok, skip, ok] });
    expect(Object.keys(prep.claims).sort()).toEqual(['uid-a', 'uid-s']);
    expect(prep.claims['uid-s'].error).toBe('driver returned no result for claim ns/net-skip');
    expect(driver.calls[0].claims).toHaveLength(2);
    const unprep = await unary<WireUnprepareResponse>(c, 'NodeUnprepareResources', { claims: [skip] });
    expect(unprep.claims['uid-s'].error).toBe('driver returned no result for claim ns/net-skip');
  });

  it('rejects malformed requests with INVALID_ARGUMENT and never calls the driver', async () => {
    const { server, driver } = await startServer();
    const c = draClient(server.paths.draSocket, 'v1');
    await expect(unary(c, 'NodePrepareResources', { claims: [{ namespace: 'ns', uid: '', name: 'x' }] }))
      .rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: 'claims[0].uid is required' });
    await expect(unary(c, 'NodeUnprepareResources', { claims: [ok, { ...ok, name: 'other' }] }))
      .rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: 'claims[1]: uid uid-a names both ns/net-a and ns/other' });
    expect(driver.calls).toEqual([]);
  });

  it('answers an empty request without calling the driver', async () => {
    const { server, driver } = await startServer();
    expect(await unary(draClient(server.paths.draSocket, 'v1'), 'NodePrepareResources', { claims: [] })).toEqual({ claims: {} });
    expect(driver.calls).toEqual([]);
  });

  it('serves only the advertised DRA services', async () => {
    const { server } = await startServer({ draServices: ['v1beta1.DRAPlugin'] });
    await expect(unary(draClient(server.paths.draSocket, 'v1'), 'NodePrepareResources', { claims: [ok] }))
      .rejects.toMatchObject({ code: status.UNIMPLEMENTED });
    expect(await unary(draClient(server.paths.draSocket, 'v1beta1'), 'NodePrepareResources', { claims: [ok] })).toHaveProperty('claims.uid-a');
  });

  it('runs calls one at a time by default, and concurrently with serialize: false', async () => {
    for (const serialize of [true, false]) {
      const { server, driver } = await startServer({ serialize });
      let open!: () => void;
      driver.gate = new Promise((r) => { open = r; });
      const c = draClient(server.paths.draSocket, 'v1');
      const calls = [unary(c, 'NodePrepareResources', { claims: [ok] }), unary(c, 'NodeUnprepareResources', { claims: [bad] })];
      await expect.poll(() => driver.calls.length).toBe(serialize ? 1 : 2);
      if (serialize) {
        await new Promise((r) => setTimeout(r, 100));
        expect(driver.calls).toHaveLength(1); // the second waits for the first
      }
      open();
      await Promise.all(calls);
      expect(driver.maxInFlight).toBe(serialize ? 1 : 2);
    }
  });
});
