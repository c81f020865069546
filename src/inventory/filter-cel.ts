/**
 * The admin's CEL filter over device attributes, with the same shape the
 * scheduler gives DeviceClass selectors: `device.driver`,
 * `device.attributes["netclaim.dev"].speed`, `device.attributes["resource.kubernetes.io"].numaNode`.
 * Ints are CEL ints. A device is published only when the expression is true;
 * an evaluation error (e.g. a missing attribute) excludes the device and says why.
 * The expression is type-checked when it is compiled: one whose type is not
 * bool (`1`, `device.driver`) or an unknown name (`device.atributes`) is
 * refused there, not found false for every device. An attribute's value is
 * dyn until evaluation, so `device.attributes["netclaim.dev"].virtual` passes.
 */
import { Environment } from '@marcbachmann/cel-js';
import { ConfigError } from '../common/errors.ts';
import type { Attributes } from './attributes/limits.ts';
import { DRIVER_NAME } from './attributes/names.ts';

export interface DeviceFilter {
  readonly expression: string;
  /** true/false, or an error message. */
  evaluate(attributes: Attributes): boolean | string;
}

/** What the expression sees: `device.driver` and `device.attributes[domain][name]`. */
const ENVIRONMENT = new Environment().registerVariable({
  name: 'device',
  schema: { driver: 'string', attributes: 'map<string, map<string, dyn>>' },
});

/** Types a filter may have: bool, or dyn (an attribute, known only per device). */
const FILTER_TYPES: ReadonlySet<string> = new Set(['bool', 'dyn']);

/** Compiles a filter once; a syntax or type error is a ConfigError naming the flag. */
export function compileDeviceFilter(expression: string, field = '--filter'): DeviceFilter {
  const refuse = (why: string, cause?: unknown): ConfigError =>
    new ConfigError(`${field}: invalid CEL expression: ${why}`, { cause, context: { field, expression } });
  const checked = ENVIRONMENT.check(expression);
  if (!checked.valid) throw refuse(firstLine(checked.error?.message ?? 'does not type-check'), checked.error);
  if (!FILTER_TYPES.has(checked.type ?? '')) throw refuse(`its type is ${checked.type ?? 'unknown'}, a filter must be a bool`);
  let program: (ctx: Record<string, unknown>) => unknown;
  try {
    program = ENVIRONMENT.parse(expression) as (ctx: Record<string, unknown>) => unknown;
  } catch (err) {
    throw refuse(firstLine((err as Error).message), err);
  }
  return {
    expression,
    evaluate(attributes) {
      try {
        const result = program({ device: { driver: DRIVER_NAME, attributes: celAttributes(attributes) } });
        return result === true ? true : result === false ? false : `filter returned ${typeof result}, not a bool`;
      } catch (err) {
        return firstLine((err as Error).message);
      }
    },
  };
}

/** `{domain: {name: value}}` with CEL-typed values (ints as bigint). */
export function celAttributes(attributes: Attributes): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [q, v] of Object.entries(attributes)) {
    const slash = q.indexOf('/');
    const domain = slash < 0 ? DRIVER_NAME : q.slice(0, slash);
    const name = slash < 0 ? q : q.slice(slash + 1);
    (out[domain] ??= {})[name] = 'int' in v ? BigInt(v.int) : 'ints' in v ? v.ints.map((x) => BigInt(x)) : 'bool' in v ? v.bool : 'string' in v ? v.string : v.version;
  }
  return out;
}

/** cel-js adds the expression and a caret on the lines after the message. */
function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
}
