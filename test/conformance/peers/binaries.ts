/**
 * The Go peers' binaries, built (or reused) by build-peers.sh into
 * $NETCLAIM_CONFORMANCE_CACHE/peers/bin. The first call per process runs the
 * script (a no-op taking milliseconds when the sources are unchanged; about a
 * minute from a cold cache); concurrent test files are serialised by its flock.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export type PeerBinary = 'kubelet-peer' | 'nri-peer' | 'nri-peer-legacy' | 'dra-plugin' | 'nri-plugin';

const script = new URL('./build-peers.sh', import.meta.url).pathname;
let binDir: string | undefined;

/** Builds the peers if needed and returns their folder. */
export function peersBinDir(): string {
  if (binDir === undefined) {
    const out = execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    binDir = out.trim().split('\n').pop()!;
  }
  return binDir;
}

export function peerBinary(name: PeerBinary): string {
  return join(peersBinDir(), name);
}
