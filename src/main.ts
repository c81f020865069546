/**
 * netclaim's command line: wiring only. Each command lives in surfaces/cli.
 */
import { parseArgs } from 'node:util';
import { isDriverError } from './common/errors.ts';
import pkg from '../package.json' with { type: 'json' };
import { runLinks } from './surfaces/cli/links.ts';

const USAGE = `netclaim ${pkg.version} — Kubernetes DRA driver for network devices

Usage:
  netclaim links [--netns PATH] [--json]   list the links of a network namespace
  netclaim --version                       print the version
  netclaim help                            this text

Environment:
  NETCLAIM_FFI=koffi|ffi-rs                FFI backend (default koffi)
`;

function main(argv: readonly string[]): number {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      netns: { type: 'string' },
      json: { type: 'boolean', default: false },
      version: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const out = (s: string): void => { process.stdout.write(`${s}\n`); };
  if (values.version) {
    out(pkg.version);
    return 0;
  }
  const [command] = positionals;
  switch (command) {
    case 'links':
      runLinks({ json: values.json, ...(values.netns !== undefined ? { netns: values.netns } : {}) }, out);
      return 0;
    case undefined:
    case 'help':
      out(USAGE);
      return values.help || command === 'help' ? 0 : 2;
    default:
      process.stderr.write(`netclaim: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  const code = isDriverError(err) ? ` [${err.code}]` : '';
  process.stderr.write(`netclaim: ${err instanceof Error ? err.message : String(err)}${code}\n`);
  process.exitCode = 1;
}
