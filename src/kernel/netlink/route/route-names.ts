/**
 * Numbers ↔ the names `ip` prints, for the small enumerations addresses and
 * routes share: scopes, route types, protocols, preferences and flag bits.
 * Name lookups are built once; unknown numbers stay numbers. The `*Value`
 * functions check request input and throw a ConfigError naming the field.
 */
import { ConfigError } from '../../../common/errors.ts';
import {
  ROUTE_PREF_NAMES, ROUTE_PROTOCOL_NAMES, ROUTE_TYPE_NAMES, SCOPE_NAMES,
  type RoutePrefName, type RouteProtocolName, type RouteTypeName, type RtScope, type ScopeName,
} from './route-constants.ts';

function invert<K extends string>(names: Readonly<Record<K, number>>): ReadonlyMap<number, K> {
  return new Map(Object.entries(names).map(([k, v]) => [v as number, k as K]));
}

const SCOPE_BY_VALUE = invert<ScopeName>(SCOPE_NAMES);
const PROTOCOL_BY_VALUE = invert<RouteProtocolName>(ROUTE_PROTOCOL_NAMES);
const PREF_BY_VALUE = invert<RoutePrefName>(ROUTE_PREF_NAMES);
const TYPE_VALUES: ReadonlyMap<string, number> = new Map(ROUTE_TYPE_NAMES.map((n, i) => [n, i]));

/** A ConfigError for `field` of a request object. */
export function fieldError(what: string, field: string, message: string): ConfigError {
  return new ConfigError(`${what}.${field}: ${message}`, { context: { field } });
}

/** Checks an integer in `[min, max]`. */
export function checkInt(what: string, field: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw fieldError(what, field, `${v} is not an integer in ${min}..${max}`);
  return v;
}

export const scopeName = (v: number): RtScope => SCOPE_BY_VALUE.get(v) ?? v;
export const protocolName = (v: number): RouteProtocolName | number => PROTOCOL_BY_VALUE.get(v) ?? v;
export const routeTypeName = (v: number): RouteTypeName | number => ROUTE_TYPE_NAMES[v] ?? v;
export const prefName = (v: number): RoutePrefName | number => PREF_BY_VALUE.get(v) ?? v;

const nameMap = (names: Readonly<Record<string, number>>): ReadonlyMap<string, number> => new Map(Object.entries(names));
const SCOPE_VALUES = nameMap(SCOPE_NAMES);
const PROTOCOL_VALUES = nameMap(ROUTE_PROTOCOL_NAMES);
const PREF_VALUES = nameMap(ROUTE_PREF_NAMES);

function byName(names: ReadonlyMap<string, number>, what: string, field: string, v: string | number, max: number): number {
  if (typeof v === 'number') return checkInt(what, field, v, 0, max);
  const n = names.get(v);
  if (n === undefined) throw fieldError(what, field, `unknown name "${v}" (known: ${[...names.keys()].join(', ')})`);
  return n;
}

export const scopeValue = (what: string, field: string, v: RtScope): number => byName(SCOPE_VALUES, what, field, v, 255);
export const protocolValue = (what: string, field: string, v: RouteProtocolName | number): number =>
  byName(PROTOCOL_VALUES, what, field, v, 255);
export const routeTypeValue = (what: string, field: string, v: RouteTypeName | number): number =>
  byName(TYPE_VALUES, what, field, v, 255);
export const prefValue = (what: string, field: string, v: RoutePrefName | number): number =>
  byName(PREF_VALUES, what, field, v, 255);

/** Names of the bits set in `bits`, from a `[bit, name]` table; unnamed bits are dropped. */
export function flagNames<N extends string>(bits: number, table: readonly (readonly [number, N])[]): N[] {
  const out: N[] = [];
  for (const [bit, name] of table) if (bits & bit) out.push(name);
  return out;
}
