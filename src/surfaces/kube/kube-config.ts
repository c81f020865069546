/**
 * Where the API server is and how to authenticate to it, from a kubeconfig
 * file or the pod's service account (in-cluster), as plain data
 * (KubeTarget) for the client in kube-api.ts.
 *
 * What is taken, as client-go reads it (clientcmd/api/v1 types):
 * - cluster: `server`, `certificate-authority`, `certificate-authority-data`,
 *   `insecure-skip-tls-verify`, `tls-server-name`;
 * - user: `token`, `tokenFile`, `client-certificate(-data)`, `client-key(-data)`.
 * What would need code we do not carry (exec and auth-provider plugins, basic
 * auth, impersonation, a proxy) is refused with a ConfigError naming the
 * field, not ignored: a daemon that silently talked to the API server as
 * nobody would fail later and more obscurely. File paths are relative to the
 * kubeconfig's own directory, as client-go resolves them.
 *
 * Files (token, CA, client certificate and key) are named, not read here:
 * kube-credentials.ts reads them and reads them again, so a rotated
 * service-account token or certificate is picked up (the kubelet rotates
 * projected tokens hourly).
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from '../../common/errors.ts';

/** PEM or token bytes given inline, or a file read (and re-read) when needed. */
export type Credential = { readonly data: Buffer } | { readonly file: string };

export interface KubeTarget {
  /** `https://host:port` (or http://, which the API server does not serve outside tests). */
  readonly server: string;
  /** Where this came from, for messages: a file path or `in-cluster`. */
  readonly source: string;
  readonly ca?: Credential;
  readonly clientCert?: Credential;
  readonly clientKey?: Credential;
  readonly token?: Credential;
  readonly insecureSkipTlsVerify?: boolean;
  readonly tlsServerName?: string;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The pod's service account: KUBERNETES_SERVICE_HOST/PORT, its token and CA files. */
export function inClusterTarget(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): KubeTarget {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  if (!host || !port) {
    throw new ConfigError('in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set (not running in a pod? pass --kubeconfig)', { context: { field: host ? 'KUBERNETES_SERVICE_PORT' : 'KUBERNETES_SERVICE_HOST' } });
  }
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    source: 'in-cluster',
    ca: { file: join(dir, 'ca.crt') },
    token: { file: join(dir, 'token') },
  };
}

/**
 * Kubeconfig files are YAML. The parser (the yaml package, +1.5 MB RSS) is
 * loaded only when a file is to be read, so the DaemonSet's in-cluster start
 * never loads it: `netclaim run` awaits loadKubeconfigParser() when
 * kubeconfigFileFor() names a file; a command that always reads one passes
 * the parser it imports to useKubeconfigParser().
 */
let yamlParse: ((text: string) => unknown) | undefined;

export async function loadKubeconfigParser(): Promise<void> {
  yamlParse ??= (await import('yaml')).parse;
}

export function useKubeconfigParser(parse: (text: string) => unknown): void {
  yamlParse = parse;
}

/**
 * The kubeconfig file loadKubeTarget would read, as client-go's default
 * loading rules (and client-node's loadFromDefault) choose it: the given file,
 * else $KUBECONFIG (the first of its files that exists), else ~/.kube/config;
 * undefined when none (in-cluster, or nothing).
 */
export function kubeconfigFileFor(file: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (file !== undefined) return file;
  const listed = (env['KUBECONFIG'] ?? '').split(':').filter((p) => p !== '');
  const found = listed.find((p) => existsSync(p));
  if (found !== undefined) return found;
  const home = join(env['HOME'] ?? homedir(), '.kube', 'config');
  if (listed.length === 0 && existsSync(home)) return home;
  return undefined;
}

/** kubeconfigFileFor's file, else in-cluster when KUBERNETES_SERVICE_HOST is set. */
export function loadKubeTarget(file: string | undefined, env: NodeJS.ProcessEnv = process.env): KubeTarget {
  const path = kubeconfigFileFor(file, env);
  if (path !== undefined) return kubeconfigFileTarget(path);
  if (env['KUBERNETES_SERVICE_HOST']) return inClusterTarget(env);
  throw new ConfigError('no Kubernetes API server: pass --kubeconfig, set KUBECONFIG, or run in a pod with a service account', { context: { field: '--kubeconfig' } });
}

export function kubeconfigFileTarget(path: string): KubeTarget {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`kubeconfig ${path}: cannot read: ${(err as Error).message}`, { cause: err, context: { field: '--kubeconfig', path } });
  }
  return kubeconfigTarget(text, path);
}

type Obj = Record<string, unknown>;

/** A kubeconfig's text → the current context's target. `path` names it and anchors relative file paths. */
export function kubeconfigTarget(text: string, path: string, contextName?: string): KubeTarget {
  const bad = (field: string, what: string): ConfigError => new ConfigError(`kubeconfig ${path}: ${field}: ${what}`, { context: { field, path } });
  if (yamlParse === undefined) throw new Error('kubeconfig: the YAML parser is not loaded (await loadKubeconfigParser() first)');
  let doc: unknown;
  try {
    doc = yamlParse(text);
  } catch (err) {
    throw new ConfigError(`kubeconfig ${path}: (document): not YAML: ${(err as Error).message.split('\n')[0]}`, { cause: err, context: { field: '(document)', path } });
  }
  if (!isObj(doc)) throw bad('(document)', 'expected a mapping');
  const current = contextName ?? doc['current-context'];
  if (typeof current !== 'string' || current === '') throw bad('current-context', 'not set');
  const context = named(doc, 'contexts', 'context', current, bad);
  const clusterName = context.value['cluster'];
  if (typeof clusterName !== 'string' || clusterName === '') throw bad(`${context.field}.cluster`, 'not set');
  const cluster = named(doc, 'clusters', 'cluster', clusterName, bad);
  const userName = context.value['user'];
  const user = typeof userName === 'string' && userName !== '' ? named(doc, 'users', 'user', userName, bad) : { field: 'users[]', value: {} };
  const base = dirname(resolve(path));
  const file = (v: unknown, field: string): Credential | undefined => {
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw bad(field, 'expected a file path');
    return { file: isAbsolute(v) ? v : join(base, v) };
  };
  const data = (v: unknown, field: string): Credential | undefined => {
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw bad(field, 'expected base64 text');
    return { data: Buffer.from(v, 'base64') };
  };

  const c = cluster.value;
  const cf = cluster.field;
  for (const k of ['proxy-url']) if (c[k] !== undefined) throw bad(`${cf}.${k}`, 'not supported by netclaim');
  const server = c['server'];
  if (typeof server !== 'string' || !/^https?:\/\/[^/]/.test(server)) throw bad(`${cf}.server`, server === undefined ? 'not set' : 'expected an https:// URL');
  const insecure = c['insecure-skip-tls-verify'];
  if (insecure !== undefined && typeof insecure !== 'boolean') throw bad(`${cf}.insecure-skip-tls-verify`, 'expected true or false');
  const serverName = c['tls-server-name'];
  if (serverName !== undefined && typeof serverName !== 'string') throw bad(`${cf}.tls-server-name`, 'expected a string');

  const u = user.value;
  const uf = user.field;
  const unsupported: Record<string, string> = {
    exec: 'exec credential plugins are not supported by netclaim (use a token, tokenFile or client certificate)',
    'auth-provider': 'auth-provider plugins are not supported by netclaim (use a token, tokenFile or client certificate)',
    username: 'basic authentication is not supported by netclaim',
    password: 'basic authentication is not supported by netclaim',
    as: 'impersonation is not supported by netclaim',
    'as-uid': 'impersonation is not supported by netclaim',
    'as-groups': 'impersonation is not supported by netclaim',
    'as-user-extra': 'impersonation is not supported by netclaim',
  };
  for (const [k, why] of Object.entries(unsupported)) if (u[k] !== undefined && u[k] !== null) throw bad(`${uf}.${k}`, why);
  const token = u['token'];
  if (token !== undefined && typeof token !== 'string') throw bad(`${uf}.token`, 'expected a string');
  const pick = (dataKey: string, fileKey: string, of: Obj, field: string): Credential | undefined =>
    data(of[dataKey], `${field}.${dataKey}`) ?? file(of[fileKey], `${field}.${fileKey}`);
  const clientCert = pick('client-certificate-data', 'client-certificate', u, uf);
  const clientKey = pick('client-key-data', 'client-key', u, uf);
  if ((clientCert === undefined) !== (clientKey === undefined)) {
    throw bad(`${uf}.${clientCert === undefined ? 'client-certificate' : 'client-key'}`, 'a client certificate needs its key and the key its certificate');
  }
  const tokenCred: Credential | undefined = token ? { data: Buffer.from(token) } : file(u['tokenFile'], `${uf}.tokenFile`);
  const ca = pick('certificate-authority-data', 'certificate-authority', c, cf);
  return {
    server: server.replace(/\/+$/, ''),
    source: path,
    ...(ca ? { ca } : {}),
    ...(clientCert ? { clientCert } : {}),
    ...(clientKey ? { clientKey } : {}),
    ...(tokenCred ? { token: tokenCred } : {}),
    ...(insecure === true ? { insecureSkipTlsVerify: true } : {}),
    ...(serverName ? { tlsServerName: serverName } : {}),
  };
}

function named(doc: Obj, list: string, inner: string, name: string, bad: (field: string, what: string) => ConfigError): { field: string; value: Obj } {
  const items = doc[list];
  if (items !== undefined && items !== null && !Array.isArray(items)) throw bad(list, 'expected a list');
  const i = ((items ?? []) as unknown[]).findIndex((x) => isObj(x) && x['name'] === name);
  if (i < 0) throw bad(list, `no entry named ${JSON.stringify(name)}`);
  const field = `${list}[${JSON.stringify(name)}].${inner}`;
  const value = ((items as unknown[])[i] as Obj)[inner];
  if (value === undefined || value === null) return { field, value: {} };
  if (!isObj(value)) throw bad(field, 'expected a mapping');
  return { field, value };
}

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
