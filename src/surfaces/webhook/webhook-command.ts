/**
 * `netclaim webhook`: the validating admission webhook (docs/webhook.md).
 * Flags → WebhookServerOptions, then serve until SIGTERM/SIGINT. Loaded only
 * when asked for (main.ts), like `run`.
 */
import { parseArgs } from 'node:util';
import { DRIVER_NAME } from '../../common/driver.ts';
import { ConfigError } from '../../common/errors.ts';
import { parseBindAddress } from '../../observe/http-server.ts';
import { createLogger, logLevelFrom } from '../../observe/logger.ts';
import { readTlsPair } from '../../observe/tls-files.ts';
import type { Command } from '../cli/command.ts';
import { KubeApi } from '../kube/kube-api.ts';
import { parse as parseYaml } from 'yaml';
import { loadKubeTarget, useKubeconfigParser } from '../kube/kube-config.ts';
import { deviceClassReader } from './device-classes.ts';
import { DEFAULT_WEBHOOK_ADDRESS, WebhookServer, type WebhookServerOptions } from './webhook-server.ts';

export interface WebhookArgs {
  readonly server: Omit<WebhookServerOptions, 'log' | 'deviceClass'>;
  /** Undefined: DeviceClasses are not read (--no-class-policy). */
  readonly kubeConfig: KubeApi | undefined;
  readonly logLevel: string | undefined;
}

/** What it throws is a usage error (exit 2): a missing or unreadable certificate included. */
export function webhookArgs(argv: readonly string[]): WebhookArgs {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      'tls-cert-file': { type: 'string' },
      'tls-private-key-file': { type: 'string' },
      'listen-address': { type: 'string', default: DEFAULT_WEBHOOK_ADDRESS },
      'driver-name': { type: 'string', default: DRIVER_NAME },
      kubeconfig: { type: 'string' },
      'no-class-policy': { type: 'boolean', default: false },
      'log-level': { type: 'string' },
    },
  });
  const certFile = values['tls-cert-file'];
  const keyFile = values['tls-private-key-file'];
  if (certFile === undefined || keyFile === undefined) {
    throw new ConfigError('--tls-cert-file and --tls-private-key-file are required: the API server calls webhooks over HTTPS only', { context: { field: certFile === undefined ? '--tls-cert-file' : '--tls-private-key-file' } });
  }
  readTlsPair({ certFile, keyFile });
  parseBindAddress(values['listen-address']);
  if (values['log-level'] !== undefined) logLevelFrom(values['log-level']);
  // yaml stays a static import here: webhookArgs is synchronous, and the webhook is not the idle-bound daemon.
  useKubeconfigParser(parseYaml);
  const kubeConfig = values['no-class-policy'] ? undefined : new KubeApi(loadKubeTarget(values.kubeconfig));
  return {
    server: { bindAddress: values['listen-address'], tls: { certFile, keyFile }, drivers: new Set([values['driver-name']]) },
    kubeConfig,
    logLevel: values['log-level'],
  };
}

export async function runWebhook(a: WebhookArgs): Promise<number> {
  const log = createLogger({ level: logLevelFrom(a.logLevel) }).child({ component: 'webhook' });
  const server = new WebhookServer({ ...a.server, log, ...(a.kubeConfig ? { deviceClass: deviceClassReader({ kubeConfig: a.kubeConfig }) } : {}) });
  await server.listen();
  const { host, port } = server.address();
  log.info({ host, port, drivers: [...a.server.drivers], classPolicy: a.kubeConfig !== undefined }, 'webhook serving');
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info({ signal }, 'stopping');
  await server.close();
  return 0;
}

export const webhookCommand: Command<WebhookArgs> = { name: 'webhook', parse: webhookArgs, execute: (a) => runWebhook(a) };
