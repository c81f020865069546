/**
 * Each command loads only what it needs (docs/cli.md, "Start-up"): protobuf
 * and pino for `run` alone, the CEL library only with `--filter`, and
 * Node's undici (13 MB), @kubernetes/client-node and @grpc/* never (the daemon and the webhook talk
 * to the API server through src/surfaces/kube/kube-api.ts; the kubelet surface
 * serves gRPC itself, src/surfaces/kubelet/grpc-server.ts). Checked on real processes running the sources, with a
 * resolve hook recording every module they load.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const bin = new URL('../../bin/netclaim.js', import.meta.url).pathname;
const hook = new URL('./fixtures/record-imports.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'nc-lazy-'));
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

const HEAVY = {
  kubernetes: '/node_modules/@kubernetes/client-node/',
  grpc: '/node_modules/@grpc/',
  protobufjs: '/node_modules/protobufjs/',
  pino: '/node_modules/pino/',
  cel: '/node_modules/@marcbachmann/cel-js/',
  yaml: '/node_modules/yaml/',
  // Node's own fetch/WebSocket client: an ESM import of node:http loads it (src/common/node-http.ts).
  undici: 'builtin:NativeModule internal/deps/undici/undici',
} as const;

let n = 0;
/** The heavy libraries a `netclaim ARGS` process loaded, and its exit code. */
function heavyLoaded(args: readonly string[], env: NodeJS.ProcessEnv = {}): { status: number | null; loaded: string[] } {
  const record = join(dir, `imports-${n++}.txt`);
  writeFileSync(record, '');
  const r = spawnSync(process.execPath, ['--import', hook, bin, ...args], {
    encoding: 'utf8', env: { ...process.env, ...env, NETCLAIM_NO_BUNDLE: '1', NETCLAIM_RECORD_IMPORTS: record },
  });
  const urls = readFileSync(record, 'utf8');
  expect(urls).toContain('/src/main.ts');
  return { status: r.status, loaded: Object.entries(HEAVY).filter(([, path]) => urls.includes(path)).map(([name]) => name) };
}

describe('what each command loads', () => {
  it('--version, help and COMMAND --help: none of the heavy libraries', () => {
    expect(heavyLoaded(['--version'])).toEqual({ status: 0, loaded: [] });
    expect(heavyLoaded(['run', '--help'])).toEqual({ status: 0, loaded: [] });
    expect(heavyLoaded(['webhook', '--help'])).toEqual({ status: 0, loaded: [] });
  });

  it('validate: the YAML reader alone; inventory: none of them; inventory --filter: the CEL library alone', () => {
    const f = join(dir, 'c.json');
    writeFileSync(f, '{"interface": {"mtu": 9000}}');
    expect(heavyLoaded(['validate', f])).toEqual({ status: 0, loaded: ['yaml'] }); // its manifest reader is YAML (JSON included)
    // A namespace that does not exist: the flags are parsed, then discovery fails (exit 1) without root.
    expect(heavyLoaded(['inventory', '--json', '--netns', join(dir, 'none')])).toEqual({ status: 1, loaded: [] });
    expect(heavyLoaded(['inventory', '--netns', join(dir, 'none'), '--filter', 'device.driver == "netclaim.dev"'])).toEqual({ status: 1, loaded: ['cel'] });
  });

  it('run: protobuf and pino with the daemon\'s modules, never @kubernetes/client-node or @grpc/*; the CEL library only with --filter', () => {
    // A kubeconfig that cannot be read: every module of the daemon is loaded, then the flags are refused (exit 2).
    const none = join(dir, 'none');
    expect(heavyLoaded(['run', '--node-name', 'n', '--kubeconfig', none])).toEqual({ status: 2, loaded: ['protobufjs', 'pino', 'yaml'] });
    expect(heavyLoaded(['run', '--node-name', 'n', '--kubeconfig', none, '--filter', 'device.attributes["netclaim.dev"].mtu > 1500']))
      .toEqual({ status: 2, loaded: ['protobufjs', 'pino', 'cel', 'yaml'] });
  });

  it('run in a pod (in-cluster, no kubeconfig file): not the YAML parser either', () => {
    // A bad flag stops it after the flags are read, before the daemon starts (exit 2).
    const inPod = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443', KUBECONFIG: '', HOME: dir };
    expect(heavyLoaded(['run', '--node-name', 'n', '--nri-plugin-index', 'x'], inPod)).toEqual({ status: 2, loaded: ['protobufjs', 'pino'] });
  });

  it('status: none of them (it reads the state directory and the kernel, not the API server)', () => {
    expect(heavyLoaded(['status', '--json', '--state-dir', join(dir, 'state'), '--netns', join(dir, 'none')])).toEqual({ status: 1, loaded: [] });
  });
});
