/**
 * Policy-routing rule operations (RTM_GETRULE / RTM_NEWRULE / RTM_DELRULE):
 * build request → execute on the namespace's rtnetlink socket → decode.
 */
import type { NetnsHandle } from '../../netns/handle.ts';
import { NLM_F_CREATE, NLM_F_EXCL } from '../constants.ts';
import { AF_INET, AF_INET6, type IpFamily } from '../../../common/ip.ts';
import { RTM } from './rtnl-constants.ts';
import { decodeRule, encodeRule, encodeRuleDump } from './rule-codec.ts';
import type { Rule, RuleSpec } from './rule-types.ts';

/**
 * Lists the rules of one family, or of IPv4 then IPv6 when `family` is
 * omitted, in kernel order (by priority). The default rules (0 `local`,
 * 32766 `main`, and for IPv4 32767 `default`) are included.
 *
 * Equivalent to: `ip rule show` and `ip -6 rule show`
 */
export function ruleList(h: NetnsHandle, family?: IpFamily): Rule[] {
  const families = family === undefined ? [AF_INET, AF_INET6] as const : [family];
  const out: Rule[] = [];
  for (const f of families) {
    const w = encodeRuleDump(h.route.writer.reset(), f);
    // AF_INET dumps carry only AF_INET rules; the filter guards against other families anyway.
    for (const r of h.route.dump(w, 'RTM_GETRULE', decodeRule)) if (r.family === f) out.push(r);
  }
  return out;
}

/**
 * Adds a rule; fails with EEXIST if an identical rule exists (NLM_F_EXCL,
 * which `ip rule add` does not set: it would add a duplicate).
 *
 * Equivalent to: `ip rule add [not] from SRC to DST iif IIF oif OIF fwmark M/MASK pref P table T`
 */
export function ruleAdd(h: NetnsHandle, spec: RuleSpec): void {
  const w = encodeRule(h.route.writer.reset(), RTM.RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, spec);
  h.route.request(w, 'RTM_NEWRULE');
}

/**
 * Deletes the first rule (in priority order) that matches every field given
 * in `spec`; fields left out match anything. Fails with ENOENT when none does.
 *
 * Equivalent to: `ip rule del [not] from SRC to DST ... pref P table T`
 */
export function ruleDelete(h: NetnsHandle, spec: RuleSpec): void {
  const w = encodeRule(h.route.writer.reset(), RTM.RTM_DELRULE, 0, spec);
  h.route.request(w, 'RTM_DELRULE');
}
