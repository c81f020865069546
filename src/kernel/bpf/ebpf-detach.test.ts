import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../common/errors.ts';
import type { NetnsHandle } from '../netns/handle.ts';
import { NlWriter } from '../netlink/writer.ts';
import { TC_PARENT_INGRESS } from '../netlink/route/tc-filter-constants.ts';
import { tcFilterDelete } from '../netlink/route/tc-filter-ops.ts';
import { LINK_DETACH_ATTR_LEN, encodeLinkDetachAttr } from './bpf-attr.ts';
import { encodeXdpDetach, xdpDetachNetlink } from './xdp-detach.ts';

/** A handle whose route socket records each request instead of sending it. */
function recordingHandle(): { h: NetnsHandle; sent: { op: string; hex: string }[] } {
  const sent: { op: string; hex: string }[] = [];
  const writer = new NlWriter();
  const route = { writer, request: (w: NlWriter, op: string) => { sent.push({ op, hex: Buffer.from(w.bytes).toString('hex') }); } };
  return { h: { route } as unknown as NetnsHandle, sent };
}

describe('detach requests (exact bytes)', () => {
  it('BPF_LINK_DETACH: link_fd @0, 4 bytes', () => {
    const a = encodeLinkDetachAttr(9);
    expect(a).toHaveLength(LINK_DETACH_ATTR_LEN);
    expect(a.toString('hex')).toBe('09000000');
  });

  it('XDP off: RTM_SETLINK with IFLA_XDP{FD -1, FLAGS = the mode bit}', () => {
    const head = '34000000' + '1300' + '0000' + '00000000' + '00000000' // nlmsghdr: RTM_SETLINK, 52 bytes
      + '00' + '00' + '0000' + '07000000' + '00000000' + '00000000' // ifinfomsg, index 7
      + '1400' + '2b80' // IFLA_XDP (nested)
      + '0800' + '0100' + 'ffffffff' // IFLA_XDP_FD -1
      + '0800' + '0300'; // IFLA_XDP_FLAGS
    for (const [mode, flags] of [['generic', '02000000'], ['driver', '04000000'], ['offload', '08000000']] as const) {
      const w = encodeXdpDetach(new NlWriter(), 7, mode);
      expect(Buffer.from(w.bytes).toString('hex'), mode).toBe(head + flags);
    }
    const { h, sent } = recordingHandle();
    xdpDetachNetlink(h, 7, 'generic');
    expect(sent).toEqual([{ op: 'RTM_SETLINK', hex: head + '02000000' }]);
  });

  it('tcFilterDelete: RTM_DELTFILTER with parent, handle, prio|protocol, kind and chain', () => {
    const { h, sent } = recordingHandle();
    tcFilterDelete(h, 3, TC_PARENT_INGRESS, { handle: 1, prio: 10, protocol: 3, kind: 'bpf', chain: 0 });
    tcFilterDelete(h, 3, TC_PARENT_INGRESS, { handle: 0, prio: 0xffff, protocol: 0x86dd, kind: 'bpf' });
    expect(sent).toEqual([
      {
        op: 'RTM_DELTFILTER',
        hex: '34000000' + '2d00' + '0000' + '00000000' + '00000000' // nlmsghdr: RTM_DELTFILTER, 52 bytes
          + '00000000' + '03000000' + '01000000' + 'f2ffffff' + '0003' + '0a00' // tcmsg: ifindex 3, handle 1, ingress, info = 10<<16 | htons(3)
          + '0800' + '0100' + '62706600' // TCA_KIND "bpf"
          + '0800' + '0b00' + '00000000', // TCA_CHAIN 0
      },
      {
        op: 'RTM_DELTFILTER',
        hex: '2c000000' + '2d00' + '0000' + '00000000' + '00000000'
          + '00000000' + '03000000' + '00000000' + 'f2ffffff' + '86dd' + 'ffff' // handle 0: the whole prio 65535, ipv6
          + '0800' + '0100' + '62706600',
      },
    ]);
  });

  it('tcFilterDelete refuses out-of-range fields before sending anything', () => {
    const { h, sent } = recordingHandle();
    const f = { handle: 1, prio: 1, protocol: 3, kind: 'bpf' };
    for (const [ifindex, parent, ref] of [
      [0, TC_PARENT_INGRESS, f], [3, -1, f], [3, TC_PARENT_INGRESS, { ...f, prio: 0 }], [3, TC_PARENT_INGRESS, { ...f, prio: 0x10000 }],
      [3, TC_PARENT_INGRESS, { ...f, protocol: 0x10000 }], [3, TC_PARENT_INGRESS, { ...f, handle: -1 }],
    ] as const) {
      expect(() => tcFilterDelete(h, ifindex, parent, ref)).toThrow(ConfigError);
    }
    expect(sent).toEqual([]);
  });
});
