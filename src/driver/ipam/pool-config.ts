/**
 * A device's resolved config with its pool addresses in it: each allocated
 * address (with the pool's prefix length) joins `interface.addresses`, and
 * each pool route joins `routes` unless the config already has a route to
 * that destination in the main table (the config wins). Static
 * registrations add nothing: their address is already in the config.
 */
import type { NetworkConfig, RouteConfig } from '../../config/claim-config/types.ts';
import { networkPrefix } from '../../config/claim-config/net-values.ts';
import type { PoolAddress } from '../record-model.ts';

export function withPoolAddresses(config: NetworkConfig, addresses: readonly PoolAddress[]): NetworkConfig {
  const pooled = addresses.filter((a) => a.static !== true);
  if (pooled.length === 0) return config;
  const iface = config.interface ?? {};
  const routes: RouteConfig[] = [...(config.routes ?? [])];
  const main = (r: RouteConfig): boolean => r.table === undefined || r.table === 0 || r.table === 254;
  for (const a of pooled) {
    for (const r of a.routes) {
      const destination = networkPrefix(r.destination);
      if (routes.some((x) => x.destination === destination && main(x))) continue;
      routes.push({ destination, ...(r.gateway === undefined ? {} : { gateway: r.gateway }) });
    }
  }
  return {
    ...config,
    interface: { ...iface, addresses: [...(iface.addresses ?? []), ...pooled.map((a) => `${a.address}/${a.prefixLength}`)] },
    ...(routes.length === 0 ? {} : { routes }),
  };
}
