/**
 * A foreign driver's spec as read from `--peer FILE.json`: every field checked with an error
 * naming it, the placeholders filled in, and the two shapes the bench knows (a NIC driver with
 * an NRI plugin, as dranet; a null driver with simulated devices and none, as the floor).
 */
import { describe, expect, it } from 'vitest';
import { fillIn, parseForeignDriverSpec } from './foreign-driver.ts';

const nic = {
  label: 'mydriver', command: ['/opt/d', '--kubeconfig={kubeconfig}', '--only={ifName}'], driverName: 'net.example.com',
  deviceClass: 'mydriver', selector: 'device.attributes["net.example.com"].ifName == "{ifName}"',
};

describe('parseForeignDriverSpec', () => {
  it('takes a NIC driver and a null driver', () => {
    expect(parseForeignDriverSpec(nic, 'f.json')).toEqual(nic);
    const floor = { ...nic, selector: 'device.driver == "net.example.com"', nri: false, devices: 'simulated' };
    expect(parseForeignDriverSpec(floor, 'f.json')).toEqual(floor);
  });

  it('names the field that is wrong', () => {
    expect(() => parseForeignDriverSpec({ ...nic, nri: 'no' }, 'f.json')).toThrow('f.json: nri: true or false');
    expect(() => parseForeignDriverSpec({ ...nic, devices: 'fake' }, 'f.json')).toThrow('f.json: devices: "nic" or "simulated"');
    expect(() => parseForeignDriverSpec({ ...nic, selector: '' }, 'f.json')).toThrow('f.json: selector: a non-empty string');
    expect(() => parseForeignDriverSpec({ ...nic, command: [] }, 'f.json')).toThrow('f.json: command: a non-empty array');
  });
});

describe('fillIn', () => {
  it('fills the placeholders it is given and leaves the others', () => {
    expect(fillIn(nic.command, { kubeconfig: '/k', ifName: 'ncpeer0' })).toEqual(['/opt/d', '--kubeconfig=/k', '--only=ncpeer0']);
    // A null driver gets no interface: `{ifName}` stays as written (its spec has none).
    expect(fillIn(['--only={ifName}', '{nodeName}'], { nodeName: 'n' })).toEqual(['--only={ifName}', 'n']);
  });
});
