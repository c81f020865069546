import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { goldenRequest, goldenResponse } from '../../../test/nri/golden.ts';
import type { NriContainerAdjustment } from '../../driver/pod-port.ts';
import { adjustmentToWire, containerFromWire, podFromWire, requireContainer, requirePod } from './convert.ts';
import { decodeMessage, encodeMessage, NRI_TYPES, type WirePodRequest, type WirePodSandbox, type WireSynchronizeRequest } from './protos.ts';

const goldenSync = (): WireSynchronizeRequest =>
  decodeMessage<WireSynchronizeRequest>(NRI_TYPES.SynchronizeRequest, goldenRequest('current.runtime-to-plugin', 'Synchronize').request.payload);

const wirePod = (linux: WirePodSandbox['linux']): WirePodSandbox => ({
  id: 's', name: 'n', uid: 'u', namespace: 'ns', labels: {}, annotations: {}, runtime_handler: '', linux, pid: 0, ips: [],
});

describe('podFromWire', () => {
  it('takes the netns from the `network` namespace entry, as containerd fills it (captured Synchronize)', () => {
    const sync = goldenSync();
    expect(sync.pods.map(podFromWire)).toEqual([
      { id: 'sandbox-old-1', uid: 'uid-old-1', name: 'old-1', namespace: 'default', netns: '/var/run/netns/cni-old-1' },
      { id: 'sandbox-old-2', uid: 'uid-old-2', name: 'old-2', namespace: 'kube-system' },
    ]);
    expect(sync.pods[1]!.linux!.namespaces.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount']);
    expect(sync.containers.map(containerFromWire)).toEqual([{ id: 'ctr-old-1', name: 'app', podId: 'sandbox-old-1' }]);
    expect(sync.more).toBe(false);
  });

  it('leaves netns out for a host-network pod, an empty path or no linux section', () => {
    expect(podFromWire(wirePod({ cgroup_parent: '', namespaces: [{ type: 'network', path: '' }] })).netns).toBeUndefined();
    expect(podFromWire(wirePod(null))).toEqual({ id: 's', uid: 'u', name: 'n', namespace: 'ns' });
  });

  it('reads the StopPodSandbox a runtime sends without the netns, and RemovePodSandbox with it', () => {
    const stop = decodeMessage<WirePodRequest>(NRI_TYPES.StopPodSandboxRequest, goldenRequest('current.runtime-to-plugin', 'StopPodSandbox').request.payload);
    const remove = decodeMessage<WirePodRequest>(NRI_TYPES.RemovePodSandboxRequest, goldenRequest('current.runtime-to-plugin', 'RemovePodSandbox').request.payload);
    expect(podFromWire(stop.pod!)).toEqual({ id: 'sandbox-web', uid: 'uid-web', name: 'web', namespace: 'default' });
    expect(podFromWire(remove.pod!).netns).toBe('/var/run/netns/cni-web');
  });

  it('refuses a request without pod or container with INVALID_ARGUMENT', () => {
    expect(() => requirePod(null, 'RunPodSandbox')).toThrow(expect.objectContaining({ code: 'NRI_RPC_STATUS', status: 3 }));
    expect(() => requireContainer(null, 'CreateContainer')).toThrow(/carries no container/);
  });
});

describe('adjustmentToWire', () => {
  it('encodes env exactly as nri\'s Go stub does (captured CreateContainerResponse)', () => {
    const golden = goldenResponse('current.plugin-to-runtime', goldenRequest('current.runtime-to-plugin', 'CreateContainer').header.streamId);
    const ours = encodeMessage(NRI_TYPES.CreateContainerResponse, { adjust: adjustmentToWire({ env: [{ key: 'NETCLAIM_TEST_POD', value: 'web' }] }) });
    expect(Buffer.from(ours)).toEqual(Buffer.from(golden.response.payload));
  });

  it('turns devices into linux.devices with an optional file mode', () => {
    const wire = adjustmentToWire({ devices: [{ path: '/dev/infiniband/uverbs0', type: 'c', major: 231, minor: 192, fileMode: 0o666 }, { path: '/dev/x', type: 'b', major: 8, minor: 0 }] });
    expect(wire).toEqual({ linux: { devices: [
      { path: '/dev/infiniband/uverbs0', type: 'c', major: 231, minor: 192, file_mode: { value: 0o666 } },
      { path: '/dev/x', type: 'b', major: 8, minor: 0 },
    ] } });
    expect(adjustmentToWire({})).toBeUndefined();
    expect(adjustmentToWire({ devices: [], env: [] })).toBeUndefined();
  });

  it('round-trips through ContainerAdjustment protobuf for any devices and env', () => {
    const device = fc.record({
      path: fc.string({ minLength: 1 }), type: fc.constantFrom('c' as const, 'b' as const),
      major: fc.nat({ max: 4095 }), minor: fc.nat({ max: 1_048_575 }), fileMode: fc.option(fc.nat({ max: 0o7777 }), { nil: undefined }),
    }).map(({ fileMode, ...d }) => (fileMode === undefined ? d : { ...d, fileMode }));
    const adjustment = fc.record({ devices: fc.array(device, { maxLength: 5 }), env: fc.array(fc.record({ key: fc.string({ minLength: 1 }), value: fc.string() }), { maxLength: 5 }) });
    fc.assert(fc.property(adjustment, (a: NriContainerAdjustment) => {
      const wire = adjustmentToWire(a);
      const decoded = decodeMessage<{ env: { key: string; value: string }[]; linux: { devices: { path: string; type: string; major: number; minor: number; file_mode: { value: number } | null }[] } | null }>(
        NRI_TYPES.ContainerAdjustment, encodeMessage(NRI_TYPES.ContainerAdjustment, wire ?? {}));
      expect(decoded.env).toEqual(a.env);
      const devices = (decoded.linux?.devices ?? []).map((d) => ({ path: d.path, type: d.type, major: d.major, minor: d.minor, ...(d.file_mode ? { fileMode: d.file_mode.value } : {}) }));
      expect(devices).toEqual(a.devices);
    }), { numRuns: 300 });
  });
});
