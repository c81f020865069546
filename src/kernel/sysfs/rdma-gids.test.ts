/**
 * gidEntriesFor over a sysfs tree laid out as the kernel's
 * (Documentation/ABI/stable/sysfs-class-infiniband: ports/<N>/gids/<i>,
 * ports/<N>/gid_attrs/ndevs/<i>, ports/<N>/gid_attrs/types/<i>); unused
 * entries read as the zero GID and have no readable attributes (the kernel
 * answers EINVAL; here the files are absent).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { gidEntriesFor } from './rdma-gids.ts';

const ZERO = '0000:0000:0000:0000:0000:0000:0000:0000';
const V4 = '0000:0000:0000:0000:0000:ffff:0a53:000b'; // 10.83.0.11
let root = '';
afterEach(() => rmSync(root, { recursive: true, force: true }));

function tree(entries: readonly (readonly [string, string?, string?])[]): string {
  root = mkdtempSync(join(tmpdir(), 'nc-gids-'));
  const port = join(root, 'class', 'infiniband', 'rxe0', 'ports', '1');
  for (const d of ['gids', 'gid_attrs/ndevs', 'gid_attrs/types']) mkdirSync(join(port, d), { recursive: true });
  entries.forEach(([gid, type, ndev], i) => {
    writeFileSync(join(port, 'gids', String(i)), `${gid}\n`);
    if (type !== undefined) writeFileSync(join(port, 'gid_attrs', 'types', String(i)), `${type}\n`);
    if (ndev !== undefined) writeFileSync(join(port, 'gid_attrs', 'ndevs', String(i)), `${ndev}\n`);
  });
  return root;
}

describe('gidEntriesFor', () => {
  it('the entries with that GID, by index, with their type and netdev; others and unused ones are not read', () => {
    const r = tree([['fe80:0000:0000:0000:b0d3:58ff:fe7d:1a2b', 'IB/RoCE v1', 'dummy0'], [ZERO], [V4, 'IB/RoCE v1', 'net1'], [V4, 'RoCE v2', 'net1']]);
    expect(gidEntriesFor('rxe0', 1, V4, r)).toEqual([
      { index: 2, gid: V4, type: 'IB/RoCE v1', ndev: 'net1' },
      { index: 3, gid: V4, type: 'RoCE v2', ndev: 'net1' },
    ]);
  });
  it('nothing for a missing device or port, or a name that is not a plain sysfs name', () => {
    const r = tree([[V4, 'RoCE v2', 'net1']]);
    expect(gidEntriesFor('rxe1', 1, V4, r)).toEqual([]);
    expect(gidEntriesFor('rxe0', 2, V4, r)).toEqual([]);
    expect(gidEntriesFor('../rxe0', 1, V4, r)).toEqual([]);
    expect(gidEntriesFor('rxe0', 0, V4, r)).toEqual([]);
  });
});
