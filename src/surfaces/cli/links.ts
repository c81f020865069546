/**
 * `netclaim links`: the links of a namespace as netclaim's kernel layer sees
 * them — a quick, read-only check that the FFI and netlink paths work on a node.
 */
import { parseArgs } from 'node:util';
import { linkList } from '../../kernel/netlink/route/link-ops.ts';
import type { Link } from '../../kernel/netlink/route/link-types.ts';
import { NetnsHandle } from '../../kernel/netns/handle.ts';
import { runCommand, STDIO, type CliIo, type Command } from './command.ts';

export interface LinksArgs {
  readonly netns?: string | undefined;
  readonly json: boolean;
}

function parseLinksArgs(argv: readonly string[]): LinksArgs {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: { netns: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  return values;
}

function executeLinks(a: LinksArgs, io: CliIo): number {
  const h = a.netns ? NetnsHandle.open(a.netns) : NetnsHandle.current();
  try {
    const links = linkList(h);
    io.out(a.json ? JSON.stringify(links, jsonReplacer, 2) : links.map(formatLink).join('\n'));
    return 0;
  } finally {
    h.close();
  }
}

export const linksCommand: Command<LinksArgs> = { name: 'links', parse: parseLinksArgs, execute: executeLinks };

/** `netclaim links ARGV…`, in process: the exit code. */
export function runLinks(argv: readonly string[], out: (s: string) => void = STDIO.out, err: (s: string) => void = STDIO.err): Promise<number> {
  return runCommand(linksCommand, argv, { out, err });
}

function formatLink(l: Link): string {
  const kind = l.kind ?? (l.parentDevBusName ? `${l.parentDevBusName} ${l.parentDevName ?? ''}`.trim() : '-');
  const state = l.operState.toLowerCase();
  return `${String(l.index).padStart(4)}  ${l.name.padEnd(16)} ${state.padEnd(8)} mtu ${String(l.mtu).padEnd(6)} ${(l.mac ?? '').padEnd(18)} ${kind}`;
}

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
