/**
 * Branded identifiers: plain strings and numbers at run time, distinct types
 * at compile time, so an ifindex is never passed where a netns fd is expected.
 */
declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

export type IfIndex = Brand<number, 'IfIndex'>;
export type NetnsPath = Brand<string, 'NetnsPath'>;
export type PciAddress = Brand<string, 'PciAddress'>;
export type DeviceName = Brand<string, 'DeviceName'>;
export type ClaimUid = Brand<string, 'ClaimUid'>;
export type PodUid = Brand<string, 'PodUid'>;

export const ifIndex = (n: number): IfIndex => n as IfIndex;
export const netnsPath = (p: string): NetnsPath => p as NetnsPath;
