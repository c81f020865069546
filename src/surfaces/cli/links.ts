/**
 * `netclaim links`: the links of a namespace as netclaim's kernel layer sees
 * them — a quick, read-only check that the FFI and netlink paths work on a node.
 */
import { parseArgs } from 'node:util';
import { linkList } from '../../kernel/netlink/route/link-ops.ts';
import type { Link } from '../../kernel/netlink/route/link-types.ts';
import { NetnsHandle } from '../../kernel/netns/handle.ts';

export function runLinks(argv: readonly string[], out: (s: string) => void): number {
  const { values: opts } = parseArgs({
    args: [...argv],
    strict: true,
    options: { netns: { type: 'string' }, json: { type: 'boolean', default: false } },
  });
  const h = opts.netns ? NetnsHandle.open(opts.netns) : NetnsHandle.current();
  try {
    const links = linkList(h);
    out(opts.json ? JSON.stringify(links, jsonReplacer, 2) : links.map(formatLink).join('\n'));
    return 0;
  } finally {
    h.close();
  }
}

function formatLink(l: Link): string {
  const kind = l.kind ?? (l.parentDevBusName ? `${l.parentDevBusName} ${l.parentDevName ?? ''}`.trim() : '-');
  const state = l.operState.toLowerCase();
  return `${String(l.index).padStart(4)}  ${l.name.padEnd(16)} ${state.padEnd(8)} mtu ${String(l.mtu).padEnd(6)} ${(l.mac ?? '').padEnd(18)} ${kind}`;
}

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
