/**
 * The shareable-parent flags (docs/sharing.md): `--shareable-kind`,
 * `--shareable-name`, `--shareable-filter` and `--max-sub-interfaces`, turned
 * into the inventory's ShareableOptions.
 */
import { ConfigError } from '../../common/errors.ts';
import type { DeviceFilter } from '../../inventory/filter-cel.ts';
import { DEFAULT_MAX_SUB_INTERFACES, MAX_SUB_INTERFACES_LIMIT, type ShareableOptions } from '../../inventory/shareable.ts';

export const SHAREABLE_FLAGS = {
  'shareable-kind': { type: 'string', multiple: true, default: [] as string[] },
  'shareable-name': { type: 'string', multiple: true, default: [] as string[] },
  'shareable-filter': { type: 'string' },
  'max-sub-interfaces': { type: 'string' },
} as const;

export interface ShareableFlagValues {
  readonly 'shareable-kind'?: readonly string[];
  readonly 'shareable-name'?: readonly string[];
  readonly 'shareable-filter'?: string | undefined;
  readonly 'max-sub-interfaces'?: string | undefined;
}

const KIND = /^[a-z0-9_-]{1,32}$/;
const list = (xs: readonly string[] | undefined): string[] => (xs ?? []).flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);

/** Undefined when no parent selector is given (then `--max-sub-interfaces` alone is refused: it would do nothing). */
export function shareableOptionsFromFlags(
  v: ShareableFlagValues, compileFilter: (expression: string, field: string) => DeviceFilter,
): ShareableOptions | undefined {
  const kinds = [...new Set(list(v['shareable-kind']))];
  for (const k of kinds) {
    if (!KIND.test(k)) throw new ConfigError(`--shareable-kind: "${k}" is not a link kind (IFLA_INFO_KIND such as bond, bridge, veth; or pci, vf)`, { context: { field: '--shareable-kind' } });
  }
  const names = [...new Set(list(v['shareable-name']))];
  const expression = v['shareable-filter'];
  const maxText = v['max-sub-interfaces'];
  let max = DEFAULT_MAX_SUB_INTERFACES;
  if (maxText !== undefined) {
    max = /^[0-9]{1,5}$/.test(maxText) ? Number(maxText) : NaN;
    if (!(max >= 1 && max <= MAX_SUB_INTERFACES_LIMIT)) {
      throw new ConfigError(`--max-sub-interfaces: "${maxText}" is not an integer from 1 to ${MAX_SUB_INTERFACES_LIMIT}`, { context: { field: '--max-sub-interfaces' } });
    }
  }
  if (kinds.length === 0 && names.length === 0 && expression === undefined) {
    if (maxText !== undefined) {
      throw new ConfigError('--max-sub-interfaces: no shareable parent is selected (--shareable-kind, --shareable-name or --shareable-filter)', { context: { field: '--max-sub-interfaces' } });
    }
    return undefined;
  }
  return {
    kinds, names, maxSubInterfaces: max,
    ...(expression !== undefined ? { filter: compileFilter(expression, '--shareable-filter') } : {}),
  };
}
