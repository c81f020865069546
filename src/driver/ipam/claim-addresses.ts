/**
 * A claim's addresses from pools, at Prepare: for each device whose config
 * names pools (`interface.addressPools`), one address per pool; for each
 * static address (`interface.addresses`) that lies in a pool, its
 * registration in that pool, so the pool never hands it out and a static
 * address another claim holds is refused (PREPARE_ADDRESS_TAKEN).
 *
 * All or nothing: a failure releases what this call created, then throws.
 * A crash in between leaves objects no stored record names; the reconcile
 * (reconcileAddresses) deletes them after a restart, and the Node owner
 * reference deletes those of a node that is gone (docs/ipam.md).
 */
import { DriverError } from '../../common/errors.ts';
import { AF_INET, type IpFamily } from '../../common/ip.ts';
import { parsePrefix } from '../../config/claim-config/net-values.ts';
import type { PoolAddress } from '../record-model.ts';
import { allocateAddress, type AllocateOptions } from './allocate.ts';
import { allocationName } from './allocation-name.ts';
import type { Allocation, IpamPort } from './ipam-port.ts';
import type { AddressPool } from './pool-spec.ts';

/** What one device of the claim wants. */
export interface DeviceAddressWants {
  readonly request: string;
  readonly device: string;
  readonly pools: readonly string[];
  /** The device's static addresses (CIDR). */
  readonly statics: readonly string[];
  /** interface.dhcp: its IPv4 address comes by DHCP, so no IPv4 pool. */
  readonly dhcp?: boolean;
}

export interface ClaimAddressContext extends AllocateOptions {
  readonly port: IpamPort;
  readonly node: string;
  readonly claim: Allocation['claim'];
}

/** How old an unrecorded allocation must be before the reconcile deletes it. */
export const RECONCILE_GRACE_MS = 60_000;

const familyName = (f: IpFamily): string => (f === AF_INET ? 'IPv4' : 'IPv6');

export async function allocateClaimAddresses(wants: readonly DeviceAddressWants[], ctx: ClaimAddressContext): Promise<PoolAddress[]> {
  const what = `claim ${ctx.claim.namespace}/${ctx.claim.name}`;
  const done: PoolAddress[] = [];
  try {
    const byName = new Map<string, AddressPool>();
    for (const w of wants) {
      for (const p of w.pools) {
        if (!byName.has(p)) byName.set(p, await ctx.port.pool(p).catch((e: unknown) => { throw prefixed(`${what}: request ${w.request}: interface.addressPools`, e); }));
      }
    }
    const anyStatic = wants.some((w) => w.statics.length > 0);
    const all = anyStatic ? await ctx.port.pools() : [];
    for (const w of wants) {
      const at = `request ${w.request} (device ${w.device})`;
      const pools = w.pools.map((p) => byName.get(p)!);
      checkFamilies(`${what}: ${at}`, w, pools);
      for (const cidr of w.statics) {
        const reg = await registerStatic(cidr, w, all, ctx, `${what}: ${at}`);
        if (reg !== undefined) done.push(reg);
      }
      for (const pool of pools) {
        const a = await allocateAddress(ctx.port, { pool, node: ctx.node, claim: ctx.claim, request: w.request }, ctx)
          .catch((e: unknown) => { throw prefixed(`${what}: ${at}: interface.addressPools`, e); });
        done.push({ request: w.request, device: w.device, pool: pool.name, name: a.name, uid: a.uid ?? '', address: a.address, prefixLength: a.prefixLength, routes: pool.routes });
      }
    }
    return done;
  } catch (err) {
    await releaseAddresses(ctx.port, ctx.claim.uid, done).catch(() => undefined);
    throw err;
  }
}

/** One pool per family per device, and a pool's family not also given statically. */
function checkFamilies(what: string, w: DeviceAddressWants, pools: readonly AddressPool[]): void {
  const seen = new Map<IpFamily, string>();
  for (const p of pools) {
    const other = seen.get(p.family);
    if (other !== undefined) {
      throw new DriverError('PREPARE_POOL_INVALID',
        `${what}: interface.addressPools names two ${familyName(p.family)} pools (${other}, ${p.name}); a device takes at most one address per family from pools`,
        { context: { pools: [other, p.name] } });
    }
    seen.set(p.family, p.name);
    if (w.dhcp === true && p.family === AF_INET) {
      throw new DriverError('PREPARE_POOL_INVALID',
        `${what}: interface.dhcp is set and interface.addressPools names the IPv4 pool ${p.name}: give IPv4 either DHCP or a pool`, { context: { pool: p.name } });
    }
    const clash = w.statics.find((s) => parsePrefix(s)?.family === p.family);
    if (clash !== undefined) {
      throw new DriverError('PREPARE_POOL_INVALID',
        `${what}: interface.addresses has the ${familyName(p.family)} address ${clash} and interface.addressPools names the ${familyName(p.family)} pool ${p.name}: ` +
        'give each family either static addresses or a pool', { context: { pool: p.name, address: clash } });
    }
  }
}

/** A static address inside a pool's allocatable addresses is registered there (or refused when another claim has it). */
async function registerStatic(cidr: string, w: DeviceAddressWants, pools: readonly AddressPool[], ctx: ClaimAddressContext, what: string): Promise<PoolAddress | undefined> {
  const address = cidr.split('/')[0]!;
  const pool = pools.find((p) => {
    const off = p.offsetOf(address);
    return off !== undefined && p.allocatable(off);
  });
  if (pool === undefined) return undefined;
  const a: Allocation = {
    name: allocationName(pool.name, address), pool: pool.name, address, prefixLength: Number(cidr.split('/')[1]), node: ctx.node,
    claim: ctx.claim, request: w.request,
  };
  let made = await ctx.port.create(a);
  if (made === 'exists') {
    const holder = await ctx.port.get(a.name);
    if (holder === undefined || holder.claim.uid !== ctx.claim.uid) {
      throw new DriverError('PREPARE_ADDRESS_TAKEN',
        `${what}: interface.addresses ${cidr} lies in IPPool ${pool.name} and is already allocated` +
        (holder === undefined ? '' : ` to claim ${holder.claim.namespace}/${holder.claim.name} (node ${holder.node})`) + '; choose another address',
        { context: { pool: pool.name, address, holder: holder?.claim } });
    }
    made = holder;
  }
  return { request: w.request, device: w.device, pool: pool.name, name: a.name, uid: made.uid ?? '', address, prefixLength: a.prefixLength, routes: [], static: true };
}

/** Deletes the claim's allocations (each only while it is still the claim's); idempotent. */
export async function releaseAddresses(port: IpamPort, claimUid: string, addresses: readonly PoolAddress[]): Promise<void> {
  const errors: unknown[] = [];
  for (const a of addresses) {
    try {
      await port.release(a.name, a.uid);
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) throw errors.length === 1 ? errors[0] : new AggregateError(errors, `${errors.length} addresses of claim ${claimUid} could not be released`);
}

/**
 * After a restart (and now and then): the node's allocations that no stored
 * record names and no Prepare in flight is making are leaks of a crash
 * between create and store, or of a release that failed; delete them.
 * Allocations younger than `graceMs` are left for the next round: another
 * instance of the daemon (a rolling update) may be between its create and
 * its store. Returns the names deleted.
 */
export async function reconcileAddresses(port: IpamPort, node: string, kept: (a: Allocation) => boolean, now = Date.now(), graceMs = RECONCILE_GRACE_MS): Promise<string[]> {
  const gone: string[] = [];
  for (const a of await port.listNode(node)) {
    if (kept(a)) continue;
    if (a.created !== undefined && now - Date.parse(a.created) < graceMs) continue;
    if (a.uid !== undefined) await port.release(a.name, a.uid);
    gone.push(a.name);
  }
  return gone;
}

function prefixed(prefix: string, err: unknown): unknown {
  if (!(err instanceof DriverError)) return err;
  return new DriverError(err.code, `${prefix}: ${err.message}`, { cause: err, context: err.context });
}
