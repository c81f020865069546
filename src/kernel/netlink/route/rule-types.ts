/**
 * The policy-routing rule object model: `Rule` is a complete decoded record
 * (RTM_NEWRULE as the kernel reports it), `RuleSpec` a request to add or
 * delete one. Prefixes are CIDR text (`10.0.0.0/8`), interfaces are names
 * (rules keep matching a name whose device comes and goes).
 */
import type { IpFamily } from '../../../common/ip.ts';
import type { RuleActionName } from './rule-constants.ts';

export type RuleAction = RuleActionName;

/** An inclusive range, as in `sport 1000-2000` or `uidrange 100-200`. */
export interface NumRange {
  readonly start: number;
  readonly end: number;
}

/** A rule as the kernel reports it. */
export interface Rule {
  readonly family: IpFamily;
  /** FRA_PRIORITY (the kernel omits 0, the `local` rule). */
  readonly priority: number;
  /** FRA_TABLE, else fib_rule_hdr.table; 0 for actions other than `table` and for l3mdev rules. */
  readonly table: number;
  /** The FR_ACT_* name, or the raw number for an action netclaim does not name. */
  readonly action: RuleAction | number;
  /** `not`: FIB_RULE_INVERT. */
  readonly invert: boolean;
  /** fib_rule_hdr.flags, raw (FIB_RULE_*). */
  readonly flags: number;
  /** FRA_SRC / FRA_DST as CIDR; absent means `all`. */
  readonly src?: string;
  readonly dst?: string;
  /** FRA_IIFNAME / FRA_OIFNAME. */
  readonly iif?: string;
  readonly oif?: string;
  /** True when the named iif/oif does not exist now (FIB_RULE_IIF_DETACHED / OIF_DETACHED). */
  readonly iifDetached?: boolean;
  readonly oifDetached?: boolean;
  readonly fwmark?: number;
  readonly fwmask?: number;
  /** FRA_GOTO: the priority jumped to (action `goto`). */
  readonly goto?: number;
  /** FR_ACT_GOTO to a priority that has no rule (FIB_RULE_UNRESOLVED). */
  readonly unresolved?: boolean;
  /** FRA_L3MDEV: look up the table of the l3mdev (VRF) of the iif/oif. */
  readonly l3mdev?: boolean;
  readonly suppressPrefixLen?: number;
  readonly suppressIfGroup?: number;
  /** FRA_PROTOCOL (RTPROT_*): who installed the rule; 2 = kernel. */
  readonly protocol: number;
  /** FRA_IP_PROTO (IPPROTO_*). */
  readonly ipProto?: number;
  readonly sport?: NumRange;
  readonly dport?: NumRange;
  readonly uidRange?: NumRange;
  /** fib_rule_hdr.tos (IPv4 TOS / DS field), when non-zero. */
  readonly tos?: number;
  /** FRA_DSCP (6.13+). */
  readonly dscp?: number;
  /** FRA_FLOWLABEL / FRA_FLOWLABEL_MASK (IPv6, 6.14+). */
  readonly flowlabel?: number;
  readonly flowlabelMask?: number;
  /** FRA_TUN_ID (network byte order u64). */
  readonly tunId?: bigint;
  /** FRA_FLOW: IPv4 routing realms. */
  readonly flow?: number;
}

/**
 * A rule to add or delete. For add, omitted fields are unset (match all);
 * for delete, the kernel deletes the first rule that matches every field given.
 */
export interface RuleSpec {
  /** Inferred from `src`/`dst` when omitted; else AF_INET (like `ip rule`). */
  readonly family?: IpFamily;
  /** 0 .. 2^32-1; omitted on add, the kernel picks one just below the first non-zero priority. */
  readonly priority?: number;
  /** 1 .. 2^32-1. On add with action `table` and no `l3mdev`, defaults to main (254). */
  readonly table?: number;
  /** Default on add: `table` (or `goto` when `goto` is set). Omitted on delete: any. */
  readonly action?: RuleAction;
  readonly invert?: boolean;
  readonly src?: string;
  readonly dst?: string;
  readonly iif?: string;
  readonly oif?: string;
  readonly fwmark?: number;
  readonly fwmask?: number;
  readonly goto?: number;
  readonly l3mdev?: boolean;
  readonly suppressPrefixLen?: number;
  readonly suppressIfGroup?: number;
  readonly protocol?: number;
  readonly ipProto?: number;
  readonly sport?: NumRange;
  readonly dport?: NumRange;
  readonly uidRange?: NumRange;
  readonly tos?: number;
}
