/**
 * Starts KubeletPluginServers on throwaway directories for the surface tests
 * and tears everything down afterwards (servers destroyed, clients closed,
 * directories removed), also when a test failed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeletPluginServer, type KubeletPluginServerOptions } from '../../src/surfaces/kubelet/plugin-server.ts';
import { FakeDriver } from './fake-driver.ts';
import { closeAllClients } from './kubelet-client.ts';

export const DRIVER = 'netclaim.dev';

const dirs: string[] = [];
const servers: KubeletPluginServer[] = [];

export interface TestDirs {
  readonly root: string;
  readonly registryDir: string;
  readonly pluginDir: string;
}

export function testDirs(): TestDirs {
  // Short prefix: unix socket paths are limited to 107 bytes.
  const root = mkdtempSync(join(tmpdir(), 'nck-'));
  dirs.push(root);
  return { root, registryDir: join(root, 'plugins_registry'), pluginDir: join(root, 'plugins', DRIVER) };
}

export function newServer(opts: Partial<KubeletPluginServerOptions> & { dirs?: TestDirs } = {}): { server: KubeletPluginServer; driver: FakeDriver; dirs: TestDirs } {
  const d = opts.dirs ?? testDirs();
  const driver = (opts.driver as FakeDriver | undefined) ?? new FakeDriver();
  const server = new KubeletPluginServer({ driverName: DRIVER, registryDir: d.registryDir, pluginDir: d.pluginDir, ...opts, driver });
  servers.push(server);
  return { server, driver, dirs: d };
}

export async function startServer(opts: Parameters<typeof newServer>[0] = {}): Promise<ReturnType<typeof newServer>> {
  const s = newServer(opts);
  await s.server.start();
  return s;
}

export function cleanupServers(): void {
  closeAllClients();
  for (const s of servers.splice(0)) s.destroy();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}
