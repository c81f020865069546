/** What ethtool (over generic netlink) reports about a link. */

export interface EthtoolLinkModes {
  /** Mb/s; absent when unknown (link down, or virtual devices that report none). */
  readonly speed?: number;
  readonly duplex?: 'half' | 'full';
  readonly autoneg?: boolean;
  readonly lanes?: number;
}

export interface EthtoolLinkInfo {
  /** `TP`, `FIBRE`, `DA`, `OTHER`, ... as ethtool prints it. */
  readonly port?: string;
  readonly transceiver?: string;
}

export interface EthtoolLinkState {
  readonly linkDetected?: boolean;
}
