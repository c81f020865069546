/**
 * The name of an address's allocation object: the pool and the address, so
 * that a second create of the same address in the same pool is refused by
 * the API server (409 AlreadyExists). `<pool>.v4-10-1-0-5` and
 * `<pool>.v6-<32 hex digits>`: lower-case, DNS-subdomain safe, one name per
 * address (IPv6 is written out in full, since `::` has several spellings and
 * `:` is not allowed in names).
 */
import { AF_INET, ipFamily, ipToBytes } from '../../common/ip.ts';

export function allocationName(pool: string, address: string): string {
  const bytes = ipToBytes(address);
  return ipFamily(address) === AF_INET ? `${pool}.v4-${[...bytes].join('-')}` : `${pool}.v6-${bytes.toString('hex')}`;
}
