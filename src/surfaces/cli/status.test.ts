/**
 * `netclaim status` from a state directory written by the real claim store
 * (the daemon's own code), with an inventory as the host would show it.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceName } from '../../common/ids.ts';
import type { ClaimRecord, DevicePlan } from '../../driver/record-model.ts';
import { ClaimStore } from '../../driver/state/claim-store.ts';
import type { Device, Inventory } from '../../inventory/model.ts';
import { readClaimRecords, runStatus } from './status.ts';
import { formatStatus, statusReport } from './status-report.ts';

const roots: string[] = [];
afterEach(() => { for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true }); });

const plan = (device: string, ifName: string): DevicePlan => ({
  request: 'nic', pool: 'node-1', device, identity: { kind: 'pci', ifName, pciAddress: `0000:3b:00.${device.slice(-1)}` }, workloadEnv: false, env: [], cdiDeviceIds: [],
});
const rec = (uid: string, name: string, devices: DevicePlan[], attachment?: ClaimRecord['attachment']): ClaimRecord => ({
  version: 1, claim: { uid, namespace: 'team', name }, podUid: `pod-${name}`, podName: `job-${name}`, preparedAt: '2026-12-04T10:00:00.000Z', devices,
  ...(attachment === undefined ? {} : { attachment }),
});
const UIDS = ['0b0e1a6c-0000-4000-8000-000000000001', '0b0e1a6c-0000-4000-8000-000000000002', '0b0e1a6c-0000-4000-8000-000000000003'];

const hostDevice = (name: string, ifName: string, present: boolean, state = 'up'): Device => ({
  name: name as DeviceName, kind: 'pci', ifName, pciAddress: `0000:3b:00.${name.slice(-1)}` as NonNullable<Device["pciAddress"]>, charDevices: [], netdevPresent: present, dropped: [],
  attributes: { 'netclaim.dev/state': { string: state } },
});

/** A state directory as the daemon leaves it: one claim in a pod, one prepared, one interrupted mid-attach; plus one bad file. */
function stateDir(): string {
  const root = mkdtempSync(join(tmpdir(), 'nc-status-'));
  roots.push(root);
  const store = ClaimStore.open(root);
  store.put(rec(UIDS[0]!, 'a', [plan('pci-0000-3b-00-0', 'ens1f0')], {
    state: 'attached', sandboxId: 's1', netns: '/var/run/netns/cni-1', devices: [{ device: 'pci-0000-3b-00-0', ifIndex: 4, name: 'net1', mac: '02:00:00:00:00:01', ips: [] }], at: '2026-12-04T10:00:01.000Z',
  }));
  store.put(rec(UIDS[1]!, 'b', [plan('pci-0000-3b-00-1', 'ens1f1')]));
  store.put(rec(UIDS[2]!, 'c', [plan('pci-0000-3b-00-2', 'ens1f2')], {
    state: 'attaching', sandboxId: 's3', netns: '/var/run/netns/cni-3', devices: [], at: '2026-12-04T10:00:03.000Z',
  }));
  store.close();
  writeFileSync(join(root, '0b0e1a6c-0000-4000-8000-00000000000f.json'), '{"version": 1, "claim": ');
  return root;
}

describe('netclaim status', () => {
  it('reads the records without touching the directory, and reports each device with state, owner, health and problem', () => {
    const dir = stateDir();
    const before = readdirSync(dir).sort();
    const { records, unreadable } = readClaimRecords(dir);
    expect(readdirSync(dir).sort()).toEqual(before); // nothing moved aside, nothing cleaned
    expect(records.map((r) => r.claim.name).sort()).toEqual(['a', 'b', 'c']);
    expect([...unreadable.keys()]).toEqual([join(dir, '0b0e1a6c-0000-4000-8000-00000000000f.json')]);

    const inventory = {
      devices: [
        hostDevice('pci-0000-3b-00-1', 'ens1f1', true), hostDevice('pci-0000-3b-00-3', 'ens1f3', true, 'lowerlayerdown'), hostDevice('pci-0000-3b-00-0', 'ens1f0', false),
      ],
      exclusions: [],
    } as unknown as Inventory;
    const rows = statusReport({
      inventory, records, unreadable, domain: 'netclaim.dev',
      podHealth: (d) => (d === 'pci-0000-3b-00-0' ? { health: 'unhealthy', message: 'net1: no carrier (operstate lowerlayerdown)' } : undefined),
    });
    expect(rows).toEqual([
      { device: 'pci-0000-3b-00-0', kind: 'pci', interface: 'net1', pciAddress: '0000:3b:00.0', state: 'in-pod', pod: 'team/job-a', claim: 'team/a', claimUid: UIDS[0], since: '2026-12-04T10:00:01.000Z', health: 'unhealthy', problem: 'net1: no carrier (operstate lowerlayerdown)' },
      { device: 'pci-0000-3b-00-1', kind: 'pci', interface: 'ens1f1', pciAddress: '0000:3b:00.1', state: 'prepared', pod: 'team/job-b', claim: 'team/b', claimUid: UIDS[1], since: '2026-12-04T10:00:00.000Z', health: 'healthy' },
      { device: 'pci-0000-3b-00-2', kind: 'pci', interface: 'ens1f2', pciAddress: '0000:3b:00.2', state: 'attaching', pod: 'team/job-c', claim: 'team/c', claimUid: UIDS[2], since: '2026-12-04T10:00:03.000Z', health: 'unknown', problem: 'attach of pod job-c interrupted at 2026-12-04T10:00:03.000Z (the daemon finishes or undoes it)' },
      { device: 'pci-0000-3b-00-3', kind: 'pci', interface: 'ens1f3', pciAddress: '0000:3b:00.3', state: 'free', health: 'unhealthy', problem: 'link lowerlayerdown' },
    ]);
    const table = formatStatus(rows, unreadable).split('\n');
    expect(table[0]).toMatch(/^DEVICE\s+STATE\s+INTERFACE\s+PCI\s+RDMA\s+POD\s+CLAIM\s+HEALTH\s+PROBLEM$/);
    expect(table.find((l) => l.startsWith('pci-0000-3b-00-0'))).toMatch(/in-pod\s+net1\s+.*team\/job-a\s+team\/a\s+unhealthy\s+net1: no carrier/);
    expect(table).toContain('UNREADABLE CLAIM RECORDS');

    // A healthy device in a pod whose error counters are not zero: they are its last problem (carrier changes alone are not).
    const counted = statusReport({
      inventory, records, unreadable, domain: 'netclaim.dev',
      podHealth: () => ({ health: 'healthy' }),
      counters: (d) => (d === 'pci-0000-3b-00-0' ? new Map([['rx_crc_errors', 3], ['rx_errors', 3], ['carrier_changes', 4], ['rx_dropped', 9]]) : undefined),
    });
    expect(counted[0]).toMatchObject({ health: 'healthy', problem: 'error counters: rx_crc_errors 3, rx_errors 3' });
  });

  it('usage errors exit 2 naming the flag; a missing state directory is no claims', async () => {
    const err: string[] = [];
    expect(await runStatus(['--state-dir', ''], () => {}, (l) => err.push(l))).toBe(2);
    expect(err[0]).toContain('--state-dir');
    expect(await runStatus(['--bogus'], () => {}, () => {})).toBe(2);
    expect(readClaimRecords('/nonexistent/netclaim-state')).toEqual({ records: [], unreadable: new Map() });
  });
});
