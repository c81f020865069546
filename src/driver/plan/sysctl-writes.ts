/**
 * The sysctl writes a device's plan will need that only /proc/sys can make
 * (pure). Where /proc/sys is read-only (the DaemonSet not privileged, as the
 * runtimes mount it for such containers), Prepare refuses these with
 * PREPARE_SYSCTLS_READ_ONLY, naming the field, instead of failing the pod's
 * sandbox later (pod side) or leaving the device unrestored (host side):
 *
 *   pod side    a configured per-interface sysctl that has no rtnetlink way
 *               in: every `ipv6.*` one (IPv4 ones are IPV4_DEVCONF values
 *               set with IFLA_INET_CONF), including the IPv6 half of
 *               `interface.forwarding`; and a VRF, whose l3mdev sysctls
 *               (`net.ipv4.tcp_l3mdev_accept`...) are namespace-wide files
 *   host side   a recorded per-interface sysctl without an rtnetlink way in
 *               whose value differs from the one the device gets back when
 *               it returns to the host (the namespace's `conf/default`)
 */
import { netconfKeyHasNetlink } from '../../kernel/sysctl/netconf-sysctl.ts';
import { TYPED_SYSCTL_FIELDS } from '../../config/claim-config/sysctls.ts';
import type { HostSnapshot, PodInterfacePlan } from './plan-types.ts';

export interface SysctlWrite {
  /** The config field (`interface.sysctls["ipv6.accept_ra"]`, `interface.forwarding`, `vrf`) or the host sysctl. */
  readonly field: string;
  readonly message: string;
}

/** The keys of `host.sysctls` whose restore could need /proc/sys (their `conf/default` values are compared). */
export function procOnlyHostKeys(host: HostSnapshot | undefined): string[] {
  return Object.keys(host?.sysctls ?? {}).filter((k) => !netconfKeyHasNetlink(k));
}

/** The writes of this plan that need /proc/sys; `hostDefaults`: `conf/default` of the host namespace for procOnlyHostKeys. */
export function procOnlySysctlWrites(
  plan: { readonly pod?: PodInterfacePlan; readonly host?: HostSnapshot },
  hostDefaults: Readonly<Record<string, string>>,
): SysctlWrite[] {
  const out: SysctlWrite[] = [];
  const seen = new Set<string>();
  for (const key of Object.keys(plan.pod?.sysctls ?? {})) {
    if (netconfKeyHasNetlink(key)) continue;
    const field = TYPED_SYSCTL_FIELDS[key] ?? `interface.sysctls["${key}"]`;
    if (seen.has(field)) continue;
    seen.add(field);
    out.push({ field, message: `sets net.${key.replace('.', '.conf.<interface>.')}, which only /proc/sys can write` });
  }
  if (plan.pod?.vrf !== undefined) {
    out.push({ field: 'vrf', message: 'a VRF needs net.ipv4.tcp_l3mdev_accept and udp_l3mdev_accept in the pod, which only /proc/sys can write' });
  }
  const host = plan.host;
  for (const key of procOnlyHostKeys(host)) {
    const want = host!.sysctls[key]!;
    const back = hostDefaults[key];
    if (back === undefined || back === want) continue;
    const name = `net.${key.replace('.', `.conf.${host!.ifName}.`)}`;
    out.push({
      field: name,
      message: `is ${want} on the host, and a device returned to the host gets ${back} (conf/default): restoring it needs /proc/sys`,
    });
  }
  return out;
}
