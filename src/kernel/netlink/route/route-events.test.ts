import { describe, expect, it } from 'vitest';
import { assertDecoderTotal } from '../../../../test/fuzz/decoder-fuzz.ts';
import { forEachMessage } from '../message.ts';
import { decodeRouteEvent, type RouteEvent } from './route-events.ts';
import { goldenFixture } from '../../../../test/fixtures/golden.ts';

const fixture = (path: string): Buffer => goldenFixture(`${path}`);

/** Re-types a captured NEW message as its DEL counterpart (type + 1), as the kernel does for deletions. */
const asDel = (b: Buffer): Buffer => {
  const c = Buffer.from(b);
  c.writeUInt16LE(c.readUInt16LE(4) + 1, 4);
  return c;
};

const decodeAll = (buf: Buffer): (RouteEvent | undefined)[] => {
  const out: (RouteEvent | undefined)[] = [];
  forEachMessage(buf, buf.length, (m) => { out.push(decodeRouteEvent(buf, m)); });
  return out;
};

const SEEDS = ['link/ncv0', 'addr/ipv4', 'addr/ipv6', 'route/ipv4-default-via', 'route/ipv6-multipath', 'rule/fwmark', 'neigh/v4-permanent'].map(fixture);

describe('decodeRouteEvent', () => {
  it('maps each captured message to its object and action', () => {
    const kinds = SEEDS.flatMap(decodeAll).map((e) => e && `${e.object}:${e.action}`);
    expect(kinds).toEqual(['link:new', 'addr:new', 'addr:new', 'route:new', 'route:new', 'rule:new', 'neigh:new']);
    const del = decodeAll(asDel(fixture('link/ncv0')))[0];
    expect(del).toMatchObject({ object: 'link', action: 'del', link: { name: 'ncv0' } });
    const delRoute = decodeAll(asDel(fixture('route/ipv4-default-via')))[0];
    expect(delRoute).toMatchObject({ object: 'route', action: 'del', route: { dst: 'default' } });
  });

  it('ignores message types it does not know', () => {
    const b = Buffer.from(SEEDS[0]!);
    b.writeUInt16LE(100, 4);
    expect(decodeAll(b)).toEqual([undefined]);
  });

  it('only ever raises ProtocolError on random and mutated input', () => {
    assertDecoderTotal(decodeAll, SEEDS, 4000);
  });
});
