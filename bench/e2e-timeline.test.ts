/**
 * The e2e bench's log reading, on lines captured from one of its runs on the e2e node
 * (kubelet 1.37.2 --v=2, containerd 2.4.2, netclaim's pino log; pod bench-e2e/nic-7,
 * 2026-12-04), shortened to the lines the timeline reads plus one of another pod.
 */
import { describe, expect, it } from 'vitest';
import { goDurationMs, klogGrpcCalls, klogPeerCalls, klogTime, logrusTime, podTimeline, segments } from './e2e-timeline.ts';

const SB = 'a60486b4dabb443167e0169557b10947f106ff713a6010c12cc41f53ba5598e0';
const C = 'e2f8f27b0df7465878c162a96eabf149557ab78359e8496796c7e943217b6e03';
const UID = 'f3942683-b877-455c-88c1-907834ebf344';
const kubelet = [
  'I1204 23:32:08.466074   12609 kubelet.go:2760] "SyncLoop ADD" source="api" pods=["bench-e2e/nic-7"]',
  'I1204 23:32:08.470000   12609 kubelet.go:2760] "SyncLoop ADD" source="api" pods=["bench-e2e/nic-70"]',
  'I1204 23:32:09.192490   12609 kubelet.go:2776] "SyncLoop DELETE" source="api" pods=["bench-e2e/nic-7"]',
].join('\n');
const containerd = [
  `time="2026-12-04T23:32:08.513444430Z" level=info msg="RunPodSandbox for name:\\"nic-7\\" uid:\\"${UID}\\" namespace:\\"bench-e2e\\""`,
  `time="2026-12-04T23:32:08.772137758Z" level=info msg="RunPodSandbox for name:\\"nic-7\\" uid:\\"${UID}\\" namespace:\\"bench-e2e\\" returns sandbox id \\"${SB}\\""`,
  `time="2026-12-04T23:32:08.775498673Z" level=info msg="CreateContainer within sandbox \\"${SB}\\" for container name:\\"c\\""`,
  `time="2026-12-04T23:32:08.818683923Z" level=info msg="CreateContainer within sandbox \\"${SB}\\" for name:\\"c\\" returns container id \\"${C}\\""`,
  `time="2026-12-04T23:32:09.110145680Z" level=info msg="StartContainer for \\"${C}\\" returns successfully"`,
  `time="2026-12-04T23:32:13.267483786Z" level=info msg="StopPodSandbox for \\"${SB}\\""`,
  `time="2026-12-04T23:32:13.652243664Z" level=info msg="StopPodSandbox for \\"${SB}\\" returns successfully"`,
].join('\n');
const netclaim = [
  `{"level":"info","time":"2026-12-04T23:32:08.508Z","pid":1,"claim":"bench-e2e/nic-7-nic-xm5mq","podUid":"${UID}","ms":16.267,"steps":{"fetch":7.827,"plan":1.462,"cdi":1.061,"store":4.919},"fromStore":false,"msg":"claim prepared"}`,
  `{"level":"info","time":"2026-12-04T23:32:08.771Z","pid":1,"component":"nri","podUid":"${UID}","hook":"run","ms":60.176,"steps":{"journal":1.342,"attach":58.092},"pod":"bench-e2e/nic-7","msg":"nri run"}`,
  `{"level":"info","time":"2026-12-04T23:32:08.812Z","pid":1,"component":"nri","podUid":"${UID}","hook":"create","ms":15.654,"steps":{"check":15.399},"pod":"bench-e2e/nic-7","msg":"nri create"}`,
  `{"level":"info","time":"2026-12-04T23:32:13.598Z","pid":1,"component":"nri","podUid":"${UID}","hook":"stop","ms":150.33,"steps":{"detach":144.028,"journal":5.285},"pod":"bench-e2e/nic-7","msg":"nri stop"}`,
  'not json',
].join('\n');

describe('e2e timeline', () => {
  const createdAt = new Date(2026, 11, 4, 23, 32, 8, 400).getTime(); // klog is local time; the bench and the node share the clock and zone
  const deletedAt = new Date(2026, 11, 4, 23, 32, 9, 150).getTime();

  it('reads klog and logrus times', () => {
    expect(klogTime('I1204 23:32:08.466074   1 x.go:1] "m"', createdAt)).toBeCloseTo(createdAt + 66.074, 3);
    expect(logrusTime('time="2026-12-04T23:32:08.513444430Z" level=info')).toBeCloseTo(Date.parse('2026-12-04T23:32:08.513Z') + 0.44443, 3);
    expect(klogTime('not klog', createdAt)).toBeUndefined();
  });

  it('places one pod\'s kubelet, containerd and netclaim stamps from its create and delete', () => {
    const offset = (iso: string): number => Date.parse(iso) - createdAt; // containerd and pino write UTC
    const t = podTimeline({ namespace: 'bench-e2e', name: 'nic-7', uid: UID, createdAt, deletedAt }, { kubelet, containerd, netclaim });
    expect(t.kubeletAddMs).toBeCloseTo(66.074, 3);
    expect(t.sandboxStartMs).toBeCloseTo(offset('2026-12-04T23:32:08.513444430Z'), 0);
    expect(t.sandboxEndMs).toBeCloseTo(offset('2026-12-04T23:32:08.772137758Z'), 0);
    expect(t.containerCreateMs).toBeCloseTo(offset('2026-12-04T23:32:08.775498673Z'), 0);
    expect(t.containerStartedMs).toBeCloseTo(offset('2026-12-04T23:32:09.110145680Z'), 0);
    expect(t.prepare).toEqual({ endMs: offset('2026-12-04T23:32:08.508Z'), ms: 16.267, steps: { fetch: 7.827, plan: 1.462, cdi: 1.061, store: 4.919 } });
    expect(t.run?.steps).toEqual({ journal: 1.342, attach: 58.092 });
    expect(t.create?.ms).toBe(15.654);
    expect(t.kubeletDeleteMs).toBeCloseTo(42.49, 3);
    expect(t.stop?.ms).toBe(150.33);
    expect(t.stopSandboxStartMs).toBeGreaterThan(4000);
    expect(t.stopSandboxEndMs).toBeGreaterThan(t.stopSandboxStartMs!);
    const seg = segments(t, 800);
    expect(Object.keys(seg)).toEqual(['toKubelet', 'kubeletToSandbox', 'runPodSandbox', 'toContainer', 'container', 'toReady']);
    expect(Object.values(seg).reduce((a, b) => a + b, 0)).toBeCloseTo(800, 3);
  });
});

describe('a klog peer\'s own calls (dranet v1.0.1 on the e2e node, 2026-12-05)', () => {
  const log = [
    'I1205 02:22:15.782651   11074 nri_hooks.go:111] RunPodSandbox Pod bench-e2e/netclaim-warm UID 9268dc77-dd0e-46df-abd7-bcf23df90214 took 9.814µs',
    'I1205 02:22:29.924840   11074 dra_hooks.go:143] PrepareResourceClaim Claim bench-e2e/dranet-nic-0-nic-bvgcd  took 471.062µs',
    'I1205 02:22:29.924840   11074 dra_hooks.go:143] PrepareResourceClaim Claim bench-e2e/dranet-nic-0-nic-bvgcd-x  took 5ms',
    'I1205 02:22:31.217664   11074 nri_hooks.go:111] RunPodSandbox Pod bench-e2e/dranet-nic-0 UID 67e936d7-4aeb-4e5c-9782-8da3d2185c0d took 52.294836ms',
    'I1205 02:22:31.217664   11074 nri_hooks.go:111] RunPodSandbox Pod bench-e2e/dranet-nic-00 UID 67e936d7-4aeb-4e5c-9782-8da3d2185c0e took 1.5s',
  ].join('\n');
  it('reads Go durations', () => {
    expect(goDurationMs('9.814µs')).toBeCloseTo(0.009814);
    expect(goDurationMs('1m2.5s')).toBe(62_500);
    expect(goDurationMs('12')).toBeUndefined();
    expect(goDurationMs('')).toBeUndefined();
  });
  it('takes the pod\'s template claim and sandbox hook only', () => {
    const c = klogPeerCalls(log, { namespace: 'bench-e2e', name: 'dranet-nic-0' });
    expect(c.prepareMs).toBeCloseTo(0.471062);
    expect(c.runPodSandboxMs).toBeCloseTo(52.294836);
    expect(klogPeerCalls(log, { namespace: 'bench-e2e', name: 'dranet-plain-0' })).toEqual({});
  });
});

describe('the floor\'s Prepare from the kubelet plugin helper\'s gRPC log (dra-test-driver v1.37.2 -v=6 on the e2e node, 2026-12-05)', () => {
  // Captured lines, responses shortened; the last two are made from them for another pod whose name
  // begins with this one's (floor-nic-10) and for a failed call (logged at E, never "succeeded").
  const req = (id: number, t: string, claim: string): string =>
    `I1205 ${t}     464 nonblockinggrpcserver.go:150] "handling request" logger="dra" requestID=${id} method="/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/NodePrepareResources" request="claims:{namespace:\\"bench-e2e\\" uid:\\"9e8ccf1f-dc52-4bef-9a99-86fb465449ef\\" name:\\"${claim}\\"}"`;
  const ok = (id: number, t: string): string =>
    `I1205 ${t}     464 nonblockinggrpcserver.go:161] "handling request succeeded" logger="dra" requestID=${id} method="/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/NodePrepareResources" response="claims:{key:\\"9e8ccf1f-dc52-4bef-9a99-86fb465449ef\\" value:{devices:{request_names:\\"nic\\"}}}"`;
  const log = [
    req(6, '05:33:10.390685', 'floor-nic-0-nic-ms9qz'),
    'I1205 05:33:10.392000     464 round_trippers.go:632] "Response" logger="dra" requestID=6 method="/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/NodePrepareResources" verb="GET" url="https://127.0.0.1:6443/apis/resource.k8s.io/v1/namespaces/bench-e2e/resourceclaims/floor-nic-0-nic-ms9qz" status="200 OK" milliseconds=2',
    ok(6, '05:33:10.434204'),
    req(8, '05:33:18.420216', 'floor-nic-1-nic-9dtzg'),
    'I1205 05:33:18.421000     464 nonblockinggrpcserver.go:150] "handling request" logger="dra" requestID=9 method="/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/NodeUnprepareResources" request="claims:{namespace:\\"bench-e2e\\" uid:\\"x\\" name:\\"floor-nic-1-nic-9dtzg\\"}"',
    ok(8, '05:33:18.425080'),
    req(10, '05:34:00.000000', 'floor-nic-10-nic-abcde'),
    ok(10, '05:34:00.100000'),
    req(11, '05:34:01.000000', 'floor-nic-2-nic-fghij'),
    'E1205 05:34:01.200000     464 nonblockinggrpcserver.go:159] "handling request failed" err="x" logger="dra" requestID=11 method="/k8s.io.kubelet.pkg.apis.dra.v1.DRAPlugin/NodePrepareResources"',
  ].join('\n');
  it('times the pod\'s own NodePrepareResources call, request to answer', () => {
    expect(klogGrpcCalls(log, { namespace: 'bench-e2e', name: 'floor-nic-0' }).prepareMs).toBeCloseTo(43.519, 3);
    expect(klogGrpcCalls(log, { namespace: 'bench-e2e', name: 'floor-nic-1' }).prepareMs).toBeCloseTo(4.864, 3);
  });
  it('leaves out other pods, other namespaces, Unprepare and calls that failed', () => {
    expect(klogGrpcCalls(log, { namespace: 'bench-e2e', name: 'floor-plain-0' })).toEqual({});
    expect(klogGrpcCalls(log, { namespace: 'other', name: 'floor-nic-0' })).toEqual({});
    expect(klogGrpcCalls(log, { namespace: 'bench-e2e', name: 'floor-nic-2' })).toEqual({});
    expect(klogGrpcCalls(log, { namespace: 'bench-e2e', name: 'floor-nic-10' }).prepareMs).toBeCloseTo(100, 3);
  });
});

describe('the early attach\'s line (netclaim with --containerd-socket on the e2e node, 2026-12-05)', () => {
  // Captured from one bench run's netclaim.log: the early attach of bench-e2e/nic-0, then its RunPodSandbox finding it done.
  const uid = 'b465e82d-8f07-4d30-a723-efca0da34dbb';
  const log = [
    `{"level":"info","time":"2026-12-05T17:36:09.532Z","pid":1,"component":"nri","podUid":"${uid}","hook":"early","ms":26.569,"steps":{"lock":0.019,"refresh":0.036,"queue":0.017,"netns":0.032,"journal":1.085,"pin":0.677,"yield":0.193,"attach.find":0.589,"attach.host-down":0.002,"attach.move":22.717,"attach.addresses":0.339,"attach.up":0.124,"attach":23.919,"inPlace":0.307},"pod":"bench-e2e/nic-0","msg":"early attach"}`,
    `{"level":"info","time":"2026-12-05T17:36:09.587Z","pid":1,"component":"nri","podUid":"${uid}","hook":"run","ms":3.831,"steps":{"lock":0.021,"refresh":0.272,"journalAfter":1.272,"queue":2.208,"early":0},"pod":"bench-e2e/nic-0","msg":"nri run"}`,
  ].join('\n');
  it('is the pod\'s `early` call, apart from its RunPodSandbox', () => {
    const createdAt = Date.parse('2026-12-05T17:36:09.300Z');
    const t = podTimeline({ namespace: 'bench-e2e', name: 'nic-0', uid, createdAt }, { kubelet: '', containerd: '', netclaim: log });
    expect(t.early).toMatchObject({ endMs: 232, ms: 26.569, steps: expect.objectContaining({ 'attach.move': 22.717 }) });
    expect(t.run).toMatchObject({ endMs: 287, ms: 3.831, steps: expect.objectContaining({ early: 0 }) });
  });
});
