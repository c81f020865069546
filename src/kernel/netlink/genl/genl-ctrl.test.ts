import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertDecoderTotal } from '../../../../test/fuzz/decoder-fuzz.ts';
import { forEachMessage } from '../message.ts';
import { NlWriter } from '../writer.ts';
import { CTRL_CMD, GENL_ID_CTRL, GENL_OP_FLAG } from './genl-constants.ts';
import { decodeCtrlFamily, decodeGenlHeader, encodeCtrlGetFamily, encodeGenlHeader, encodeGenlRequest } from './genl-ctrl.ts';
import { firstMessage, goldenFixture } from '../../../../test/fixtures/golden.ts';

const fixture = (name: string): Buffer => goldenFixture(`ethtool/${name}`);

const first = firstMessage;

describe('generic netlink controller (fixture captured from Linux 6.18)', () => {
  it('decodes CTRL_CMD_NEWFAMILY for ethtool: id, version, commands and multicast groups', () => {
    const buf = fixture('ctrl-family-ethtool');
    expect(buf.readUInt16LE(4)).toBe(GENL_ID_CTRL);
    const f = first(buf, decodeCtrlFamily)!;
    expect(f).toMatchObject({ id: 21, name: 'ethtool', version: 1, hdrSize: 0, maxAttr: 0 });
    expect([...f.mcastGroups]).toEqual([['monitor', 6]]);
    // 6.18 has 50 ethtool commands; every GET can do and dump, every SET needs CAP_NET_ADMIN in the
    // namespace's user namespace (GENL_UNS_ADMIN_PERM).
    expect(f.ops).toHaveLength(50);
    const { GENL_UNS_ADMIN_PERM, GENL_CMD_CAP_DO, GENL_CMD_CAP_DUMP, GENL_CMD_CAP_HASPOL } = GENL_OP_FLAG;
    expect(f.ops[0]).toEqual({ cmd: 1, flags: GENL_CMD_CAP_DO | GENL_CMD_CAP_DUMP | GENL_CMD_CAP_HASPOL });
    expect(f.ops.find((o) => o.cmd === 12)).toEqual({ cmd: 12, flags: GENL_UNS_ADMIN_PERM | GENL_CMD_CAP_DO | GENL_CMD_CAP_HASPOL });
  });

  it('reads genlmsghdr', () => {
    expect(first(fixture('ctrl-family-ethtool'), decodeGenlHeader)).toEqual({ cmd: CTRL_CMD.CTRL_CMD_NEWFAMILY, version: 2 });
  });

  it('ignores controller messages other than NEWFAMILY', () => {
    const w = encodeGenlRequest(new NlWriter(), GENL_ID_CTRL, CTRL_CMD.CTRL_CMD_NEWOPS, 2);
    w.endMessage();
    expect(first(Buffer.from(w.bytes), decodeCtrlFamily)).toBeUndefined();
  });

  it('encodes CTRL_CMD_GETFAMILY by name', () => {
    const w = encodeCtrlGetFamily(new NlWriter(), 'ethtool');
    w.endMessage();
    expect(w.bytes.toString('hex')).toBe(
      '20000000' + '1000' + '0000' + '00000000' + '00000000' // nlmsghdr: 32 bytes, GENL_ID_CTRL
      + '03' + '02' + '0000' // genlmsghdr: CTRL_CMD_GETFAMILY, version 2
      + '0c00' + '0200' + Buffer.from('ethtool\0').toString('hex'), // CTRL_ATTR_FAMILY_NAME
    );
  });

  it('genlmsghdr round-trips', () => {
    fc.assert(fc.property(fc.nat({ max: 255 }), fc.nat({ max: 255 }), fc.integer({ min: 0x10, max: 0xffff }), (cmd, version, id) => {
      const w = encodeGenlRequest(new NlWriter(), id, cmd, version);
      w.endMessage();
      const buf = Buffer.from(w.bytes);
      expect(buf.readUInt16LE(4)).toBe(id);
      expect(first(buf, decodeGenlHeader)).toEqual({ cmd, version });
      expect(encodeGenlHeader(new NlWriter(), cmd, version).bytes.readUInt16LE(2)).toBe(0);
    }));
  });

  it('rejects a message too short for genlmsghdr', () => {
    const buf = Buffer.alloc(18);
    buf.writeUInt32LE(18, 0);
    expect(() => first(buf, decodeGenlHeader)).toThrow(/genlmsghdr/);
  });

  it('only ever raises ProtocolError on random and mutated input', () => {
    const all = (buf: Buffer): void => {
      forEachMessage(buf, buf.length, (m) => { decodeGenlHeader(buf, m); decodeCtrlFamily(buf, m); });
    };
    assertDecoderTotal(all, [fixture('ctrl-family-ethtool')], 3000);
  });
});
