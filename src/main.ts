/**
 * netclaim's command line: wiring only. Each command lives in surfaces/cli
 * and parses its own flags.
 */
import { isDriverError } from './common/errors.ts';
import pkg from '../package.json' with { type: 'json' };
import { INVENTORY_USAGE, runInventory } from './surfaces/cli/inventory.ts';
import { runLinks } from './surfaces/cli/links.ts';
import { RUN_USAGE, runDaemon } from './daemon/run-command.ts';
import { runValidate, VALIDATE_USAGE } from './surfaces/cli/validate.ts';

const USAGE = `netclaim ${pkg.version} — Kubernetes DRA driver for network devices

Usage:
${RUN_USAGE}
${INVENTORY_USAGE}
  netclaim links [--netns PATH] [--json]   the links of a network namespace, as the kernel layer sees them
${VALIDATE_USAGE}
  netclaim --version                       print the version
  netclaim help                            this text

Environment:
  NETCLAIM_FFI=koffi|ffi-rs                FFI backend (default koffi)
  NETCLAIM_PCI_IDS=FILE                    pci.ids database to use for vendor/device names
  NETCLAIM_LOG_LEVEL=LEVEL                 log level of run (fatal..trace, default info)
  NODE_NAME, POD_UID                       run: node name and rolling-update instance (downward API)
`;

async function main(argv: readonly string[]): Promise<number> {
  const out = (s: string): void => { process.stdout.write(`${s}\n`); };
  const [command, ...rest] = argv;
  switch (command) {
    case '--version':
    case 'version':
      out(pkg.version);
      return 0;
    case 'run':
      // A stopped daemon exits, whatever handles its libraries leave open.
      return process.exit(await runDaemon(rest));
    case 'inventory':
      return runInventory(rest, out);
    case 'links':
      return runLinks(rest, out);
    case 'validate':
      return runValidate(rest, out);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`netclaim: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  const code = isDriverError(err) ? ` [${err.code}]` : '';
  process.stderr.write(`netclaim: ${err instanceof Error ? err.message : String(err)}${code}\n`);
  process.exitCode = 1;
}
