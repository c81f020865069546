/**
 * The user docs cannot drift from what they describe: docs/attributes.md has
 * a row for every published attribute, in publishing order, with DraNet's
 * name; docs/deployment.md explains every capability, host path and RBAC rule
 * deploy/install.yaml holds; and the relative links of the user docs resolve.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ATTRIBUTES, DRANET_NAMES, STANDARD } from '../../src/inventory/attributes/names.ts';
import { readManifests } from './deploy-kube.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const doc = (name: string): string => readFileSync(join(ROOT, 'docs', name), 'utf8');

/** The first cell of each table row, without backticks. */
const firstCells = (text: string): string[] =>
  text.split('\n').filter((l) => /^\| `/.test(l)).map((l) => l.split('|')[1]!.trim().replaceAll('`', ''));

describe('docs/attributes.md', () => {
  const text = doc('attributes.md');
  const rows = new Map(text.split('\n').filter((l) => /^\| `/.test(l)).map((l) => {
    const cells = l.split('|').slice(1, -1).map((c) => c.trim());
    return [cells[0]!.replaceAll('`', ''), cells] as const;
  }));

  it('has every netclaim attribute, in publishing order, and the standard ones', () => {
    expect(firstCells(text).filter((n) => !n.includes('/'))).toEqual([...ATTRIBUTES]);
    for (const s of Object.values(STANDARD)) expect(rows.has(s), s).toBe(true);
  });

  it('names DraNet\'s attribute for each one --compat dranet publishes, and only those', () => {
    for (const a of ATTRIBUTES) {
      const dranet = rows.get(a)!.at(-1)!;
      const want = DRANET_NAMES[a];
      if (want === undefined) expect(dranet, a).toBe('—');
      else expect(dranet.startsWith(`\`${want}\``), `${a}: ${dranet}`).toBe(true);
    }
  });
});

describe('docs/deployment.md', () => {
  const text = doc('deployment.md');
  const objects = readManifests(join(ROOT, 'deploy/install.yaml'));
  const ds = objects.find((o) => o.kind === 'DaemonSet')!;
  const pod = (ds.spec!['template'] as { spec: { containers: Array<{ securityContext: { capabilities: { add: string[] } } }>; volumes: Array<{ hostPath: { path: string } }> } }).spec;

  it('explains every added capability', () => {
    for (const cap of pod.containers[0]!.securityContext.capabilities.add) expect(text).toContain(`| \`${cap}\` |`);
  });

  it('explains every host path', () => {
    for (const v of pod.volumes) expect(text).toContain(`| \`${v.hostPath.path}\` |`);
  });

  it('explains every RBAC rule', () => {
    const role = objects.find((o) => o.kind === 'ClusterRole') as unknown as { rules: Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> };
    for (const r of role.rules) {
      const group = r.apiGroups[0] === '' ? 'core' : `\`${r.apiGroups[0]}\``;
      const row = text.split('\n').find((l) => l.startsWith(`| ${group} \`${r.resources[0]}\``));
      expect(row, `${r.apiGroups[0]}/${r.resources[0]}`).toBeDefined();
      for (const v of r.verbs) expect(row).toContain(`\`${v}\``);
    }
  });
});

describe('user docs', () => {
  const pages = ['quickstart.md', 'how-it-works.md', 'deployment.md', 'troubleshooting.md', 'attributes.md', 'migrate-from-dranet.md', 'migrate-from-device-plugins.md'];
  it.each(pages)('%s: relative links resolve', (page) => {
    const text = doc(page);
    const links = [...text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map((m) => m[1]!).filter((l) => !/^[a-z]+:/.test(l));
    for (const l of links) expect(existsSync(join(dirname(join(ROOT, 'docs', page)), l)), `${page}: ${l}`).toBe(true);
  });
});
