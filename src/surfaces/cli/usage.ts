/**
 * The usage text of every command, in a module that imports nothing: `netclaim
 * help` and `netclaim CMD --help` answer without loading the command itself.
 * docs/cli.md says the same at length.
 */

export const INVENTORY_FLAGS_USAGE = '[--include-kind KIND,...] [--node-ip IP,...] [--exclude GLOB,...] [--filter CEL] [--cloud-provider auto|none|gce|aws|azure|oci] [--shareable-kind KIND,...] [--shareable-name GLOB,...] [--shareable-filter CEL] [--max-sub-interfaces N] [--list-attributes]';

export const RUN_USAGE = `  netclaim run [--node-name NAME] [--kubeconfig FILE] [--driver-name NAME]
               [--kubelet-root-dir DIR] [--state-dir DIR] [--cdi-dir DIR] [--sysfs-root DIR]
               ${INVENTORY_FLAGS_USAGE} [--compat dranet]
               [--no-cloud-config] [--taint-unhealthy] [--taint-unhealthy-noexecute] [--rolling-update] [--metrics-address HOST:PORT]
               [--metrics-tls-cert-file FILE --metrics-tls-private-key-file FILE] [--metrics-auth]
               [--nri-socket PATH] [--nri-plugin-index NN] [--no-nri] [--container-gate create|start] [--containerd-socket PATH]
               [--evict-unreconciled]
               [--no-device-metadata]
               [--slice-write-rate PER_S] [--slice-write-burst N] [--device-return-timeout SECONDS]
               [--log-level LEVEL] [--host-netns PATH]
                                           run the node daemon (kubelet plugin + ResourceSlices)`;

export const INVENTORY_USAGE = `  netclaim inventory [--json] [--watch] [--netns PATH] [--sysfs-root DIR] [--naming netclaim|dranet]
                     ${INVENTORY_FLAGS_USAGE}
                                           the devices this node would publish, and what is left out and why`;

export const LINKS_USAGE = `  netclaim links [--netns PATH] [--json]   the links of a network namespace, as the kernel layer sees them`;

export const VALIDATE_USAGE = `  netclaim validate [--no-dranet] FILE...  check the netclaim configs in manifests (configs, claims, templates,
                                           device classes; YAML or JSON, - for stdin); --no-dranet ignores dra.net configs`;

export const STATUS_USAGE = `  netclaim status [--json] [--state-dir DIR] [--netns PATH] [--sysfs-root DIR] [--naming netclaim|dranet]
                  ${INVENTORY_FLAGS_USAGE}
                                           every device of this node: state, owner pod and claim, health, last problem
                                           (reads the daemon's state directory and the kernel; the daemon need not run)`;

export const WEBHOOK_USAGE = `  netclaim webhook --tls-cert-file FILE --tls-private-key-file FILE [--listen-address HOST:PORT]
                   [--driver-name NAME] [--kubeconfig FILE] [--no-class-policy] [--log-level LEVEL]
                                           serve the validating admission webhook (HTTPS, POST /validate)`;

export const COMMAND_USAGE = { run: RUN_USAGE, inventory: INVENTORY_USAGE, links: LINKS_USAGE, validate: VALIDATE_USAGE, webhook: WEBHOOK_USAGE, status: STATUS_USAGE } as const;

export type CommandName = keyof typeof COMMAND_USAGE;

export function usage(version: string): string {
  return `netclaim ${version} — Kubernetes DRA driver for network devices

Usage:
${RUN_USAGE}
${INVENTORY_USAGE}
${LINKS_USAGE}
${VALIDATE_USAGE}
${WEBHOOK_USAGE}
${STATUS_USAGE}
  netclaim --version                       print the version
  netclaim help                            this text; netclaim COMMAND --help: that command's

Exit codes: 0 done, 1 failed (or validate found a problem), 2 usage error.

Environment:
  NETCLAIM_FFI=koffi|ffi-rs                FFI backend (default koffi)
  NETCLAIM_PCI_IDS=FILE                    pci.ids database to use for vendor/device names
  NETCLAIM_LOG_LEVEL=LEVEL                 log level of run (fatal..trace, default info)
  NODE_NAME, POD_UID                       run: node name and rolling-update instance (downward API)
`;
}
