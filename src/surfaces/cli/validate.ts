/**
 * `netclaim validate FILE...`: checks the netclaim configs in manifests before
 * they reach a node. Each file (YAML or JSON; `-` reads stdin) may hold
 * several documents: bare configs, ResourceClaims, ResourceClaimTemplates,
 * DeviceClasses or Lists of them; other objects are skipped. Prints one
 * `FILE: PATH: MESSAGE` line per problem (`FILE#N` for the Nth document of a
 * multi-document file) and one `ok` line per document without problems;
 * exits 1 if any problem was found.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { checkDocument, configDrivers, type ConfigIssue, type DocumentReport } from '../../config/claim-config/index.ts';

export const VALIDATE_USAGE = `  netclaim validate [--no-dranet] FILE...  check the netclaim configs in manifests (configs, claims, templates,
                                           device classes; YAML or JSON, - for stdin); --no-dranet ignores dra.net configs`;

interface Document {
  readonly value?: unknown;
  readonly issues: readonly ConfigIssue[];
}

export function runValidate(argv: readonly string[], out: (s: string) => void): number {
  const { values, positionals } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: { 'no-dranet': { type: 'boolean', default: false } },
  });
  if (positionals.length === 0) {
    process.stderr.write(`netclaim validate: no FILE given\n\nUsage:\n${VALIDATE_USAGE}\n`);
    return 2;
  }
  const drivers = configDrivers({ dranetCompat: !values['no-dranet'] });
  let problems = 0;
  for (const file of positionals) {
    const docs = readDocuments(file);
    docs.forEach((doc, i) => {
      const label = docs.length > 1 ? `${file}#${i + 1}` : file;
      const report = doc.value === undefined ? undefined : checkDocument(doc.value, drivers);
      const issues = [...doc.issues, ...(report?.issues ?? [])];
      problems += issues.length;
      for (const x of issues) out(x.path === '' ? `${label}: ${x.message}` : `${label}: ${x.path}: ${x.message}`);
      if (issues.length === 0 && report !== undefined) out(`${label}: ${summary(report)}`);
    });
  }
  return problems > 0 ? 1 : 0;
}

function summary(r: DocumentReport): string {
  if (r.kind === 'other') return `skipped (${r.title}: not a netclaim config, ResourceClaim, ResourceClaimTemplate or DeviceClass)`;
  if (r.kind === 'NetworkConfig') return 'ok (NetworkConfig)';
  const counts = Object.entries(r.checked).map(([d, n]) => `${n} ${d} config${n === 1 ? '' : 's'}`);
  return `ok (${r.title}: ${counts.length === 0 ? 'no netclaim configs' : counts.join(', ')})`;
}

/**
 * The non-empty documents of a file; a file that cannot be read, or a
 * document that cannot be parsed, gives a document holding the problem.
 */
function readDocuments(file: string): Document[] {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    return [{ issues: [{ path: '', message: `cannot read: ${(err as Error).message}` }] }];
  }
  if (file.endsWith('.json')) {
    try {
      return [{ value: JSON.parse(text) as unknown, issues: [] }];
    } catch (err) {
      return [{ issues: [{ path: '', message: `malformed JSON: ${(err as Error).message}` }] }];
    }
  }
  // YAML 1.1, as kubectl reads manifests (sigs.k8s.io/yaml): `yes`/`on` are booleans there too.
  const docs = parseAllDocuments(text, { version: '1.1' });
  if (!Array.isArray(docs)) return []; // an empty stream
  return docs
    .map((d): Document => d.errors.length > 0
      // The first line of a yaml error says what and where ("... at line 2, column 1:").
      ? { issues: d.errors.map((e) => ({ path: '', message: `malformed YAML: ${e.message.split('\n')[0]!.replace(/:$/, '')}` })) }
      : { value: d.toJS({ maxAliasCount: 100 }) as unknown, issues: [] })
    .filter((d) => d.issues.length > 0 || (d.value !== null && d.value !== undefined));
}
