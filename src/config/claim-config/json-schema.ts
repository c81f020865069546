/**
 * The JSON Schema (draft-07, the draft editors and manifest checkers support
 * best) of the opaque parameters, made from the same definition the parser
 * walks. scripts/gen-config-schema.ts writes it to
 * schema/claim-config.schema.json; a test keeps the file in step.
 *
 * The schema is never stricter than the parser: whatever the parser accepts,
 * the schema accepts (null included, which both read as absent). It is looser
 * where JSON Schema cannot follow: cross-field rules (cross-field.ts), exact
 * address syntax, byte lengths, and the 10 KiB limit. `netclaim validate`
 * checks all of it.
 */
import { API_VERSION, KIND, NETWORK_CONFIG } from './fields.ts';
import type { AnyNode, IntegerNode, NodeBase } from './nodes.ts';

type Schema = Record<string, unknown>;

export function claimConfigJsonSchema(): Schema {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: `netclaim ${KIND} (${API_VERSION})`,
    ...nodeSchema(NETWORK_CONFIG),
  };
}

function describe(n: NodeBase): string {
  return n.defaultText === undefined ? n.description : `${n.description} Default: ${n.defaultText}.`;
}

function nodeSchema(n: AnyNode): Schema {
  const description = describe(n);
  switch (n.kind) {
    case 'string':
      return {
        type: 'string', description,
        ...(n.enum ? { enum: [...n.enum] } : {}),
        ...(n.minLength !== undefined ? { minLength: n.minLength } : {}),
        ...(n.maxLength !== undefined ? { maxLength: n.maxLength } : {}),
        ...(n.pattern !== undefined ? { pattern: n.pattern } : {}),
        ...(n.enum ? {} : { examples: [...n.examples] }),
      };
    case 'integer': return integerSchema(n, description);
    case 'boolean': return { type: 'boolean', description };
    case 'list':
      return { type: 'array', description, items: nodeSchema(n.items), maxItems: n.maxItems, ...(n.unique ? { uniqueItems: true } : {}) };
    case 'map':
      return {
        type: 'object', description,
        propertyNames: { description: n.keys.description, pattern: n.keys.pattern, maxLength: n.keys.maxLength, examples: [...n.keys.examples] },
        additionalProperties: nullable(nodeSchema(n.values)),
        maxProperties: n.maxProperties,
      };
    case 'object': {
      const required = Object.entries(n.fields).filter(([, f]) => f.required).map(([k]) => k);
      return {
        type: 'object', description,
        properties: Object.fromEntries(Object.entries(n.fields).map(([k, f]) => [k, f.required ? nodeSchema(f) : nullable(nodeSchema(f))])),
        additionalProperties: false,
        ...(required.length > 0 ? { required } : {}),
      };
    }
  }
}

function integerSchema(n: IntegerNode, description: string): Schema {
  const int: Schema = n.values
    ? { type: 'integer', enum: [...n.values] }
    : { type: 'integer', minimum: n.minimum, maximum: n.maximum };
  if (n.refused) int.not = { enum: Object.keys(n.refused).map(Number) };
  if (!n.names) return { description, ...int };
  return { description, anyOf: [int, { type: 'string', enum: Object.keys(n.names) }] };
}

/** The same schema, also accepting null (read as absent). */
function nullable(s: Schema): Schema {
  if (typeof s.type === 'string') {
    return { ...s, type: [s.type, 'null'], ...(Array.isArray(s.enum) ? { enum: [...(s.enum as unknown[]), null] } : {}) };
  }
  if (Array.isArray(s.anyOf)) return { ...s, anyOf: [...(s.anyOf as Schema[]), { type: 'null' }] };
  return s;
}
