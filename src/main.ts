/**
 * netclaim's command line: dispatch only. Each command lives in its own
 * module, loaded when it is the one asked for, so that `--version`, `help`
 * and `inventory` never load the daemon's libraries (Kubernetes client, gRPC,
 * protobuf, pino); docs/cli.md.
 */
import pkg from '../package.json' with { type: 'json' };
import { commandHelp, errorLine, EXIT_USAGE, runCommand, STDIO, wantsHelp, type Command } from './surfaces/cli/command.ts';
import { usage, type CommandName } from './surfaces/cli/usage.ts';

// Options of each command's own type; the dispatcher only passes them on.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyCommand = Command<any>;

const COMMANDS: Readonly<Record<CommandName, () => Promise<AnyCommand>>> = {
  run: async () => (await import('./daemon/run-command.ts')).runCommand,
  inventory: async () => (await import('./surfaces/cli/inventory.ts')).inventoryCommand,
  links: async () => (await import('./surfaces/cli/links.ts')).linksCommand,
  validate: async () => (await import('./surfaces/cli/validate.ts')).validateCommand,
  webhook: async () => (await import('./surfaces/webhook/webhook-command.ts')).webhookCommand,
  status: async () => (await import('./surfaces/cli/status.ts')).statusCommand,
};

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  switch (name) {
    case '--version':
    case 'version':
      STDIO.out(pkg.version);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      (name === undefined ? STDIO.err : STDIO.out)(usage(pkg.version));
      return name === undefined ? EXIT_USAGE : 0;
  }
  if (!Object.hasOwn(COMMANDS, name)) {
    STDIO.err(`netclaim: unknown command "${name}"\n\n${usage(pkg.version)}`);
    return EXIT_USAGE;
  }
  const command = name as CommandName;
  if (wantsHelp(rest)) {
    STDIO.out(commandHelp(command));
    return 0;
  }
  const code = await runCommand(await COMMANDS[command](), rest);
  // A stopped server exits, whatever handles its libraries leave open.
  return command === 'run' || command === 'webhook' ? process.exit(code) : code;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  // Only a command that cannot even be loaded gets here: runCommand reports the rest.
  STDIO.err(`netclaim: ${errorLine(err)}`);
  process.exitCode = 1;
}
