/**
 * The admin filter over a list-valued attribute (--list-attributes): CEL sees
 * `ints` as a list of ints, so `in` works on it as on any list.
 */
import { describe, expect, it } from 'vitest';
import { compileDeviceFilter } from './filter-cel.ts';

describe('--filter over a list-valued numaNode', () => {
  it('sees the list as a CEL list of ints', () => {
    const f = compileDeviceFilter('1 in device.attributes["resource.kubernetes.io"].numaNode');
    expect(f.evaluate({ 'resource.kubernetes.io/numaNode': { ints: [0, 1] } })).toBe(true);
    expect(f.evaluate({ 'resource.kubernetes.io/numaNode': { ints: [2, 3] } })).toBe(false);
    expect(compileDeviceFilter('size(device.attributes["resource.kubernetes.io"].numaNode) == 2').evaluate({ 'resource.kubernetes.io/numaNode': { ints: [0, 1] } })).toBe(true);
  });
});
