/**
 * `netclaim validate FILE...`: checks the netclaim configs in manifests before
 * they reach a node. Each file (YAML or JSON; `-` reads stdin) may hold
 * several documents: bare configs, ResourceClaims, ResourceClaimTemplates,
 * DeviceClasses or Lists of them; other objects are skipped. Prints one
 * `FILE: PATH: MESSAGE` line per problem (`FILE#N` for the Nth document of a
 * multi-document file) and one `ok` line per document without problems;
 * exits 1 if any problem was found. A file that cannot be read or decoded is
 * a problem of that file: the others are still checked.
 *
 * DeviceClasses given in any of the files are matched to the claims and
 * templates whose requests name them (deviceClassName), and each claim
 * config is held to its class's policy as Prepare holds it:
 * `netclaim validate class.yaml claim.yaml`.
 */
import { parseArgs } from 'node:util';
import { checkDocument, claimAgainstClasses, classPolicies, configDrivers, type ClassPolicy, type ConfigIssue, type DocumentReport } from '../../config/claim-config/index.ts';
import { errorLine, oneLine, runCommand, STDIO, type CliIo, type Command } from './command.ts';
import { decodeManifest, formatOf, type DecodedDocument } from './manifest-decode.ts';
import { readInput } from './manifest-input.ts';

export { VALIDATE_USAGE } from './usage.ts';

export interface ValidateArgs {
  readonly files: readonly string[];
  readonly drivers: ReadonlySet<string>;
}

function parseValidateArgs(argv: readonly string[]): ValidateArgs {
  const { values, positionals } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: { 'no-dranet': { type: 'boolean', default: false } },
  });
  if (positionals.length === 0) throw new Error('no FILE given');
  return { files: positionals, drivers: configDrivers({ dranetCompat: !values['no-dranet'] }) };
}

async function executeValidate(a: ValidateArgs, io: CliIo): Promise<number> {
  const out = (line: string): void => io.out(oneLine(line));
  const read: (DecodedFile | { readonly file: string; readonly problem: string })[] = [];
  for (const file of a.files) read.push(await decodeFile(file));
  // DeviceClasses from every file, so that `validate class.yaml claim.yaml` checks the claim against its class
  const decoded = read.flatMap((f) => ('docs' in f ? f.docs : []));
  const classes = classPolicies(decoded.map((d) => d.doc.value), a.drivers);
  let problems = 0;
  for (const f of read) {
    if ('problem' in f) { out(`${f.file}: ${f.problem}`); problems++; continue; }
    for (const d of f.docs) problems += report(d.label, d.doc, a.drivers, classes, out);
  }
  return problems > 0 ? 1 : 0;
}

interface DecodedFile {
  readonly file: string;
  readonly docs: readonly { readonly label: string; readonly doc: DecodedDocument }[];
}

/** Reads and decodes one file: its documents (`FILE#N` labels when there are several), or the one problem that stops it. */
async function decodeFile(file: string): Promise<DecodedFile | { readonly file: string; readonly problem: string }> {
  try {
    const input = await readInput(file);
    if ('problem' in input) return { file, problem: input.problem };
    const docs = decodeManifest(input.text, formatOf(file));
    if (docs.length === 0) return { file, problem: 'no documents (the file is empty, or holds only comments)' };
    return { file, docs: docs.map((doc, i) => ({ label: docs.length > 1 ? `${file}#${i + 1}` : file, doc })) };
  } catch (err) {
    // A bug, not the file's fault; still one line, and the next file is checked.
    return { file, problem: `cannot be checked: ${errorLine(err)}` };
  }
}

function report(label: string, doc: DecodedDocument, drivers: ReadonlySet<string>, classes: ReadonlyMap<string, ClassPolicy>, out: (line: string) => void): number {
  let checked: DocumentReport | undefined;
  let policy: readonly ConfigIssue[];
  try {
    checked = doc.value === undefined ? undefined : checkDocument(doc.value, drivers);
    policy = doc.value === undefined ? [] : claimAgainstClasses(doc.value, classes, drivers);
  } catch (err) {
    out(`${label}: cannot be checked: ${errorLine(err)}`);
    return 1;
  }
  const issues: readonly ConfigIssue[] = [...doc.issues, ...(checked?.issues ?? []), ...policy];
  for (const x of issues) out(x.path === '' ? `${label}: ${x.message}` : `${label}: ${x.path}: ${x.message}`);
  if (issues.length === 0 && checked !== undefined) out(`${label}: ${summary(checked)}`);
  return issues.length;
}

function summary(r: DocumentReport): string {
  if (r.kind === 'other') return `skipped (${r.title}: not a netclaim config, ResourceClaim, ResourceClaimTemplate or DeviceClass)`;
  if (r.kind === 'NetworkConfig') return 'ok (NetworkConfig)';
  const counts = Object.entries(r.checked).map(([d, n]) => `${n} ${d} config${n === 1 ? '' : 's'}`);
  return `ok (${r.title}: ${counts.length === 0 ? 'no netclaim configs' : counts.join(', ')})`;
}

export const validateCommand: Command<ValidateArgs> = { name: 'validate', parse: parseValidateArgs, execute: executeValidate };

/** `netclaim validate ARGV…`, in process: the exit code (0 no problem, 1 problems, 2 usage). */
export function runValidate(argv: readonly string[], out: (s: string) => void = STDIO.out, err: (s: string) => void = STDIO.err): Promise<number> {
  return runCommand(validateCommand, argv, { out, err });
}
