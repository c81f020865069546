/**
 * Encoding and in-place decoding of RDMA netlink device, port and system
 * messages. Attributes start right after nlmsghdr.
 */
import type { NlMessage } from '../message.ts';
import { attrTable, readString, readU32, readU64, readU8, walkAttrs } from '../attrs.ts';
import type { NlWriter } from '../writer.ts';
import { IB_PORT_PHYS_STATES, IB_PORT_STATES, RDMA_NLDEV_ATTR as A, RDMA_NODE_TYPES, rdmaNlType } from './rdma-constants.ts';
import type { RdmaDev, RdmaNetnsMode, RdmaPort } from './rdma-types.ts';

/** `xxxx:xxxx:xxxx:xxxx` from a u64 (the form `rdma` and sysfs print). */
export function formatGuid(v: bigint): string {
  const hex = v.toString(16).padStart(16, '0');
  return `${hex.slice(0, 4)}:${hex.slice(4, 8)}:${hex.slice(8, 12)}:${hex.slice(12, 16)}`;
}

type Mutable<T> = { -readonly [K in keyof T]?: T[K] };

const DEV = attrTable<Mutable<RdmaDev>>({
  [A.RDMA_NLDEV_ATTR_DEV_INDEX]: (b, o, l, d) => { d.index = readU32(b, o, l); },
  [A.RDMA_NLDEV_ATTR_DEV_NAME]: (b, o, l, d) => { d.name = readString(b, o, l); },
  [A.RDMA_NLDEV_ATTR_PORT_INDEX]: (b, o, l, d) => { d.ports = readU32(b, o, l); },
  [A.RDMA_NLDEV_ATTR_DEV_NODE_TYPE]: (b, o, l, d) => { const t = readU8(b, o, l); d.nodeType = RDMA_NODE_TYPES[t] ?? String(t); },
  [A.RDMA_NLDEV_ATTR_FW_VERSION]: (b, o, l, d) => { d.fwVersion = readString(b, o, l); },
  [A.RDMA_NLDEV_ATTR_NODE_GUID]: (b, o, l, d) => { d.nodeGuid = formatGuid(readU64(b, o, l)); },
  [A.RDMA_NLDEV_ATTR_SYS_IMAGE_GUID]: (b, o, l, d) => { d.sysImageGuid = formatGuid(readU64(b, o, l)); },
  [A.RDMA_NLDEV_ATTR_DEV_PROTOCOL]: (b, o, l, d) => { d.protocol = readString(b, o, l); },
});

const PORT = attrTable<Mutable<RdmaPort>>({
  [A.RDMA_NLDEV_ATTR_DEV_INDEX]: (b, o, l, p) => { p.devIndex = readU32(b, o, l); },
  [A.RDMA_NLDEV_ATTR_DEV_NAME]: (b, o, l, p) => { p.devName = readString(b, o, l); },
  [A.RDMA_NLDEV_ATTR_PORT_INDEX]: (b, o, l, p) => { p.port = readU32(b, o, l); },
  [A.RDMA_NLDEV_ATTR_PORT_STATE]: (b, o, l, p) => { const s = readU8(b, o, l); p.state = IB_PORT_STATES[s] ?? String(s); },
  [A.RDMA_NLDEV_ATTR_PORT_PHYS_STATE]: (b, o, l, p) => { const s = readU8(b, o, l); p.physState = IB_PORT_PHYS_STATES[s] ?? String(s); },
  [A.RDMA_NLDEV_ATTR_NDEV_INDEX]: (b, o, l, p) => { p.netdevIndex = readU32(b, o, l); },
  [A.RDMA_NLDEV_ATTR_NDEV_NAME]: (b, o, l, p) => { p.netdevName = readString(b, o, l); },
  [A.RDMA_NLDEV_ATTR_LID]: (b, o, l, p) => { p.lid = readU32(b, o, l); },
  [A.RDMA_NLDEV_ATTR_SM_LID]: (b, o, l, p) => { p.smLid = readU32(b, o, l); },
  [A.RDMA_NLDEV_ATTR_SUBNET_PREFIX]: (b, o, l, p) => { p.subnetPrefix = formatGuid(readU64(b, o, l)); },
  [A.RDMA_NLDEV_ATTR_LINK_TYPE]: (b, o, l, p) => { p.linkType = readString(b, o, l); },
});

const SYS = attrTable<{ mode?: RdmaNetnsMode }>({
  [A.RDMA_NLDEV_SYS_ATTR_NETNS_MODE]: (b, o, l, s) => { s.mode = readU8(b, o, l) ? 'shared' : 'exclusive'; },
});

/** Decodes an RDMA_NLDEV_CMD_GET reply; records without index and name are skipped. */
export function decodeRdmaDev(buf: Buffer, m: NlMessage): RdmaDev | undefined {
  const d: Mutable<RdmaDev> = {};
  walkAttrs(buf, m.off, m.off + m.len, DEV, d);
  return d.index === undefined || d.name === undefined ? undefined : (d as RdmaDev);
}

/** Decodes an RDMA_NLDEV_CMD_PORT_GET reply. */
export function decodeRdmaPort(buf: Buffer, m: NlMessage): RdmaPort | undefined {
  const p: Mutable<RdmaPort> = {};
  walkAttrs(buf, m.off, m.off + m.len, PORT, p);
  return p.devIndex === undefined || p.devName === undefined || p.port === undefined ? undefined : (p as RdmaPort);
}

/** Decodes an RDMA_NLDEV_CMD_SYS_GET reply's namespace mode. */
export function decodeRdmaNetnsMode(buf: Buffer, m: NlMessage): RdmaNetnsMode | undefined {
  const s: { mode?: RdmaNetnsMode } = {};
  walkAttrs(buf, m.off, m.off + m.len, SYS, s);
  return s.mode;
}

/** Starts an RDMA nldev request of command `op` (attributes follow). */
export function encodeRdmaRequest(w: NlWriter, op: number): NlWriter {
  return w.reset().beginMessage(rdmaNlType(op), 0);
}
