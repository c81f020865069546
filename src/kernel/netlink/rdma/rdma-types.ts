/** RDMA devices and ports as RDMA netlink reports them. */

export interface RdmaDev {
  readonly index: number;
  readonly name: string;
  /** `ca` (InfiniBand HCA, incl. RoCE), `rnic` (iWARP)... */
  readonly nodeType?: string;
  readonly fwVersion?: string;
  /** GUIDs as `xxxx:xxxx:xxxx:xxxx`, as `rdma dev` prints them. */
  readonly nodeGuid?: string;
  readonly sysImageGuid?: string;
  /** The number of ports (PORT_INDEX in a device record). */
  readonly ports?: number;
  /** The driver's protocol, e.g. `roce`, `ib`, `iw` (newer kernels). */
  readonly protocol?: string;
}

export interface RdmaPort {
  readonly devIndex: number;
  readonly devName: string;
  readonly port: number;
  readonly state?: string;
  readonly physState?: string;
  /** The netdev bound to this port (RoCE, IPoIB), when there is one in this namespace. */
  readonly netdevIndex?: number;
  readonly netdevName?: string;
  readonly lid?: number;
  readonly smLid?: number;
  readonly subnetPrefix?: string;
  readonly linkType?: string;
}

/** `shared`: RDMA devices are visible in every namespace; `exclusive`: each lives in one. */
export type RdmaNetnsMode = 'shared' | 'exclusive';
