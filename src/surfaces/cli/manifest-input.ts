/**
 * Reads one input of `netclaim validate` (a file, or stdin for `-`), never
 * more than MAX_INPUT_BYTES: a larger regular file is refused by its size
 * before any of it is read, anything else (a pipe, a device) once it has
 * given one byte more than the limit.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { MAX_INPUT_BYTES } from './input-limits.ts';

export type Input = { readonly text: string } | { readonly problem: string };

export async function readInput(file: string, limit = MAX_INPUT_BYTES, stdin: AsyncIterable<Uint8Array> = process.stdin): Promise<Input> {
  try {
    return file === '-' ? await readStream(stdin, limit) : readFile(file, limit);
  } catch (err) {
    return { problem: `cannot read: ${(err as Error).message}` };
  }
}

function readFile(file: string, limit: number): Input {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size > limit) return tooBig(`${size} bytes`, limit);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, limit + 1 - total));
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
      if (total > limit) return tooBig(`more than ${limit} bytes`, limit);
    }
    return { text: Buffer.concat(chunks, total).toString('utf8') };
  } finally {
    closeSync(fd);
  }
}

async function readStream(stream: AsyncIterable<Uint8Array>, limit: number): Promise<Input> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of stream) {
    chunks.push(chunk);
    total += chunk.length;
    if (total > limit) return tooBig(`more than ${limit} bytes`, limit);
  }
  return { text: Buffer.concat(chunks, total).toString('utf8') };
}

function tooBig(size: string, limit: number): Input {
  return { problem: `too large (${size}): validate reads at most ${mib(limit)} from one file (docs/cli.md#limits)` };
}

const mib = (bytes: number): string => (bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`);
