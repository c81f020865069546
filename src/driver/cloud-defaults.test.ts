import { describe, expect, it } from 'vitest';
import { cloudDefaultConfig } from './cloud-defaults.ts';

describe('cloudDefaultConfig', () => {
  it('parses a suggested config into a claim-shaped config', () => {
    // The shape src/inventory/cloud/suggested-config.ts gives a secondary GCE NIC (docs/cloud.md).
    const r = cloudDefaultConfig({
      cloud: 'gce', interface: { addresses: ['10.128.1.7/24'], mtu: 8896 },
      routes: [{ destination: '0.0.0.0/0', gateway: '10.128.1.1', table: 101 }], rules: [{ source: '10.128.1.7/32', table: 101 }],
    });
    expect(r).toEqual({
      ok: true,
      config: {
        interface: { addresses: ['10.128.1.7/24'], mtu: 8896 },
        routes: [{ destination: '0.0.0.0/0', gateway: '10.128.1.1', table: 101 }], rules: [{ source: '10.128.1.7/32', table: 101 }],
      },
    });
  });

  it('refuses metadata the schema refuses, naming the field', () => {
    const r = cloudDefaultConfig({ cloud: 'aws', interface: { addresses: ['10.0.0.300/24'], mtu: 70_000 } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toEqual([
      expect.stringMatching(/^suggestedConfig\.interface\.addresses\[0\]: /),
      expect.stringMatching(/^suggestedConfig\.interface\.mtu: /),
    ]);
  });
});
