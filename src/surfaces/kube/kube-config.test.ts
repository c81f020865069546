import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { isDriverError } from '../../common/errors.ts';
import { inClusterTarget, kubeconfigTarget, loadKubeTarget, loadKubeconfigParser } from './kube-config.ts';
import { CredentialCache } from './kube-credentials.ts';

// Kubeconfig files are YAML; the parser is loaded on demand (kube-config.ts).
beforeAll(loadKubeconfigParser);

const dir = mkdtempSync(join(tmpdir(), 'nc-kubeconfig-'));
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

/** A kubeconfig as `kubectl config view --raw` writes one (clientcmd/api/v1 field names). */
function config(cluster: Record<string, unknown>, user: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'ctx', preferences: {},
    clusters: [{ name: 'other', cluster: { server: 'https://other:6443' } }, { name: 'c1', cluster: { server: 'https://10.0.0.1:6443', ...cluster } }],
    users: [{ name: 'u1', user }],
    contexts: [{ name: 'ctx', context: { cluster: 'c1', user: 'u1', namespace: 'kube-system' } }],
    ...extra,
  });
}
const path = join(dir, 'sub', 'kubeconfig');

/** The field a refusal names, or 'accepted'. */
function refusal(text: string): unknown {
  try {
    kubeconfigTarget(text, path);
    return 'accepted';
  } catch (e) {
    if (!isDriverError(e) || e.code !== 'CONFIG_INVALID') throw e;
    expect(e.message).toContain(String(e.context['field']));
    return e.context['field'];
  }
}

describe('kubeconfig files', () => {
  it('takes the current context: server, CA data, token; relative files resolve against the kubeconfig\'s directory', async () => {
    const t = kubeconfigTarget(config({ 'certificate-authority-data': Buffer.from('CA PEM').toString('base64') }, { token: 'abc' }), path);
    expect(t).toEqual({ server: 'https://10.0.0.1:6443', source: path, ca: { data: Buffer.from('CA PEM') }, token: { data: Buffer.from('abc') } });
    const f = kubeconfigTarget(config({ 'certificate-authority': 'ca.crt', 'tls-server-name': 'kubernetes' }, { 'client-certificate': '/abs/c.crt', 'client-key': 'k.key', tokenFile: '../tok' }), path);
    expect(f).toEqual({
      server: 'https://10.0.0.1:6443', source: path, tlsServerName: 'kubernetes',
      ca: { file: join(dir, 'sub', 'ca.crt') }, clientCert: { file: '/abs/c.crt' }, clientKey: { file: join(dir, 'sub', 'k.key') }, token: { file: join(dir, 'tok') },
    });
    // Inline data wins over a file, as client-go's.
    expect(kubeconfigTarget(config({ 'certificate-authority': 'x', 'certificate-authority-data': 'QQ==' }, {}), path).ca).toEqual({ data: Buffer.from('A') });
    expect(kubeconfigTarget(config({ 'insecure-skip-tls-verify': true }, {}), path).insecureSkipTlsVerify).toBe(true);
    expect(kubeconfigTarget(config({}, {}), path, 'ctx').server).toBe('https://10.0.0.1:6443');
  });

  it('refuses what it cannot honour, naming the field: exec and auth-provider plugins, basic auth, impersonation, a proxy', () => {
    const u = 'users["u1"].user';
    expect(refusal(config({}, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'aws' } }))).toBe(`${u}.exec`);
    expect(refusal(config({}, { 'auth-provider': { name: 'gcp' } }))).toBe(`${u}.auth-provider`);
    expect(refusal(config({}, { username: 'a', password: 'b' }))).toBe(`${u}.username`);
    expect(refusal(config({}, { as: 'someone' }))).toBe(`${u}.as`);
    expect(refusal(config({}, { 'as-groups': ['g'] }))).toBe(`${u}.as-groups`);
    expect(refusal(config({ 'proxy-url': 'http://proxy:3128' }, {}))).toBe('clusters["c1"].cluster.proxy-url');
  });

  it('refuses a config that is malformed, naming the field', () => {
    expect(refusal('{')).toBe('(document)');
    expect(refusal('- a\n- b\n')).toBe('(document)');
    expect(refusal(config({}, {}, { 'current-context': '' }))).toBe('current-context');
    expect(refusal(config({}, {}, { 'current-context': 'nope' }))).toBe('contexts');
    expect(refusal(config({}, {}, { contexts: [{ name: 'ctx', context: { cluster: 'c9', user: 'u1' } }] }))).toBe('clusters');
    expect(refusal(config({}, {}, { contexts: [{ name: 'ctx', context: { user: 'u1' } }] }))).toBe('contexts["ctx"].context.cluster');
    expect(refusal(config({}, {}, { clusters: [{ name: 'c1', cluster: {} }] }))).toBe('clusters["c1"].cluster.server');
    expect(refusal(config({}, {}, { clusters: [{ name: 'c1', cluster: { server: 'ftp://x' } }] }))).toBe('clusters["c1"].cluster.server');
    expect(refusal(config({}, {}, { clusters: 'x' }))).toBe('clusters');
    expect(refusal(config({ 'insecure-skip-tls-verify': 'yes' }, {}))).toBe('clusters["c1"].cluster.insecure-skip-tls-verify');
    expect(refusal(config({}, { token: 42 }))).toBe('users["u1"].user.token');
    expect(refusal(config({}, { 'client-certificate-data': 'QQ==' }))).toBe('users["u1"].user.client-key');
    expect(refusal(config({}, { 'client-key': 'k' }))).toBe('users["u1"].user.client-certificate');
    expect(refusal(config({}, {}, { users: [{ name: 'u1', user: 'x' }] }))).toBe('users["u1"].user');
  });

  it('a context without a user is anonymous (no credentials)', () => {
    expect(kubeconfigTarget(config({}, {}, { contexts: [{ name: 'ctx', context: { cluster: 'c1' } }] }), path)).toEqual({ server: 'https://10.0.0.1:6443', source: path });
  });
});

describe('in-cluster and the default order', () => {
  it('in a pod: KUBERNETES_SERVICE_HOST/PORT and the service account\'s token and CA files (IPv6 bracketed)', () => {
    expect(inClusterTarget({ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, '/sa')).toEqual({
      server: 'https://10.96.0.1:443', source: 'in-cluster', ca: { file: '/sa/ca.crt' }, token: { file: '/sa/token' },
    });
    expect(inClusterTarget({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }).server).toBe('https://[fd00::1]:443');
    expect(() => inClusterTarget({ KUBERNETES_SERVICE_HOST: '10.96.0.1' })).toThrow(expect.objectContaining({ context: { field: 'KUBERNETES_SERVICE_PORT' } }));
  });

  it('--kubeconfig, else $KUBECONFIG\'s first existing file, else ~/.kube/config, else in-cluster, else a usage error', () => {
    const home = join(dir, 'home');
    mkdirSync(join(home, '.kube'), { recursive: true });
    writeFileSync(join(home, '.kube', 'config'), config({}, {}, { clusters: [{ name: 'c1', cluster: { server: 'https://home:1' } }] }));
    const listed = join(dir, 'listed');
    writeFileSync(listed, config({}, {}, { clusters: [{ name: 'c1', cluster: { server: 'https://listed:1' } }] }));
    const pod = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };
    expect(loadKubeTarget(listed, { HOME: home }).server).toBe('https://listed:1');
    expect(loadKubeTarget(undefined, { HOME: home, KUBECONFIG: `${join(dir, 'none')}:${listed}` }).server).toBe('https://listed:1');
    expect(loadKubeTarget(undefined, { HOME: home, ...pod }).server).toBe('https://home:1');
    expect(loadKubeTarget(undefined, { HOME: join(dir, 'nohome'), ...pod }).source).toBe('in-cluster');
    expect(() => loadKubeTarget(undefined, { HOME: join(dir, 'nohome') })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', context: { field: '--kubeconfig' } }));
    expect(() => loadKubeTarget(join(dir, 'none'), {})).toThrow(expect.objectContaining({ context: expect.objectContaining({ field: '--kubeconfig' }) }));
  });
});

describe('credential files', () => {
  it('are read again once older than the refresh time; a file that vanishes keeps the last bytes; one never read fails naming it', async () => {
    const token = join(dir, 'token');
    writeFileSync(token, 'one\n');
    let now = 1_000;
    const cache = new CredentialCache({ server: 'https://x', source: 'test', token: { file: token } }, 60_000);
    expect((await cache.get(now)).token).toBe('one');
    writeFileSync(token, 'two\n');
    expect((await cache.get(now += 59_999)).token).toBe('one');
    expect((await cache.get(now += 1)).token).toBe('two');
    rmSync(token);
    expect((await cache.get(now + 60_000)).token).toBe('two');
    const never = new CredentialCache({ server: 'https://x', source: 'in-cluster', ca: { file: join(dir, 'no-ca.crt') } });
    await expect(never.get()).rejects.toMatchObject({ code: 'CONFIG_INVALID', context: { field: 'certificate-authority' } });
  });
});
