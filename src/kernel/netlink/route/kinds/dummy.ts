/** dummy (drivers/net/dummy.c): no IFLA_INFO_DATA either way. */
import type { DummyData } from '../link-types.ts';

export function decodeDummy(_buf: Buffer, _off: number, _len: number): DummyData {
  return { kind: 'dummy' };
}
