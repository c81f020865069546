/** What ethtool (over generic netlink) reports about a link. */

export interface EthtoolLinkModes {
  /** Mb/s; absent when unknown (link down, or virtual devices that report none). */
  readonly speed?: number;
  readonly duplex?: 'half' | 'full';
  readonly autoneg?: boolean;
  readonly lanes?: number;
  /** Link mode names the device supports (e.g. `10000baseT/Full`), when it reports them. */
  readonly supportedModes?: readonly string[];
  /** Link mode names it advertises. */
  readonly advertisedModes?: readonly string[];
  /** Link mode names the link partner advertises. */
  readonly peerModes?: readonly string[];
}

export interface EthtoolLinkInfo {
  /**
   * The connector: the kernel's PORT_* name without the prefix (`TP`, `AUI`,
   * `BNC`, `MII`, `FIBRE`, `DA`, `NONE`, `OTHER`); ethtool prints `TP` as
   * "Twisted Pair" and `DA` as "Direct Attach Copper". Unknown values as a number.
   */
  readonly port?: string;
  /** `internal` or `external` (XCVR_*), as ethtool prints it. */
  readonly transceiver?: string;
  readonly phyAddress?: number;
  /** ETH_TP_MDI* status and control (0 = unknown/invalid). */
  readonly mdix?: number;
  readonly mdixCtrl?: number;
}

export interface EthtoolLinkState {
  readonly linkDetected?: boolean;
  /** Signal quality index and its maximum (PHYs that measure it). */
  readonly sqi?: number;
  readonly sqiMax?: number;
  /** Extended link-down reason (ETHTOOL_LINK_EXT_STATE_*) and sub-state. */
  readonly extState?: number;
  readonly extSubstate?: number;
  /** Link-down events since the device was created (6.6+). */
  readonly extDownCount?: number;
}

/** Feature name (as `ethtool -k` prints it, e.g. `rx-gro`) → on. */
export type EthtoolFeatureMap = Readonly<Record<string, boolean>>;

/**
 * Netdev features, every name the kernel knows in each map. `ethtool -k`
 * prints `active`, marks `[fixed]` where `!hw[name] || nochange[name]`, and
 * `[requested on|off]` where `wanted` differs from `active`.
 */
export interface EthtoolFeatures {
  /** Changeable by the user. */
  readonly hw: EthtoolFeatureMap;
  /** Requested by the user. */
  readonly wanted: EthtoolFeatureMap;
  /** In effect. */
  readonly active: EthtoolFeatureMap;
  /** Never changeable. */
  readonly nochange: EthtoolFeatureMap;
}

/** Queues (`ethtool -l`); each field is absent when the driver reports no such channel type. */
export interface EthtoolChannels {
  readonly rxMax?: number;
  readonly txMax?: number;
  readonly otherMax?: number;
  readonly combinedMax?: number;
  readonly rxCount?: number;
  readonly txCount?: number;
  readonly otherCount?: number;
  readonly combinedCount?: number;
}

/** Ring sizes (`ethtool -g`). */
export interface EthtoolRings {
  readonly rxMax?: number;
  readonly rxMiniMax?: number;
  readonly rxJumboMax?: number;
  readonly txMax?: number;
  readonly rx?: number;
  readonly rxMini?: number;
  readonly rxJumbo?: number;
  readonly tx?: number;
  readonly rxBufLen?: number;
  /** ETHTOOL_TCP_DATA_SPLIT_*: 0 unknown, 1 disabled, 2 enabled. */
  readonly tcpDataSplit?: number;
  readonly cqeSize?: number;
  readonly txPush?: boolean;
  readonly rxPush?: boolean;
  readonly txPushBufLen?: number;
  readonly txPushBufLenMax?: number;
  readonly hdsThresh?: number;
  readonly hdsThreshMax?: number;
}

/** Interrupt coalescing (`ethtool -c`): the parameters the driver supports. */
export interface EthtoolCoalesce {
  readonly rxUsecs?: number;
  readonly rxMaxFrames?: number;
  readonly rxUsecsIrq?: number;
  readonly rxMaxFramesIrq?: number;
  readonly txUsecs?: number;
  readonly txMaxFrames?: number;
  readonly txUsecsIrq?: number;
  readonly txMaxFramesIrq?: number;
  readonly statsBlockUsecs?: number;
  readonly useAdaptiveRx?: boolean;
  readonly useAdaptiveTx?: boolean;
  readonly pktRateLow?: number;
  readonly rxUsecsLow?: number;
  readonly rxMaxFramesLow?: number;
  readonly txUsecsLow?: number;
  readonly txMaxFramesLow?: number;
  readonly pktRateHigh?: number;
  readonly rxUsecsHigh?: number;
  readonly rxMaxFramesHigh?: number;
  readonly txUsecsHigh?: number;
  readonly txMaxFramesHigh?: number;
  readonly rateSampleInterval?: number;
  readonly useCqeModeTx?: boolean;
  readonly useCqeModeRx?: boolean;
  readonly txAggrMaxBytes?: number;
  readonly txAggrMaxFrames?: number;
  readonly txAggrTimeUsecs?: number;
}

/** Driver private flags (`ethtool --show-priv-flags`): name → on. */
export type EthtoolPrivFlags = Readonly<Record<string, boolean>>;
