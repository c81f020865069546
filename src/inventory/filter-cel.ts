/**
 * The admin's CEL filter over device attributes, with the same shape the
 * scheduler gives DeviceClass selectors: `device.driver`,
 * `device.attributes["netclaim.dev"].speed`, `device.attributes["resource.kubernetes.io"].numaNode`.
 * Ints are CEL ints. A device is published only when the expression is true;
 * an evaluation error (e.g. a missing attribute) excludes the device and says why.
 */
import { parse } from '@marcbachmann/cel-js';
import { ConfigError } from '../common/errors.ts';
import type { Attributes } from './attributes/limits.ts';
import { DRIVER_NAME } from './attributes/names.ts';

export interface DeviceFilter {
  readonly expression: string;
  /** true/false, or an error message. */
  evaluate(attributes: Attributes): boolean | string;
}

/** Compiles a filter once; a syntax error is a ConfigError naming the flag. */
export function compileDeviceFilter(expression: string, field = '--filter'): DeviceFilter {
  let program: (ctx: Record<string, unknown>) => unknown;
  try {
    program = parse(expression) as (ctx: Record<string, unknown>) => unknown;
  } catch (err) {
    throw new ConfigError(`${field}: invalid CEL expression: ${(err as Error).message}`, { cause: err, context: { field, expression } });
  }
  return {
    expression,
    evaluate(attributes) {
      try {
        const result = program({ device: { driver: DRIVER_NAME, attributes: celAttributes(attributes) } });
        return result === true ? true : result === false ? false : `filter returned ${typeof result}, not a bool`;
      } catch (err) {
        return (err as Error).message;
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
    (out[domain] ??= {})[name] = 'int' in v ? BigInt(v.int) : 'bool' in v ? v.bool : 'string' in v ? v.string : v.version;
  }
  return out;
}
