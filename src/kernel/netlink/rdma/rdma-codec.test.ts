import { describe, expect, it } from 'vitest';
import { assertDecoderTotal } from '../../../../test/fuzz/decoder-fuzz.ts';
import { forEachMessage } from '../message.ts';
import { NlWriter } from '../writer.ts';
import { decodeRdmaDev, decodeRdmaNetnsMode, decodeRdmaPort, encodeRdmaRequest, formatGuid } from './rdma-codec.ts';
import { RDMA_NLDEV_ATTR, RDMA_NLDEV_CMD, rdmaNlType } from './rdma-constants.ts';
import { firstMessage, goldenFixture } from '../../../../test/fixtures/golden.ts';

const fixture = (name: string): Buffer => goldenFixture(`rdma/${name}`);

const first = firstMessage;

describe('RDMA netlink codec (fixtures captured from soft-RoCE on Linux 6.1)', () => {
  it('message types are RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, op)', () => {
    expect(rdmaNlType(RDMA_NLDEV_CMD.RDMA_NLDEV_CMD_GET)).toBe(0x1401);
    expect(fixture('dev-rxe').readUInt16LE(4)).toBe(0x1401);
    expect(fixture('port-rxe').readUInt16LE(4)).toBe(0x1405);
  });

  it('decodes a device', () => {
    expect(first(fixture('dev-rxe'), decodeRdmaDev)).toEqual({
      index: 0, name: 'ncrxe0', ports: 1, nodeType: 'ca', protocol: 'roce',
      // rxe derives its GUIDs from the netdev's MAC 02:00:00:00:00:01 (EUI-64, U/L bit flipped).
      nodeGuid: '0000:00ff:fe00:0001', sysImageGuid: '0000:00ff:fe00:0001',
    });
  });

  it('decodes a port with its state and netdev', () => {
    expect(first(fixture('port-rxe'), decodeRdmaPort)).toEqual({
      devIndex: 0, devName: 'ncrxe0', port: 1, state: 'ACTIVE', physState: 'LINK_UP', netdevIndex: 2, netdevName: 'ncrxd0',
    });
  });

  it('decodes the namespace mode', () => {
    expect(first(fixture('sys-shared'), decodeRdmaNetnsMode)).toBe('shared');
  });

  it('formats GUIDs as rdma and sysfs print them', () => {
    expect(formatGuid(0x0200_00ff_fe00_0001n)).toBe('0200:00ff:fe00:0001');
    expect(formatGuid(0n)).toBe('0000:0000:0000:0000');
  });

  it('encodes requests with attributes right after the header', () => {
    const w = encodeRdmaRequest(new NlWriter(), RDMA_NLDEV_CMD.RDMA_NLDEV_CMD_PORT_GET);
    w.attrU32(RDMA_NLDEV_ATTR.RDMA_NLDEV_ATTR_DEV_INDEX, 3).endMessage();
    expect(w.bytes.toString('hex')).toBe('18000000' + '0514' + '0000' + '00000000' + '00000000' + '0800' + '0100' + '03000000');
  });

  it('only ever raises ProtocolError on random and mutated input', () => {
    const seeds = ['dev-rxe', 'port-rxe', 'sys-shared'].map(fixture);
    const all = (buf: Buffer): void => {
      forEachMessage(buf, buf.length, (m) => { decodeRdmaDev(buf, m); decodeRdmaPort(buf, m); decodeRdmaNetnsMode(buf, m); });
    };
    assertDecoderTotal(all, seeds, 3000);
  });
});
