/**
 * Files netclaim reads at run time that are not code: the .proto files
 * (proto/kubelet, proto/nri) and the shipped pci.ids subset (data/). Run from
 * the sources they sit at the package root; in the bundle (`npm run bundle`,
 * docs/packaging.md) they are copied next to netclaim.mjs, and the bundler
 * defines NETCLAIM_BUNDLED as true so they are found there.
 *
 *   assetPath('proto/nri/')   // → /…/netclaim/proto/nri/  or  /netclaim/proto/nri/ in the image
 */
import { fileURLToPath } from 'node:url';

// Replaced by `true` at bundle time (scripts/bundle.ts); never defined when Node.js runs the sources.
declare const NETCLAIM_BUNDLED: boolean | undefined;

const ROOT = new URL(typeof NETCLAIM_BUNDLED !== 'undefined' && NETCLAIM_BUNDLED ? './' : '../../', import.meta.url);

/** The absolute path of a shipped file or folder (`rel` is relative to the package root, `/`-separated). */
export function assetPath(rel: string): string {
  return fileURLToPath(new URL(rel, ROOT));
}
