/**
 * What the driver needs from the store of address allocations (the
 * Kubernetes API in production: surfaces/kube/ipam-client.ts), as plain
 * data. The store's one guarantee is that `create` of a name that exists
 * fails ('exists'): uniqueness of an address is the uniqueness of an object
 * name, decided by the API server, with no consensus of our own.
 */
import type { AddressPool } from './pool-spec.ts';

/** One allocated address: an `IPAllocation` object, named by allocationName(pool, address). */
export interface Allocation {
  readonly name: string;
  readonly pool: string;
  readonly address: string;
  readonly prefixLength: number;
  readonly node: string;
  readonly claim: { readonly uid: string; readonly namespace: string; readonly name: string };
  readonly request: string;
  /** The object's metadata.uid, once it exists (what a release deletes, by precondition). */
  readonly uid?: string;
  /** metadata.creationTimestamp (RFC 3339), once it exists. */
  readonly created?: string;
}

export interface IpamPort {
  /** The pool by name; throws PREPARE_POOL_INVALID when it does not exist or its spec is refused. */
  pool(name: string): Promise<AddressPool>;
  /** Every pool (for static addresses that lie in one); none when the API has no IPPool type. */
  pools(): Promise<readonly AddressPool[]>;
  /** Creates the allocation and returns it with its uid; 'exists' when an object of that name is already there (the address is taken). */
  create(a: Allocation): Promise<Allocation | 'exists'>;
  /** The allocation of that name, or undefined. */
  get(name: string): Promise<Allocation | undefined>;
  /** Deletes the object of that name and uid (a precondition: a later allocation of the same address is never deleted); absent: nothing. */
  release(name: string, uid: string): Promise<void>;
  /** The allocations of a pool (its label), for a pool too full for random probes. */
  listPool(pool: string): Promise<readonly Allocation[]>;
  /** The allocations made by a node (its label), for the reconcile after a restart. */
  listNode(node: string): Promise<readonly Allocation[]>;
}
