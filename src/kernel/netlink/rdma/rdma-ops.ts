/**
 * RDMA devices through RDMA netlink: list devices and ports, read and set the
 * subsystem's namespace mode, move a device to another namespace.
 */
import { NotFoundError } from '../../../common/errors.ts';
import type { NetnsHandle } from '../../netns/handle.ts';
import { decodeRdmaDev, decodeRdmaNetnsMode, decodeRdmaPort, encodeRdmaRequest } from './rdma-codec.ts';
import { RDMA_NLDEV_ATTR as A, RDMA_NLDEV_CMD as C } from './rdma-constants.ts';
import type { RdmaDev, RdmaNetnsMode, RdmaPort } from './rdma-types.ts';

/**
 * The RDMA devices visible in `h`'s namespace.
 * Equivalent to: `rdma dev show`
 */
export function rdmaDevList(h: NetnsHandle): RdmaDev[] {
  const w = encodeRdmaRequest(h.rdma.writer, C.RDMA_NLDEV_CMD_GET);
  w.endMessage();
  return h.rdma.dump(w, 'RDMA_NLDEV_CMD_GET', decodeRdmaDev);
}

/**
 * The ports of one RDMA device (or of every device), with state and bound
 * netdev. The kernel dumps ports per device only, so all devices means one
 * dump each.
 * Equivalent to: `rdma link show [DEV]`
 */
export function rdmaPortList(h: NetnsHandle, devIndex?: number): RdmaPort[] {
  if (devIndex === undefined) return rdmaDevList(h).flatMap((d) => rdmaPortList(h, d.index));
  const w = encodeRdmaRequest(h.rdma.writer, C.RDMA_NLDEV_CMD_PORT_GET);
  w.attrU32(A.RDMA_NLDEV_ATTR_DEV_INDEX, devIndex).endMessage();
  return h.rdma.dump(w, 'RDMA_NLDEV_CMD_PORT_GET', decodeRdmaPort);
}

/** One device by name. Equivalent to: `rdma dev show NAME` */
export function rdmaDevGetByName(h: NetnsHandle, name: string): RdmaDev {
  const dev = rdmaDevList(h).find((d) => d.name === name);
  if (!dev) throw new NotFoundError(`RDMA device "${name}" not found in ${h.path}`, { context: { name } });
  return dev;
}

/**
 * Whether RDMA devices are shared by all namespaces or each lives in one.
 * Equivalent to: `rdma system show netns`
 */
export function rdmaNetnsModeGet(h: NetnsHandle): RdmaNetnsMode {
  const w = encodeRdmaRequest(h.rdma.writer, C.RDMA_NLDEV_CMD_SYS_GET);
  w.endMessage();
  let mode: RdmaNetnsMode | undefined;
  h.rdma.request(w, 'RDMA_NLDEV_CMD_SYS_GET', (buf, m) => { mode ??= decodeRdmaNetnsMode(buf, m); });
  // Kernels before 5.2 have no namespace support: everything is shared.
  return mode ?? 'shared';
}

/**
 * Sets the namespace mode. The kernel refuses `exclusive` while any other
 * network namespace exists (EBUSY), so nodes set it at boot.
 * Equivalent to: `rdma system set netns shared|exclusive`
 */
export function rdmaNetnsModeSet(h: NetnsHandle, mode: RdmaNetnsMode): void {
  const w = encodeRdmaRequest(h.rdma.writer, C.RDMA_NLDEV_CMD_SYS_SET);
  w.attrU8(A.RDMA_NLDEV_SYS_ATTR_NETNS_MODE, mode === 'shared' ? 1 : 0).endMessage();
  h.rdma.request(w, 'RDMA_NLDEV_CMD_SYS_SET');
}

/**
 * Moves an RDMA device into `target`'s namespace (exclusive mode only; the
 * driver must support it: soft-RoCE on Linux 6.1 answers EOPNOTSUPP).
 * Equivalent to: `rdma dev set NAME netns NS`
 */
export function rdmaDevSetNetns(h: NetnsHandle, devIndex: number, target: NetnsHandle): void {
  const w = encodeRdmaRequest(h.rdma.writer, C.RDMA_NLDEV_CMD_SET);
  w.attrU32(A.RDMA_NLDEV_ATTR_DEV_INDEX, devIndex).attrU32(A.RDMA_NLDEV_NET_NS_FD, target.fd).endMessage();
  h.rdma.request(w, 'RDMA_NLDEV_CMD_SET');
}

/**
 * Creates a software RDMA device (`rxe` soft-RoCE, `siw`) over a netdev.
 * Equivalent to: `rdma link add NAME type rxe netdev DEV`
 */
export function rdmaLinkAdd(h: NetnsHandle, name: string, type: 'rxe' | 'siw', netdev: string): void {
  const w = encodeRdmaRequest(h.rdma.writer, C.RDMA_NLDEV_CMD_NEWLINK);
  w.attrString(A.RDMA_NLDEV_ATTR_DEV_NAME, name)
    .attrString(A.RDMA_NLDEV_ATTR_LINK_TYPE, type)
    .attrString(A.RDMA_NLDEV_ATTR_NDEV_NAME, netdev)
    .endMessage();
  h.rdma.request(w, 'RDMA_NLDEV_CMD_NEWLINK');
}

/**
 * Deletes a software RDMA device.
 * Equivalent to: `rdma link delete NAME`
 */
export function rdmaLinkDelete(h: NetnsHandle, devIndex: number): void {
  const w = encodeRdmaRequest(h.rdma.writer, C.RDMA_NLDEV_CMD_DELLINK);
  w.attrU32(A.RDMA_NLDEV_ATTR_DEV_INDEX, devIndex).endMessage();
  h.rdma.request(w, 'RDMA_NLDEV_CMD_DELLINK');
}
