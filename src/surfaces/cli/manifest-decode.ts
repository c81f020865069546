/**
 * A manifest's text → its documents, for `netclaim validate`: JSON (one
 * document) or YAML 1.1 as kubectl reads it (several, `---`). A document that
 * cannot be decoded comes back holding its problems, each naming the field
 * where it can: malformed text, keys given twice, nesting or YAML aliases
 * past the limits of input-limits.ts. Empty documents are dropped.
 */
import { Composer, LineCounter, Parser, type CST, type Document, type YAMLError } from 'yaml';
import type { ConfigIssue } from '../../config/claim-config/issues.ts';
import { MAX_NESTING } from './input-limits.ts';
import { jsonStructureIssues } from './json-scan.ts';
import { aliasIssue, cstNestingIssue } from './yaml-bounds.ts';

export interface DecodedDocument {
  /** The decoded value; absent when the document could not be decoded. */
  readonly value?: unknown;
  readonly issues: readonly ConfigIssue[];
}

export type ManifestFormat = 'json' | 'yaml';

/** `.json` files are JSON; everything else, stdin included, is YAML (a superset of JSON). */
export function formatOf(file: string): ManifestFormat {
  return file.endsWith('.json') ? 'json' : 'yaml';
}

export function decodeManifest(text: string, format: ManifestFormat): DecodedDocument[] {
  return format === 'json' ? [decodeJson(text)] : decodeYaml(text);
}

function decodeJson(text: string): DecodedDocument {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return problem(`malformed JSON: ${(err as Error).message}`);
  }
  const issues = jsonStructureIssues(text, MAX_NESTING);
  return issues.length > 0 ? { issues } : { value, issues: [] };
}

function decodeYaml(text: string): DecodedDocument[] {
  const lines = new LineCounter();
  const where = (e: YAMLError): string => {
    const { line, col } = lines.linePos(e.pos[0]);
    return `${e.message} at line ${line}, column ${col}`;
  };
  // YAML 1.1, as kubectl reads manifests (sigs.k8s.io/yaml): `yes`/`on` are booleans there too.
  // logLevel error: what yaml would only warn about (a map as a key) is reported as a problem instead.
  const composer = new Composer({ version: '1.1', logLevel: 'error' });
  // The composer hands a document over when the next one starts; the
  // nesting problem found on its tokens, if any, waits here in order.
  const pending: (ConfigIssue | undefined)[] = [];
  const docs: DecodedDocument[] = [];
  const take = (doc: Document.Parsed): void => {
    const nesting = pending.shift();
    if (nesting !== undefined) docs.push({ issues: [nesting] });
    else docs.push(fromDocument(doc, where));
  };
  for (const token of new Parser(lines.addNewLine).parse(text)) {
    let next: CST.Token = token;
    if (token.type === 'document') {
      const nesting = cstNestingIssue(token);
      pending.push(nesting);
      // Too deep for the composer's recursion: it gets an empty document instead.
      if (nesting !== undefined) {
        const { value: _deep, ...empty } = token;
        next = empty;
      }
    }
    for (const doc of composer.next(next)) take(doc);
  }
  for (const doc of composer.end()) take(doc);
  const stray = composer.streamInfo().errors.map((e) => ({ path: '', message: `malformed YAML: ${where(e)}` }));
  return [...(stray.length > 0 ? [{ issues: stray }] : []), ...docs.filter((d) => d.issues.length > 0 || (d.value !== null && d.value !== undefined))];
}

function fromDocument(doc: Document.Parsed, where: (e: YAMLError) => string): DecodedDocument {
  if (doc.errors.length > 0) return { issues: doc.errors.map((e) => ({ path: '', message: `malformed YAML: ${where(e)}` })) };
  const bounded = aliasIssue(doc);
  if (bounded !== undefined) return { issues: [bounded] };
  // aliasIssue has bounded what the aliases stand for; yaml's own guess (maxAliasCount) would refuse more.
  return { value: doc.toJS({ maxAliasCount: -1 }) as unknown, issues: [] };
}

function problem(message: string): DecodedDocument {
  return { issues: [{ path: '', message }] };
}
