import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { rdmaPortCountersRead } from './rdma-counters.ts';

let root: string | undefined;
afterEach(() => { if (root) rmSync(root, { recursive: true, force: true }); });

/**
 * A sysfs tree laid out as Documentation/ABI/stable/sysfs-class-infiniband
 * describes it (`ports/N/counters/` standard PortCounters, `ports/N/hw_counters/`
 * the provider's, with `lifespan`); names as an mlx5 device shows them.
 */
function tree(files: Record<string, string>): string {
  root = mkdtempSync(join(tmpdir(), 'nc-rdma-counters-'));
  for (const [p, v] of Object.entries(files)) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), `${v}\n`);
  }
  return root;
}

describe('rdmaPortCountersRead', () => {
  it('reads every port\'s standard and provider counters, leaving out settings and non-numbers', () => {
    const r = tree({
      'class/infiniband/mlx5_0/ports/1/counters/symbol_error': '3',
      'class/infiniband/mlx5_0/ports/1/counters/port_rcv_errors': '0',
      'class/infiniband/mlx5_0/ports/1/counters/port_xmit_data': 'N/A',
      'class/infiniband/mlx5_0/ports/1/hw_counters/out_of_buffer': '12',
      'class/infiniband/mlx5_0/ports/1/hw_counters/lifespan': '10',
      'class/infiniband/mlx5_0/ports/2/counters/link_downed': '1',
    });
    expect(rdmaPortCountersRead('mlx5_0', r)).toEqual([
      { port: 1, counters: { port_rcv_errors: 0, symbol_error: 3 }, hw: { out_of_buffer: 12 } },
      { port: 2, counters: { link_downed: 1 }, hw: {} },
    ]);
  });

  it('a device not in sysfs, or a name that is a path, reads nothing', () => {
    const r = tree({ 'class/infiniband/mlx5_0/ports/1/counters/symbol_error': '3' });
    expect(rdmaPortCountersRead('mlx5_9', r)).toEqual([]);
    expect(rdmaPortCountersRead('../mlx5_0', r)).toEqual([]);
  });
});
