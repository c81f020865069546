import { describe, expect, it } from 'vitest';
import { xdpAttachments } from './ebpf-xdp.ts';

describe('xdpAttachments (IFLA_XDP → mode/program pairs)', () => {
  it('has none without an IFLA_XDP report', () => {
    expect(xdpAttachments(undefined)).toEqual([]);
  });

  it('takes the mode\'s own id in a single mode, else IFLA_XDP_PROG_ID', () => {
    expect(xdpAttachments({ mode: 'generic', progId: 7, genericProgId: 7 })).toEqual([{ mode: 'generic', progId: 7 }]);
    expect(xdpAttachments({ mode: 'driver', progId: 8 })).toEqual([{ mode: 'driver', progId: 8 }]);
    expect(xdpAttachments({ mode: 'offload', offloadProgId: 9 })).toEqual([{ mode: 'offload', progId: 9 }]);
  });

  it('lists each mode in multi mode, driver, generic, offload', () => {
    expect(xdpAttachments({ mode: 'multi', offloadProgId: 3, driverProgId: 2 })).toEqual([
      { mode: 'driver', progId: 2 }, { mode: 'offload', progId: 3 },
    ]);
  });

  it('ignores a zero or missing id', () => {
    expect(xdpAttachments({ mode: 'driver', progId: 0 })).toEqual([]);
    expect(xdpAttachments({ mode: 'multi' })).toEqual([]);
  });
});
