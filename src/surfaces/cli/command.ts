/**
 * How every command runs, in two phases with their own exit codes: flags →
 * options, where anything thrown is a usage error (exit 2: an unknown flag, a
 * missing or bad value), then the work, where anything thrown is a failure
 * (exit 1). `--help` anywhere before `--` prints the command's usage (exit 0).
 * Each error is one line on stderr, `netclaim CMD: MESSAGE [CODE]`, never a
 * stack trace.
 */
import { isDriverError } from '../../common/errors.ts';
import { COMMAND_USAGE, type CommandName } from './usage.ts';

export interface CliIo {
  /** One line of output (no trailing newline). */
  readonly out: (line: string) => void;
  /** One line of diagnostics. */
  readonly err: (line: string) => void;
}

export const STDIO: CliIo = {
  out: (line) => { process.stdout.write(`${line}\n`); },
  err: (line) => { process.stderr.write(`${line}\n`); },
};

export interface Command<O> {
  readonly name: CommandName;
  /** Flags → options; whatever it throws is a usage error. */
  parse(argv: readonly string[]): O | Promise<O>;
  /** The work; resolves with the exit code. */
  execute(options: O, io: CliIo): number | Promise<number>;
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** `--help` or `-h` before any `--`. */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

export function commandHelp(name: CommandName): string {
  return `Usage:\n${COMMAND_USAGE[name]}`;
}

export async function runCommand<O>(command: Command<O>, argv: readonly string[], io: CliIo = STDIO): Promise<number> {
  if (wantsHelp(argv)) {
    io.out(commandHelp(command.name));
    return EXIT_OK;
  }
  let options: O;
  try {
    options = await command.parse(argv);
  } catch (err) {
    io.err(`netclaim ${command.name}: ${errorLine(err)}`);
    io.err(`(netclaim ${command.name} --help for usage)`);
    return EXIT_USAGE;
  }
  try {
    return await command.execute(options, io);
  } catch (err) {
    io.err(`netclaim ${command.name}: ${errorLine(err)}`);
    return EXIT_FAILED;
  }
}

/** An error as one line: its message, and its code when it is netclaim's. */
export function errorLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return oneLine(isDriverError(err) ? `${message} [${err.code}]` : message);
}

/**
 * Text made safe for one output line: line breaks of a multi-line message
 * become spaces, other control characters are escaped (`\u001b`), so a value
 * quoted from the input can never start a line of its own.
 */
export function oneLine(text: string): string {
  return text
    .replace(/\s*[\r\n\u0085\u2028\u2029]+\s*/g, ' ')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .trim();
}
