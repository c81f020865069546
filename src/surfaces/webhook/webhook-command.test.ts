import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_OPENSSL, makeCa, makeServingCert } from '../../../test/fixtures/tls/make-certs.ts';
import { runCommand } from '../cli/command.ts';
import { webhookArgs, webhookCommand } from './webhook-command.ts';

const dir = mkdtempSync(join(tmpdir(), 'nc-webhook-cmd-'));
let cert = { cert: '', key: '' };
beforeAll(() => { if (HAVE_OPENSSL) cert = makeServingCert(makeCa(dir), 'w'); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function usage(argv: string[]): Promise<{ status: number; err: string[] }> {
  const err: string[] = [];
  const status = await runCommand({ ...webhookCommand, execute: () => 0 }, argv, { out: () => {}, err: (l) => err.push(l) });
  return { status, err };
}

describe.skipIf(!HAVE_OPENSSL)(HAVE_OPENSSL ? 'netclaim webhook flags' : 'netclaim webhook flags — SKIPPED: openssl is needed to make its certificates', () => {
  it('needs both certificate files, and ones that load: usage errors (exit 2) naming the flag or file', async () => {
    expect(await usage([])).toEqual({ status: 2, err: [expect.stringMatching(/^netclaim webhook: --tls-cert-file and --tls-private-key-file are required/), '(netclaim webhook --help for usage)'] });
    expect((await usage([`--tls-cert-file=${cert.cert}`])).status).toBe(2);
    writeFileSync(join(dir, 'bad.crt'), 'not a certificate');
    const bad = await usage([`--tls-cert-file=${join(dir, 'bad.crt')}`, `--tls-private-key-file=${cert.key}`]);
    expect(bad.status).toBe(2);
    expect(bad.err[0]).toContain('bad.crt');
    expect((await usage([`--tls-cert-file=${cert.cert}`, `--tls-private-key-file=${cert.key}`, '--listen-address=9443'])).err[0]).toContain('bind address "9443"');
    expect((await usage([`--tls-cert-file=${cert.cert}`, `--tls-private-key-file=${cert.key}`, '--log-level=loud'])).status).toBe(2);
  });

  it('defaults: :9443, the netclaim.dev driver, DeviceClasses read; --no-class-policy reads none (no kubeconfig loaded)', () => {
    const base = [`--tls-cert-file=${cert.cert}`, `--tls-private-key-file=${cert.key}`];
    const off = webhookArgs([...base, '--no-class-policy']);
    expect(off.server).toEqual({ bindAddress: ':9443', tls: { certFile: cert.cert, keyFile: cert.key }, drivers: new Set(['netclaim.dev']) });
    expect(off.kubeConfig).toBeUndefined();
    const kc = join(dir, 'kubeconfig');
    writeFileSync(kc, JSON.stringify({ apiVersion: 'v1', kind: 'Config', 'current-context': 'x', clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }], users: [{ name: 'u', user: {} }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }] }));
    const on = webhookArgs([...base, `--kubeconfig=${kc}`, '--driver-name=example.com', '--listen-address=127.0.0.1:0']);
    expect(on.kubeConfig?.target.server).toBe('https://127.0.0.1:1');
    expect(on.server.drivers).toEqual(new Set(['example.com']));
  });
});
