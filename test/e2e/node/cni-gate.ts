/**
 * A CNI plugin of the e2e node that can hold one pod's sandbox creation: the first plugin
 * of the node's conflist, a no-op for every pod but one a test names with a gate file.
 * containerd runs CNI before the sandbox's NRI RunPodSandbox hook, so a test can act (stop
 * netclaim) after the kubelet's NodePrepareResources answered and before the runtime would
 * call netclaim — without racing the kubelet.
 *
 * The gate file is /run/nc-e2e-cni-gate/<namespace>_<pod> on the node; while it exists the
 * plugin's ADD for that pod waits (up to 5 min), after writing `<gate>.reached`. The plugin
 * gives the next plugin (the bridge, which ignores it on ADD) an empty result.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const GATE_PLUGIN = 'nc-e2e-gate';
export const GATE_DIR = '/run/nc-e2e-cni-gate';

const SCRIPT = `#!/bin/sh
# ${GATE_PLUGIN}: test/e2e/node/cni-gate.ts
case "$CNI_COMMAND" in
VERSION) echo '{"cniVersion":"1.0.0","supportedVersions":["0.4.0","1.0.0","1.1.0"]}'; exit 0 ;;
ADD) ;;
*) cat >/dev/null; exit 0 ;;
esac
cat >/dev/null
ns=; name=
IFS=';'
for kv in $CNI_ARGS; do
  case "$kv" in
  K8S_POD_NAMESPACE=*) ns=\${kv#*=} ;;
  K8S_POD_NAME=*) name=\${kv#*=} ;;
  esac
done
gate="${GATE_DIR}/\${ns}_\${name}"
if [ -n "$name" ] && [ -e "$gate" ]; then
  : >"$gate.reached"
  n=0
  while [ -e "$gate" ] && [ $n -lt 3000 ]; do sleep 0.1; n=$((n + 1)); done
fi
echo '{"cniVersion":"1.0.0"}'
`;

/** The node's CNI bin dir: links to the built plugins, and the gate. */
export function cniBinDir(dir: string, builtPlugins: string): string {
  const bin = join(dir, 'cni-bin');
  mkdirSync(bin, { recursive: true });
  for (const f of readdirSync(builtPlugins)) if (!existsSync(join(bin, f))) symlinkSync(join(builtPlugins, f), join(bin, f));
  writeFileSync(join(bin, GATE_PLUGIN), SCRIPT, { mode: 0o755 });
  return bin;
}

/** The gate of one pod, from the host (nodePath: the node's /run as the host reaches it). */
export interface CniGate {
  /** Whether the pod's sandbox creation has reached the gate (and waits there). */
  reached(): boolean;
  /** Lets it through. */
  open(): void;
}

export function closeGate(nodePath: (p: string) => string, namespace: string, pod: string): CniGate {
  const dir = nodePath(GATE_DIR);
  mkdirSync(dir, { recursive: true });
  const gate = join(dir, `${namespace}_${pod}`);
  writeFileSync(gate, '');
  return {
    reached: () => existsSync(`${gate}.reached`),
    open: () => { rmSync(gate, { force: true }); rmSync(`${gate}.reached`, { force: true }); },
  };
}
