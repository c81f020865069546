/**
 * Writes deploy/install.yaml, the plain manifests, from the Helm chart in
 * deploy/helm/netclaim rendered with its default values, so the two cannot
 * differ: `helm template netclaim deploy/helm/netclaim --namespace netclaim`,
 * plus the Namespace (Helm users pass --create-namespace), minus what only
 * Helm means (the `helm.sh/chart` and `app.kubernetes.io/managed-by` labels,
 * the `# Source:` comments). The deploy conformance test fails when the
 * committed file differs from this output.
 *
 * Usage: node scripts/gen-install-manifest.ts [--check]
 *   --check  write nothing; exit 1 if deploy/install.yaml is out of date
 * Helm: $NETCLAIM_HELM, else test/deploy/build-helm.sh builds (or reuses) it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const INSTALL_FILE = join(ROOT, 'deploy/install.yaml');
export const CHART_DIR = join(ROOT, 'deploy/helm/netclaim');
export const RELEASE = 'netclaim';
export const NAMESPACE = 'netclaim';

/** Labels only Helm means; everything else in the rendered chart is kept. */
export const HELM_ONLY_LABELS = ['helm.sh/chart', 'app.kubernetes.io/managed-by'] as const;

/** The Helm binary: $NETCLAIM_HELM, else the one build-helm.sh builds or reuses. */
export function helmBinary(): string {
  const env = process.env['NETCLAIM_HELM'];
  if (env) return env;
  const out = execFileSync('bash', [join(ROOT, 'test/deploy/build-helm.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return join(out.trim().split('\n').pop()!, 'helm');
}

/** `helm template` of the chart; extra arguments (--set, -f) are passed on. Throws (with Helm's message) when Helm fails. */
export function helmTemplate(helm: string, args: readonly string[] = [], namespace = NAMESPACE, release = RELEASE): string {
  return execFileSync(helm, ['template', release, CHART_DIR, '--namespace', namespace, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function chartVersion(): string {
  const m = /^appVersion:\s*"?([^"\s]+)"?/m.exec(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8'));
  return m?.[1] ?? 'unknown';
}

const HELM_LABEL_LINE = new RegExp(`^\\s+(${HELM_ONLY_LABELS.map((l) => l.replaceAll('.', '\\.')).join('|')}): `);

/** The text of deploy/install.yaml from the chart's default rendering (edited as text: the templates' layout and comments stay). */
export function renderInstallManifest(rendered: string): string {
  const parts = rendered.split(/^---$/m)
    .map((doc) => doc.split('\n').filter((l) => !l.startsWith('# Source: ') && !HELM_LABEL_LINE.test(l)).join('\n').trim())
    .filter((doc) => doc.split('\n').some((l) => l !== '' && !l.startsWith('#')));
  const header = [
    `# netclaim ${chartVersion()}: plain manifests (kubectl apply -f deploy/install.yaml).`,
    '# Generated from the Helm chart deploy/helm/netclaim with its default values by',
    '# scripts/gen-install-manifest.ts; do not edit. docs/deployment.md explains every part.',
  ].join('\n');
  const namespace = [
    'apiVersion: v1',
    'kind: Namespace',
    'metadata:',
    `  name: ${NAMESPACE}`,
    '  labels:',
    '    app.kubernetes.io/name: netclaim',
    // The daemon runs with host namespaces and capabilities: the Pod Security "privileged" level.
    '    pod-security.kubernetes.io/enforce: privileged',
  ].join('\n');
  return `${header}\n---\n${namespace}\n${parts.map((p) => `---\n${p}\n`).join('')}`;
}

function main(): void {
  const check = process.argv.includes('--check');
  const text = renderInstallManifest(helmTemplate(helmBinary()));
  if (check) {
    const current = readFileSync(INSTALL_FILE, 'utf8');
    if (current !== text) {
      console.error('deploy/install.yaml is out of date: run node scripts/gen-install-manifest.ts');
      process.exit(1);
    }
    console.log('deploy/install.yaml is up to date');
    return;
  }
  writeFileSync(INSTALL_FILE, text);
  console.log(`wrote ${INSTALL_FILE}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
