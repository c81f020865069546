/**
 * The small schema language the claim configuration is written in. One
 * definition (fields.ts) drives the strict parser (parse.ts), the published
 * JSON Schema (json-schema.ts), the docs check and the TypeScript types:
 * `Out<typeof NODE>` is the parsed shape of a node.
 *
 * Leaves check their own value (`check`) and may normalise it (`normalize`,
 * e.g. a MAC to lower-case colon form); objects check their fields against
 * each other (`refine`, in cross-field.ts). Nodes are plain readonly data
 * made by the builder functions below, which keep literal types so that
 * `Out` can tell required from optional fields and enums from strings.
 */

/** Where a field comes from: DraNet's `NetworkConfig` (accepted unchanged) or a netclaim addition. */
export type FieldOrigin = 'dranet' | 'netclaim';

export interface NodeBase {
  /** One or two sentences for the docs and the JSON Schema. */
  readonly description: string;
  readonly origin: FieldOrigin;
  readonly required?: boolean;
  /** The default as documented (the value itself lives in defaults.ts or the planner). */
  readonly defaultText?: string;
}

export interface StringNode<E extends string = string> extends NodeBase {
  readonly kind: 'string';
  /** What the value looks like, in words, for the docs (`IPv4 or IPv6 address`). */
  readonly format?: string;
  readonly enum?: readonly E[];
  readonly minLength?: number;
  readonly maxLength?: number;
  /** An ECMA-262 pattern; the JSON Schema publishes it and the parser checks it first. */
  readonly pattern?: string;
  /** The full check: a reason the value is wrong, or undefined. Runs after `pattern`. */
  readonly check?: (v: string) => string | undefined;
  /** The stored form of a valid value; must be idempotent. */
  readonly normalize?: (v: string) => string;
  readonly examples: readonly string[];
}

export interface IntegerNode extends NodeBase {
  readonly kind: 'integer';
  readonly minimum: number;
  readonly maximum: number;
  /** When set, only these values (names included after mapping) are allowed. */
  readonly values?: readonly number[];
  /** Values inside [minimum, maximum] that are refused, each with its reason. */
  readonly refused?: Readonly<Record<number, string>>;
  /** Names accepted in place of numbers (`main` for table 254); parsed to the number. */
  readonly names?: Readonly<Record<string, number>>;
}

export interface BooleanNode extends NodeBase {
  readonly kind: 'boolean';
}

export interface ListNode<I extends AnyNode = AnyNode> extends NodeBase {
  readonly kind: 'list';
  readonly items: I;
  readonly maxItems: number;
  /** Items must differ (compared as JSON after normalisation). */
  readonly unique?: boolean;
}

export interface MapKey {
  readonly description: string;
  readonly pattern: string;
  readonly maxLength: number;
  readonly examples: readonly string[];
}

export interface MapNode<V extends AnyNode = AnyNode> extends NodeBase {
  readonly kind: 'map';
  readonly keys: MapKey;
  readonly values: V;
  readonly maxProperties: number;
}

/** Reports one problem at a path relative to the object being checked. */
export type Report = (path: readonly PathSegment[], message: string) => void;

/**
 * A cross-field check. It sees the fields of the object that are valid
 * throughout (so their parsed types hold); fields that had problems of their
 * own are missing from `value` and named in `failed`, so a check that fires
 * on a missing field must look there first.
 */
export type Refine = (value: Readonly<Record<string, unknown>>, report: Report, failed: ReadonlySet<string>) => void;

export interface ObjectNode<F extends Readonly<Record<string, AnyNode>> = Readonly<Record<string, AnyNode>>> extends NodeBase {
  readonly kind: 'object';
  readonly fields: F;
  /** Paths show fields as `[key]` (for keys with dots, like sysctl names). */
  readonly keyedPaths?: boolean;
  /** Messages for unknown fields that users are known to write (a DraNet doc typo, a later DraNet field). */
  readonly unknownHints?: Readonly<Record<string, string>>;
  readonly refine?: Refine;
  /** Merging replaces the object whole instead of field by field (its fields belong together). */
  readonly mergeWhole?: boolean;
  /** Groups of fields that say one thing: a later layer that sets one drops the others (merge.ts). */
  readonly exclusive?: readonly (readonly string[])[];
}

export type AnyNode = StringNode | IntegerNode | BooleanNode | ListNode | MapNode | ObjectNode;

/** A field name, a list index, or a map key (printed as `[key]`). */
export type PathSegment = string | number | { readonly key: string };

// --- parsed shapes ---------------------------------------------------------

type RequiredKeys<F> = { [K in keyof F]: F[K] extends { readonly required: true } ? K : never }[keyof F];
type Simplify<T> = { [K in keyof T]: T[K] } & {};
type ObjectOut<F> = Simplify<
  { readonly [K in RequiredKeys<F>]: Out<F[K]> } & { readonly [K in Exclude<keyof F, RequiredKeys<F>>]?: Out<F[K]> }
>;

/** The parsed (normalised) value of a node. */
export type Out<N> = N extends { readonly kind: 'string'; readonly enum: readonly (infer E)[] } ? E
  : N extends { readonly kind: 'string' } ? string
  : N extends { readonly kind: 'integer' } ? number
  : N extends { readonly kind: 'boolean' } ? boolean
  : N extends ListNode<infer I> ? readonly Out<I>[]
  : N extends MapNode<infer V> ? Readonly<Record<string, Out<V>>>
  : N extends ObjectNode<infer F> ? ObjectOut<F>
  : never;

// --- builders --------------------------------------------------------------

type Opts<N> = Omit<N, 'kind'>;

export const string = (o: Opts<StringNode>): StringNode => ({ kind: 'string', ...o });
export const stringEnum = <const E extends string>(values: readonly E[], o: Omit<Opts<StringNode<E>>, 'enum' | 'examples'>): StringNode<E> & { readonly enum: readonly E[] } =>
  ({ kind: 'string', enum: values, examples: values, ...o });
export const integer = (o: Opts<IntegerNode>): IntegerNode => ({ kind: 'integer', ...o });
export const boolean = (o: Opts<BooleanNode>): BooleanNode => ({ kind: 'boolean', ...o });
export const list = <I extends AnyNode>(items: I, o: Omit<Opts<ListNode<I>>, 'items'>): ListNode<I> => ({ kind: 'list', items, ...o });
export const map = <V extends AnyNode>(values: V, o: Omit<Opts<MapNode<V>>, 'values'>): MapNode<V> => ({ kind: 'map', values, ...o });
export const object = <const F extends Readonly<Record<string, AnyNode>>>(fields: F, o: Omit<Opts<ObjectNode<F>>, 'fields'>): ObjectNode<F> =>
  ({ kind: 'object', fields, ...o });
/** Marks a node as a required field of its object. */
export const required = <N extends AnyNode>(n: N): N & { readonly required: true } => ({ ...n, required: true });

// --- paths -----------------------------------------------------------------

/** `interface.addresses[1]`, `ethtool.features[rx-gro]`: Kubernetes field-path style. */
export function formatPath(path: readonly PathSegment[]): string {
  let s = '';
  for (const seg of path) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else if (typeof seg === 'object') s += `[${seg.key}]`;
    else s += s === '' ? seg : `.${seg}`;
  }
  return s;
}
