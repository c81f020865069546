/**
 * The peers' specs (bench/e2e-peer.ts): the upstream DRA test driver's command line for the
 * e2e node, checked as a `--peer FILE.json` spec would be, and dranet's left as it was.
 */
import { describe, expect, it } from 'vitest';
import { parseForeignDriverSpec } from '../test/e2e/node/foreign-driver.ts';
import { dranetSpecFor, floorSpecFor } from './e2e-peer.ts';

describe('the floor\'s spec', () => {
  const spec = floorSpecFor('/cache/dra-test-driver');
  it('runs the upstream test driver as a kubelet plugin in the e2e node\'s kubelet dirs, with no NIC and no NRI', () => {
    expect(parseForeignDriverSpec(spec, 'floor')).toEqual(spec);
    expect(spec).toMatchObject({ label: 'floor', driverName: 'test-driver.cdi.k8s.io', nri: false, devices: 'simulated' });
    expect(spec.config).toBeUndefined();
    const argv = spec.command.slice(3);
    expect(argv[0]).toBe('/cache/dra-test-driver');
    expect(argv).toEqual(expect.arrayContaining(['kubelet-plugin', '--node-name={nodeName}', '--kubeconfig={kubeconfig}', '--cdi-dir=/var/run/cdi',
      '--datadir=/var/lib/kubelet/plugins', '--plugin-registration-path=/var/lib/kubelet/plugins_registry', '--drivername=test-driver.cdi.k8s.io']));
    // Shared flags before the subcommand, its own after it.
    expect(argv.indexOf('--kubeconfig={kubeconfig}')).toBeLessThan(argv.indexOf('kubelet-plugin'));
    expect(argv.indexOf('--node-name={nodeName}')).toBeGreaterThan(argv.indexOf('kubelet-plugin'));
    // Its socket's folder is made first (it makes only the parent).
    expect(spec.command.slice(0, 3)).toEqual(['/bin/sh', '-c', 'mkdir -p /var/lib/kubelet/plugins/test-driver.cdi.k8s.io && exec "$0" "$@"']);
  });
});

describe('dranet\'s spec', () => {
  it('runs its binary itself, with a NIC and an NRI plugin (the floor\'s socket folder is none of its business)', () => {
    const spec = dranetSpecFor('/cache/dranet');
    expect(parseForeignDriverSpec(spec, 'dranet')).toEqual(spec);
    expect(spec.command[0]).toBe('/cache/dranet');
    expect(spec.command.join(' ')).not.toContain('mkdir');
    expect(spec.nri).toBeUndefined();
    expect(spec.devices).toBeUndefined();
    expect(spec.selector).toContain('{ifName}');
  });
});
