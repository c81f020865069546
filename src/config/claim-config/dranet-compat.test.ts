import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { checkDocument } from './documents.ts';
import { parseNetworkConfig } from './parse.ts';
import { resolveDeviceConfig } from './resolve.ts';
import type { AllocationConfig } from './types.ts';

// Claims in DraNet's shape (test/fixtures/claim-config/dranet, one per
// configuration DraNet's e2e suite and user guide use; dranet.md §5.2) must
// parse unchanged: same field names, same values, nothing added or refused.
const DIR = new URL('../../../test/fixtures/claim-config/dranet/', import.meta.url);
const files = readdirSync(DIR).filter((f) => f !== 'user-guide-neighbors.yaml');

function documents(file: string): unknown[] {
  const text = readFileSync(new URL(file, DIR), 'utf8');
  return (parseAllDocuments(text, { version: '1.1' }) as { toJS(): unknown }[]).map((d) => d.toJS());
}

function dranetParameters(doc: unknown): unknown[] {
  const out: unknown[] = [];
  const walk = (v: unknown): void => {
    if (typeof v !== 'object' || v === null) return;
    const o = v as Record<string, unknown>;
    const opaque = o.opaque as Record<string, unknown> | undefined;
    if (opaque?.driver === 'dra.net') out.push(opaque.parameters);
    Object.values(o).forEach(walk);
  };
  walk(doc);
  return out;
}

describe('DraNet claims', () => {
  it('has fixtures for each configuration DraNet\'s e2e suite exercises', () => {
    expect(files).toEqual(expect.arrayContaining(['addresses.yaml', 'arp.yaml', 'routes.yaml', 'advanced.yaml', 'bigtcp.yaml',
      'disable-ebpf.yaml', 'pbr.yaml', 'vrf.yaml', 'template-two-devices.yaml', 'profile.yaml', 'deviceclass.json']));
  });

  for (const file of files) {
    it(`${file}: validates without a problem, and each config parses to itself`, () => {
      for (const doc of documents(file)) {
        expect(checkDocument(doc, new Set(['dra.net'])).issues).toEqual([]);
        for (const p of dranetParameters(doc)) expect(parseNetworkConfig(p)).toEqual({ ok: true, config: p });
      }
    });
  }

  it('the user guide\'s neighbors[].ipAddress is refused, as DraNet\'s own decoder refuses it, with a hint', () => {
    const [doc] = documents('user-guide-neighbors.yaml');
    expect(checkDocument(doc, new Set(['dra.net'])).issues).toEqual([
      { path: 'spec.devices.config[0].opaque.parameters.neighbors[0].ipAddress', message: 'unknown field (DraNet\'s user guide calls it ipAddress, but the field is destination)' },
      { path: 'spec.devices.config[0].opaque.parameters.neighbors[0].destination', message: 'required' },
    ]);
  });

  it('a DeviceClass config no longer shadows the claim\'s: they merge, the claim winning', () => {
    const [cls] = documents('deviceclass.json');
    const [claim] = documents('advanced.yaml');
    // the claim sets a MAC, which a class must allow (policy.ts)
    const classParameters = { ...(dranetParameters(cls)[0] as object), policy: { allowFields: ['interface.hardwareAddr'] } };
    const allocation: AllocationConfig[] = [
      { source: 'FromClass', requests: ['req-advanced'], opaque: { driver: 'dra.net', parameters: classParameters } },
      { source: 'FromClaim', opaque: { driver: 'dra.net', parameters: dranetParameters(claim)[0] } },
    ];
    const r = resolveDeviceConfig('req-advanced', allocation);
    expect(r.ok && r.config.interface).toMatchObject({ name: 'dranet0', mtu: 4321 }); // DraNet would take the class's 9000 and nothing else
    expect(r.ok && r.config.ethtool?.features).toEqual({
      'rx-gro-hw': true, 'tcp-segmentation-offload': false, 'generic-receive-offload': false, 'large-receive-offload': false,
    });
  });
});
