/**
 * RDMA netlink (NETLINK_RDMA) device interface constants, kernel names kept
 * (include/uapi/rdma/rdma_netlink.h; values checked against Linux 6.1 headers).
 * Messages carry attributes right after nlmsghdr (no fixed family header).
 */
export const RDMA_NL_NLDEV = 5;

/** `RDMA_NL_GET_TYPE(client, op)`: the nlmsg_type of an RDMA netlink request. */
export const rdmaNlType = (op: number, client = RDMA_NL_NLDEV): number => (client << 10) + op;

export const RDMA_NLDEV_CMD = {
  RDMA_NLDEV_CMD_GET: 1,
  RDMA_NLDEV_CMD_SET: 2,
  RDMA_NLDEV_CMD_NEWLINK: 3,
  RDMA_NLDEV_CMD_DELLINK: 4,
  RDMA_NLDEV_CMD_PORT_GET: 5,
  RDMA_NLDEV_CMD_SYS_GET: 6,
  RDMA_NLDEV_CMD_SYS_SET: 7,
} as const;

export const RDMA_NLDEV_ATTR = {
  RDMA_NLDEV_ATTR_DEV_INDEX: 1,
  RDMA_NLDEV_ATTR_DEV_NAME: 2,
  RDMA_NLDEV_ATTR_PORT_INDEX: 3,
  RDMA_NLDEV_ATTR_CAP_FLAGS: 4,
  RDMA_NLDEV_ATTR_FW_VERSION: 5,
  RDMA_NLDEV_ATTR_NODE_GUID: 6,
  RDMA_NLDEV_ATTR_SYS_IMAGE_GUID: 7,
  RDMA_NLDEV_ATTR_SUBNET_PREFIX: 8,
  RDMA_NLDEV_ATTR_LID: 9,
  RDMA_NLDEV_ATTR_SM_LID: 10,
  RDMA_NLDEV_ATTR_LMC: 11,
  RDMA_NLDEV_ATTR_PORT_STATE: 12,
  RDMA_NLDEV_ATTR_PORT_PHYS_STATE: 13,
  RDMA_NLDEV_ATTR_DEV_NODE_TYPE: 14,
  RDMA_NLDEV_ATTR_NDEV_INDEX: 50,
  RDMA_NLDEV_ATTR_NDEV_NAME: 51,
  RDMA_NLDEV_ATTR_LINK_TYPE: 65,
  RDMA_NLDEV_SYS_ATTR_NETNS_MODE: 66,
  RDMA_NLDEV_ATTR_DEV_PROTOCOL: 67,
  RDMA_NLDEV_NET_NS_FD: 68,
} as const;

/** RDMA_NLDEV_ATTR_DEV_NODE_TYPE values (enum rdma_node_type). */
export const RDMA_NODE_TYPES: Readonly<Record<number, string>> = {
  1: 'ca', 2: 'switch', 3: 'router', 4: 'rnic', 5: 'usnic', 6: 'usnic_udp', 7: 'unspecified',
};

/** IB port states (enum ib_port_state), as `rdma link` prints them. */
export const IB_PORT_STATES: Readonly<Record<number, string>> = {
  0: 'NOP', 1: 'DOWN', 2: 'INIT', 3: 'ARMED', 4: 'ACTIVE', 5: 'ACTIVE_DEFER',
};

/** IB physical port states, as `rdma link` prints them. */
export const IB_PORT_PHYS_STATES: Readonly<Record<number, string>> = {
  1: 'SLEEP', 2: 'POLLING', 3: 'DISABLED', 4: 'PORT_CONFIGURATION_TRAINING', 5: 'LINK_UP',
  6: 'LINK_ERROR_RECOVERY', 7: 'PHY_TEST',
};
