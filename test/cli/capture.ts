/** Runs a command in process and keeps what it printed: stdout lines, stderr lines, exit code. */
export interface Captured {
  readonly status: number;
  readonly lines: string[];
  readonly stderr: string[];
}

export type CommandFn = (argv: readonly string[], out: (s: string) => void, err: (s: string) => void) => Promise<number>;

export async function capture(run: CommandFn, argv: readonly string[]): Promise<Captured> {
  const lines: string[] = [];
  const stderr: string[] = [];
  const status = await run(argv, (l) => lines.push(l), (l) => stderr.push(l));
  return { status, lines, stderr };
}
