/**
 * Generic netlink constants, kernel names kept (include/uapi/linux/genetlink.h,
 * values checked against the Linux 6.1 headers; unchanged through 6.18).
 * A generic netlink message is nlmsghdr + genlmsghdr (4 bytes) + attributes;
 * the nlmsg_type is the family id, which the kernel assigns at run time
 * (except the controller's own, GENL_ID_CTRL).
 */

/** sizeof(struct genlmsghdr), already 4-aligned: cmd u8, version u8, reserved u16. */
export const GENL_HDRLEN = 4;
export const GENL_NAMSIZ = 16;

/** The controller family's fixed id (NLMSG_MIN_TYPE). */
export const GENL_ID_CTRL = 0x10;
/** The controller's own protocol version, sent in genlmsghdr.version. */
export const GENL_CTRL_VERSION = 2;

export const CTRL_CMD = {
  CTRL_CMD_UNSPEC: 0,
  CTRL_CMD_NEWFAMILY: 1,
  CTRL_CMD_DELFAMILY: 2,
  CTRL_CMD_GETFAMILY: 3,
  CTRL_CMD_NEWOPS: 4,
  CTRL_CMD_DELOPS: 5,
  CTRL_CMD_GETOPS: 6,
  CTRL_CMD_NEWMCAST_GRP: 7,
  CTRL_CMD_DELMCAST_GRP: 8,
  CTRL_CMD_GETMCAST_GRP: 9,
  CTRL_CMD_GETPOLICY: 10,
} as const;

export const CTRL_ATTR = {
  CTRL_ATTR_FAMILY_ID: 1, // u16
  CTRL_ATTR_FAMILY_NAME: 2, // string
  CTRL_ATTR_VERSION: 3, // u32
  CTRL_ATTR_HDRSIZE: 4, // u32
  CTRL_ATTR_MAXATTR: 5, // u32
  CTRL_ATTR_OPS: 6, // nest of nests: CTRL_ATTR_OP_*
  CTRL_ATTR_MCAST_GROUPS: 7, // nest of nests: CTRL_ATTR_MCAST_GRP_*
  CTRL_ATTR_POLICY: 8,
  CTRL_ATTR_OP_POLICY: 9,
  CTRL_ATTR_OP: 10,
} as const;

export const CTRL_ATTR_OP = {
  CTRL_ATTR_OP_ID: 1, // u32
  CTRL_ATTR_OP_FLAGS: 2, // u32: GENL_* below
} as const;

export const CTRL_ATTR_MCAST_GRP = {
  CTRL_ATTR_MCAST_GRP_NAME: 1, // string
  CTRL_ATTR_MCAST_GRP_ID: 2, // u32
} as const;

/** CTRL_ATTR_OP_FLAGS bits. */
export const GENL_OP_FLAG = {
  GENL_ADMIN_PERM: 0x01,
  GENL_CMD_CAP_DO: 0x02,
  GENL_CMD_CAP_DUMP: 0x04,
  GENL_CMD_CAP_HASPOL: 0x08,
  GENL_UNS_ADMIN_PERM: 0x10,
} as const;
