/**
 * resource.k8s.io/v1 limits on device attributes, enforced before a device is
 * ever produced: one invalid device fails the whole ResourceSlice write.
 * (k8s.io/api resource/v1 validation: ResourceSliceMaxAttributesAndCapacitiesPerDevice,
 * DeviceAttributeMaxValueLength, QualifiedName rules.)
 */

/** Attributes plus capacities per device. */
export const MAX_ATTRIBUTES_PER_DEVICE = 32;
/**
 * Values per device, a list's items each counting one (KEP-5491, with the
 * DRAListTypeAttributes gate; measured against kube-apiserver v1.37.2:
 * "the total number of attribute values must not exceed 48").
 */
export const MAX_ATTRIBUTE_VALUES_PER_DEVICE = 48;
/** String and version values, in UTF-8 bytes (the API validates Go `len()`, so bytes, not characters). */
export const MAX_VALUE_LENGTH = 64;
/** A C identifier of at most 32 characters. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,31}$/;
/** A DNS subdomain of at most 63 characters (lower case). */
const DNS_SUBDOMAIN = /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A DNS label (device names). */
const DNS_LABEL = /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Exactly one of the value kinds, as in the API (`ints`: a list, KEP-5491, alpha gate DRAListTypeAttributes; the only list kind netclaim publishes). */
export type AttributeValue =
  | { readonly int: number }
  | { readonly bool: boolean }
  | { readonly string: string }
  | { readonly version: string }
  | { readonly ints: readonly number[] };

/** Qualified name → value, as a device's `attributes` map in a ResourceSlice. */
export type Attributes = Readonly<Record<string, AttributeValue>>;

/** Names already checked: a node publishes the same few dozen names on every device. */
const qualifiedNames = new Map<string, boolean>();

/** `domain/identifier` or a bare identifier, as the API validates it. */
export function isQualifiedName(name: string): boolean {
  let ok = qualifiedNames.get(name);
  if (ok === undefined) {
    ok = checkQualifiedName(name);
    if (qualifiedNames.size < 4096) qualifiedNames.set(name, ok);
  }
  return ok;
}

function checkQualifiedName(name: string): boolean {
  const parts = name.split('/');
  if (parts.length === 1) return IDENTIFIER.test(name);
  if (parts.length !== 2) return false;
  return DNS_SUBDOMAIN.test(parts[0]!) && IDENTIFIER.test(parts[1]!);
}

export const isDnsLabel = (s: string): boolean => DNS_LABEL.test(s);
export const isDriverName = (s: string): boolean => DNS_SUBDOMAIN.test(s);

/** Why a single value breaks the API limits, or undefined. */
export function valueProblem(v: AttributeValue): string | undefined {
  if ('string' in v) return utf8Length(v.string) > MAX_VALUE_LENGTH ? `string longer than ${MAX_VALUE_LENGTH} bytes` : undefined;
  if ('version' in v) return /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(v.version) && v.version.length <= MAX_VALUE_LENGTH ? undefined : 'not a semantic version';
  if ('int' in v) return Number.isSafeInteger(v.int) ? undefined : 'not an integer';
  if ('ints' in v) return v.ints.length === 0 ? 'an empty list' : v.ints.every((x) => Number.isSafeInteger(x)) ? undefined : 'not a list of integers';
  return typeof v.bool === 'boolean' ? undefined : 'not a boolean';
}

/** Bytes of UTF-8; ASCII (nearly every value) needs no encoding pass. */
const NON_ASCII = /[^\u0000-\u007f]/u; // eslint-disable-line no-control-regex -- the ASCII range, NUL included
const utf8Length = (s: string): number => (NON_ASCII.test(s) ? Buffer.byteLength(s, 'utf8') : s.length);

/**
 * A string that fits: cut to 64 bytes on a character boundary. Used only for
 * free text (alias); identifiers are never cut but dropped instead.
 */
export function fitText(s: string): string {
  if (utf8Length(s) <= MAX_VALUE_LENGTH) return s;
  let out = '';
  for (const ch of s) {
    if (utf8Length(out) + utf8Length(ch) > MAX_VALUE_LENGTH) break;
    out += ch;
  }
  return out;
}

/**
 * A comma-joined list that fits, truncated on whole items: as many items as
 * fit, in order. Returns undefined when not even the first item fits.
 */
export function fitList(items: readonly string[], sep = ','): string | undefined {
  let out = '';
  for (const item of items) {
    const next = out === '' ? item : `${out}${sep}${item}`;
    if (utf8Length(next) > MAX_VALUE_LENGTH) break;
    out = next;
  }
  return out === '' ? undefined : out;
}

/** Values of a device's attributes as the API counts them: one per scalar, one per list item. */
export function attributeValueCount(attrs: Attributes): number {
  let n = 0;
  for (const v of Object.values(attrs)) n += 'ints' in v ? v.ints.length : 1;
  return n;
}

/** Whether any attribute is a list (the API then allows at most 64 devices per slice). */
export const hasListAttribute = (attrs: Attributes): boolean => Object.values(attrs).some((v) => 'ints' in v);

/** Every problem of a whole attribute map (names, values, count); empty when valid. */
export function attributeProblems(attrs: Attributes, capacities = 0): string[] {
  const problems: string[] = [];
  const names = Object.keys(attrs);
  if (names.length + capacities > MAX_ATTRIBUTES_PER_DEVICE) {
    problems.push(`${names.length + capacities} attributes and capacities, more than ${MAX_ATTRIBUTES_PER_DEVICE}`);
  }
  const values = attributeValueCount(attrs);
  if (values > MAX_ATTRIBUTE_VALUES_PER_DEVICE) problems.push(`${values} attribute values, more than ${MAX_ATTRIBUTE_VALUES_PER_DEVICE}`);
  for (const n of names) {
    if (!isQualifiedName(n) || n.length > 96) problems.push(`invalid attribute name "${n}"`);
    const kinds = Object.keys(attrs[n]!);
    if (kinds.length !== 1) problems.push(`${n}: exactly one value kind needed`);
    const p = valueProblem(attrs[n]!);
    if (p) problems.push(`${n}: ${p}`);
  }
  return problems;
}
