/**
 * MAC addresses as the clouds write them (`42:01:0a:80:00:46` on GCE and
 * AWS, `000D3AF806EC` on Azure, `02:00:17:05:5e:4f` on OCI) in one form, so
 * they can be compared with the kernel's. Only 6-byte Ethernet MACs: an
 * IPoIB address (20 bytes) never matches one (node-topologies.md §11).
 */

/** Lower-case colon form, or undefined when it is not a 6-byte MAC. */
export function normalizeMac(mac: string | undefined): string | undefined {
  if (mac === undefined) return undefined;
  const hex = mac.trim().toLowerCase().replace(/[:.-]/g, '');
  if (!/^[0-9a-f]{12}$/.test(hex)) return undefined;
  return hex.match(/../g)!.join(':');
}
