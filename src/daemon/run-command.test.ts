import { describe, expect, it } from 'vitest';
import { runOptions } from './run-command.ts';
import { DEFAULT_WRITE_BUDGET } from '../surfaces/kube/write-budget.ts';

const base = ['--node-name', 'n', '--sysfs-root', '/sys'];
/** What the kubelet puts in every pod's environment: the daemon then uses its service account (kube-config.ts). */
const inPod = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
const fieldOf = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return (e as { context?: { field?: string } }).context?.field;
  }
  return undefined;
};

describe('netclaim run: the slice write budget flags', () => {
  it('default to the publisher\'s budget (1/s, bursts of 5); 0 turns it off', () => {
    expect(runOptions(base, inPod).sliceWriteBudget).toEqual(DEFAULT_WRITE_BUDGET);
    expect(runOptions([...base, '--slice-write-rate', '0.5', '--slice-write-burst', '2'], inPod).sliceWriteBudget).toEqual({ ratePerSec: 0.5, burst: 2 });
    expect(runOptions([...base, '--slice-write-rate=0'], inPod).sliceWriteBudget).toEqual({ ratePerSec: 0, burst: 5 });
  });

  it('refuse values that cannot be right, naming the flag', () => {
    for (const v of ['-1', 'fast', '', 'Infinity']) expect(fieldOf(() => runOptions([...base, `--slice-write-rate=${v}`], {}))).toBe('--slice-write-rate');
    for (const v of ['0', '1.5', '-2', 'x']) expect(fieldOf(() => runOptions([...base, `--slice-write-burst=${v}`], {}))).toBe('--slice-write-burst');
  });
});

describe('netclaim run: which API server', () => {
  it('in a pod: the service account; --kubeconfig: that file; neither: a usage error naming --kubeconfig', () => {
    expect(runOptions(base, inPod).kubeConfig.target).toMatchObject({ source: 'in-cluster', server: 'https://10.96.0.1:443' });
    expect(fieldOf(() => runOptions(base, { HOME: '/nonexistent' }))).toBe('--kubeconfig');
    expect(fieldOf(() => runOptions([...base, '--kubeconfig', '/nonexistent/kubeconfig'], inPod))).toBe('--kubeconfig');
  });
});

describe('netclaim run: --containerd-socket', () => {
  it('is off unless given; takes an absolute path; refuses a relative one, an empty one, and --no-nri, naming the field', () => {
    expect(runOptions(base, inPod).containerdSocket).toBeUndefined();
    expect(runOptions([...base, '--containerd-socket', '/run/containerd/containerd.sock'], inPod).containerdSocket).toBe('/run/containerd/containerd.sock');
    for (const v of ['', 'run/containerd/containerd.sock']) expect(fieldOf(() => runOptions([...base, `--containerd-socket=${v}`], inPod))).toBe('--containerd-socket');
    expect(fieldOf(() => runOptions([...base, '--no-nri', '--containerd-socket', '/run/containerd/containerd.sock'], inPod))).toBe('--containerd-socket');
  });
});

describe('netclaim run: --container-gate', () => {
  it('defaults to create; takes start; refuses anything else naming the flag; --no-nri has no gate', () => {
    expect(runOptions(base, inPod).containerGate).toBe('create');
    expect(runOptions([...base, '--container-gate', 'start'], inPod).containerGate).toBe('start');
    for (const v of ['', 'Start', 'run', 'both']) expect(fieldOf(() => runOptions([...base, `--container-gate=${v}`], inPod))).toBe('--container-gate');
    expect(runOptions([...base, '--no-nri'], inPod).containerGate).toBeUndefined();
  });
});
