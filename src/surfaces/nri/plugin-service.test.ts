import { describe, expect, it } from 'vitest';
import { goldenRequest, goldenResponse } from '../../../test/nri/golden.ts';
import type { NriContainer, NriContainerAdjustment, NriPod, PodPort } from '../../driver/pod-port.ts';
import { eventMask, LEGACY_VALID_EVENTS, NETCLAIM_EVENTS, NRI_EVENT, START_CONTAINER_EVENT } from './events.ts';
import { pluginServiceHandlers, type NriHook, type NriOutcome, type NriRuntimeInfo } from './plugin-service.ts';
import { decodeMessage, encodeMessage, NRI_TYPES, PLUGIN_SERVICE } from './protos.ts';
import type { TtrpcCallContext } from './ttrpc.ts';

const ctx = (deadline?: number): TtrpcCallContext => ({ service: PLUGIN_SERVICE.fullName, method: 'x', streamId: 1, signal: new AbortController().signal, deadline });

function fixture(overrides: Partial<PodPort> = {}, startGate?: boolean) {
  const calls: string[] = [];
  const synced: { pods: readonly NriPod[]; containers: readonly NriContainer[] }[] = [];
  const observed: [NriHook, NriOutcome][] = [];
  const logged: [string, string][] = [];
  const configured: NriRuntimeInfo[] = [];
  let shutdowns = 0;
  const port: PodPort = {
    runPodSandbox: async (p) => { calls.push(`run ${p.uid} ${p.netns ?? '-'}`); },
    stopPodSandbox: async (p) => { calls.push(`stop ${p.uid}`); },
    removePodSandbox: async (p) => { calls.push(`remove ${p.uid}`); },
    createContainer: async (p, c, o): Promise<NriContainerAdjustment> => { calls.push(`create ${p.uid} ${c.name}${o?.startGate === true ? ' (start gate)' : ''}`); return { env: [{ key: 'K', value: 'V' }] }; },
    startContainer: async (p, c) => { calls.push(`start ${p.uid} ${c.name}`); },
    synchronize: async (pods, containers) => { synced.push({ pods, containers }); },
    ...overrides,
  };
  const at = (level: string) => (_o: object, msg: string): void => { logged.push([level, msg]); };
  const handlers = pluginServiceHandlers({
    port, events: NETCLAIM_EVENTS, ...(startGate === undefined ? {} : { startGate }),
    log: { info: at('info'), warn: at('warn'), error: at('error') },
    onConfigure: (i) => configured.push(i),
    onSynchronized: () => {},
    onShutdown: () => { shutdowns += 1; },
    observe: (h, _ms, o) => observed.push([h, o]),
  });
  const call = async (method: string, payload: Uint8Array, c = ctx()): Promise<Buffer> => Buffer.from(await handlers.get(method)!(Buffer.from(payload), c));
  return { handlers, call, calls, synced, observed, logged, configured, shutdowns: () => shutdowns };
}

const wirePod = (name: string, netns?: string): object => ({
  id: `sandbox-${name}`, name, uid: `uid-${name}`, namespace: 'default',
  linux: { namespaces: [{ type: 'pid' }, ...(netns ? [{ type: 'network', path: netns }] : [])] },
});

describe('Plugin service handlers', () => {
  it('answers Configure with event mask 0xF, as the Go stub subscribed to the same events does, and records the runtime', async () => {
    const f = fixture(); // the gate at CreateContainer (the default): the golden answer's subscription
    const configure = goldenRequest('current.runtime-to-plugin', 'Configure');
    const answer = await f.call('Configure', configure.request.payload);
    expect(answer).toEqual(Buffer.from(goldenResponse('current.plugin-to-runtime', configure.header.streamId).response.payload));
    expect(NETCLAIM_EVENTS).toBe(0x000f);
    // Only bits that containerd ≤ 2.1 (nri < v0.10, events 1–11) knows: others fail its Configure.
    expect(LEGACY_VALID_EVENTS).toBe(0x7ff);
    expect(NETCLAIM_EVENTS & ~LEGACY_VALID_EVENTS).toBe(0);
    expect(eventMask(NRI_EVENT.VALIDATE_CONTAINER_ADJUSTMENT)).toBe(0x2000);
    expect(f.configured).toEqual([{ name: 'containerd', version: 'v2.4.2', nriVersion: 'v0.12.3', registrationTimeoutMs: 5000, requestTimeoutMs: 2000 }]);
  });

  it('with --container-gate start: subscribes StartContainer too (0x2F) where the runtime fails a start the plugin fails (containerd 2.x), and tells CreateContainer a start gate follows', async () => {
    const configure = (name: string, version: string): Uint8Array => encodeMessage(NRI_TYPES.ConfigureRequest, {
      config: '', runtime_name: name, runtime_version: version, registration_timeout: 5000, request_timeout: 2000, NRI_version: '',
    });
    const events = async (f: ReturnType<typeof fixture>, name: string, version: string): Promise<number> =>
      decodeMessage<{ events: number }>(NRI_TYPES.ConfigureResponse, await f.call('Configure', configure(name, version))).events;
    const create = encodeMessage(NRI_TYPES.CreateContainerRequest, { pod: wirePod('x'), container: { id: 'c', name: 'app' } });
    for (const [name, version, mask] of [['containerd', 'v2.4.2', 0x2f], ['containerd', '2.1.9+unknown', 0x2f], ['containerd', 'v1.7.27', 0xf], ['cri-o', '1.34.0', 0xf]] as const) {
      const f = fixture({}, true);
      expect(await events(f, name, version)).toBe(mask);
      await f.call('CreateContainer', create);
      expect(f.calls).toEqual([`create uid-x app${mask === 0x2f ? ' (start gate)' : ''}`]);
    }
    // The default (startGate off): containerd 2.x too keeps the gate at CreateContainer.
    for (const off of [fixture(), fixture({}, false)]) {
      expect(await events(off, 'containerd', 'v2.4.2')).toBe(0xf);
      await off.call('CreateContainer', create);
      expect(off.calls).toEqual(['create uid-x app']);
    }
    expect(START_CONTAINER_EVENT | NETCLAIM_EVENTS).toBe(0x2f);
    expect(START_CONTAINER_EVENT & ~LEGACY_VALID_EVENTS).toBe(0);
  });

  it('sends StartContainer, as a dedicated RPC and as a StateChange event (nri ≤ v0.11), to the port; its error reaches the runtime', async () => {
    const f = fixture();
    const req = { pod: wirePod('s', '/run/netns/s'), container: { id: 'c9', name: 'app', pod_sandbox_id: 'sandbox-s' } };
    expect(await f.call('StartContainer', encodeMessage(NRI_TYPES.StartContainerRequest, req))).toEqual(Buffer.alloc(0));
    expect(await f.call('StateChange', encodeMessage(NRI_TYPES.StateChangeEvent, { event: NRI_EVENT.START_CONTAINER, ...req }))).toEqual(Buffer.alloc(0));
    expect(f.calls).toEqual(['start uid-s app', 'start uid-s app']);
    const refusing = fixture({ startContainer: async () => { throw new Error('ATTACH_NOT_IN_PLACE: not in place'); } });
    await expect(refusing.call('StartContainer', encodeMessage(NRI_TYPES.StartContainerRequest, req))).rejects.toThrow('ATTACH_NOT_IN_PLACE');
    await expect(refusing.call('StateChange', encodeMessage(NRI_TYPES.StateChangeEvent, { event: NRI_EVENT.START_CONTAINER, ...req }))).rejects.toThrow('ATTACH_NOT_IN_PLACE');
    expect(refusing.observed).toEqual([['StartContainer', 'error'], ['StartContainer', 'error']]);
  });

  it('collects a split Synchronize: more → {more: true} without updates, then one port.synchronize with everything', async () => {
    const f = fixture();
    const part = (pods: object[], containers: object[], more: boolean): Uint8Array => encodeMessage(NRI_TYPES.SynchronizeRequest, { pods, containers, more });
    const decode = (b: Buffer): unknown => decodeMessage(NRI_TYPES.SynchronizeResponse, b);
    expect(decode(await f.call('Synchronize', part([wirePod('a', '/run/netns/a')], [], true)))).toEqual({ update: [], more: true });
    expect(decode(await f.call('Synchronize', part([wirePod('b')], [{ id: 'c1', name: 'app', pod_sandbox_id: 'sandbox-a' }], true)))).toEqual({ update: [], more: true });
    expect(f.synced).toEqual([]);
    expect(decode(await f.call('Synchronize', part([wirePod('c')], [], false)))).toEqual({ update: [], more: false });
    expect(f.synced).toEqual([{
      pods: [
        { id: 'sandbox-a', uid: 'uid-a', name: 'a', namespace: 'default', netns: '/run/netns/a' },
        { id: 'sandbox-b', uid: 'uid-b', name: 'b', namespace: 'default' },
        { id: 'sandbox-c', uid: 'uid-c', name: 'c', namespace: 'default' },
      ],
      containers: [{ id: 'c1', name: 'app', podId: 'sandbox-a' }],
    }]);
    // The next synchronization starts afresh.
    await f.call('Synchronize', part([wirePod('d')], [], false));
    expect(f.synced[1]!.pods.map((p) => p.name)).toEqual(['d']);
    expect(f.observed).toEqual([['Synchronize', 'ok'], ['Synchronize', 'ok']]);
  });

  it('dispatches StateChange pod events (nri ≤ v0.11) to the same hooks as the dedicated RPCs', async () => {
    const f = fixture();
    const legacyRun = goldenRequest('legacy.runtime-to-plugin', 'StateChange', 0);
    await f.call('StateChange', legacyRun.request.payload);
    const event = (e: number, name: string): Uint8Array => encodeMessage(NRI_TYPES.StateChangeEvent, { event: e, pod: wirePod(name) });
    await f.call('StateChange', event(NRI_EVENT.STOP_POD_SANDBOX, 'web'));
    await f.call('StateChange', event(NRI_EVENT.REMOVE_POD_SANDBOX, 'web'));
    for (const other of [NRI_EVENT.POST_CREATE_CONTAINER, NRI_EVENT.POST_START_CONTAINER, NRI_EVENT.REMOVE_CONTAINER, NRI_EVENT.POST_UPDATE_POD_SANDBOX, 42]) {
      expect(await f.call('StateChange', event(other, 'other'))).toEqual(Buffer.alloc(0));
    }
    const run = goldenRequest('current.runtime-to-plugin', 'RunPodSandbox', 0);
    await f.call('RunPodSandbox', run.request.payload);
    expect(f.calls).toEqual(['run uid-web /var/run/netns/cni-web', 'stop uid-web', 'remove uid-web', 'run uid-web /var/run/netns/cni-web']);
  });

  it('answers CreateContainer with the port\'s adjustment', async () => {
    const f = fixture();
    const answer = await f.call('CreateContainer', goldenRequest('current.runtime-to-plugin', 'CreateContainer').request.payload);
    expect(decodeMessage<{ adjust: { env: unknown } }>(NRI_TYPES.CreateContainerResponse, answer).adjust.env).toEqual([{ key: 'K', value: 'V' }]);
    expect(f.calls).toEqual(['create uid-web app']);
  });

  it('lets a RunPodSandbox or CreateContainer error reach the runtime; Stop and Remove errors are only logged', async () => {
    const boom = async (): Promise<never> => { throw new Error('boom'); };
    const f = fixture({ runPodSandbox: boom, createContainer: boom, stopPodSandbox: boom, removePodSandbox: boom });
    const req = encodeMessage(NRI_TYPES.RunPodSandboxRequest, { pod: wirePod('x') });
    await expect(f.call('RunPodSandbox', req)).rejects.toThrow('boom');
    await expect(f.call('CreateContainer', encodeMessage(NRI_TYPES.CreateContainerRequest, { pod: wirePod('x'), container: { id: 'c', name: 'c' } }))).rejects.toThrow('boom');
    expect(await f.call('StopPodSandbox', req)).toEqual(Buffer.alloc(0));
    expect(await f.call('StateChange', encodeMessage(NRI_TYPES.StateChangeEvent, { event: NRI_EVENT.REMOVE_POD_SANDBOX, pod: wirePod('x') }))).toEqual(Buffer.alloc(0));
    expect(f.observed).toEqual([['RunPodSandbox', 'error'], ['CreateContainer', 'error'], ['StopPodSandbox', 'error'], ['RemovePodSandbox', 'error']]);
    expect(f.logged.filter(([l]) => l === 'error')).toHaveLength(4);
  });

  it('refuses a pod event without a pod with INVALID_ARGUMENT', async () => {
    const f = fixture();
    await expect(f.call('RunPodSandbox', new Uint8Array(0))).rejects.toMatchObject({ status: 3 });
  });

  it('reports a hook that finished after the runtime\'s deadline as late, and still answers', async () => {
    const f = fixture();
    const answer = await f.call('RunPodSandbox', encodeMessage(NRI_TYPES.RunPodSandboxRequest, { pod: wirePod('slow') }), ctx(Date.now() - 1));
    expect(answer).toEqual(Buffer.alloc(0));
    expect(f.observed).toEqual([['RunPodSandbox', 'late']]);
    expect(f.logged).toEqual([['warn', 'NRI RunPodSandbox answered after the runtime\'s deadline (the runtime closed the connection and let the event pass)']]);
  });

  it('answers every other Plugin method with an empty message (as nri\'s Go stub does), and notes Shutdown', async () => {
    const f = fixture();
    const own = ['Configure', 'Synchronize', 'Shutdown', 'RunPodSandbox', 'StopPodSandbox', 'RemovePodSandbox', 'CreateContainer', 'StartContainer', 'StateChange'];
    const others = Object.keys(PLUGIN_SERVICE.methods).filter((m) => !own.includes(m));
    expect(others).toEqual(['UpdatePodSandbox', 'PostUpdatePodSandbox', 'PostCreateContainer', 'PostStartContainer', 'UpdateContainer', 'PostUpdateContainer', 'StopContainer', 'RemoveContainer', 'ValidateContainerAdjustment']);
    for (const m of others) expect(await f.call(m, new Uint8Array(0))).toEqual(Buffer.alloc(0));
    expect(decodeMessage(NRI_TYPES.Empty, await f.call('Shutdown', new Uint8Array(0)))).toEqual({});
    expect(f.shutdowns()).toBe(1);
    expect(f.calls).toEqual([]);
  });
});
