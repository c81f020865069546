/**
 * The plugin registration service (`pluginregistration.Registration`) the
 * kubelet's plugin watcher dials on the registration socket: GetInfo says who
 * we are and which services the DRA socket serves; NotifyRegistrationStatus
 * tells us the outcome. Both must stay cheap: the kubelet gives GetInfo 1 s.
 */
import type { ServiceImplementation, UnaryHandler } from './grpc-server.ts';
import type { KubeletServiceVersion, WirePluginInfo, WireRegistrationStatus } from './protos.ts';

/** What the kubelet told us in its last NotifyRegistrationStatus. */
export interface RegistrationStatus {
  readonly registered: boolean;
  /** The kubelet's reason when `registered` is false, else ''. */
  readonly error: string;
}

export interface PluginIdentity {
  readonly driverName: string;
  /** Absolute path of the DRA socket. */
  readonly endpoint: string;
  /** In preference order: the kubelet takes the first DRAPlugin entry it supports. */
  readonly supportedVersions: readonly KubeletServiceVersion[];
}

export function encodePluginInfo(id: PluginIdentity): WirePluginInfo {
  return { type: 'DRAPlugin', name: id.driverName, endpoint: id.endpoint, supported_versions: [...id.supportedVersions] };
}

export function registrationHandlers(id: PluginIdentity, onStatus: (s: RegistrationStatus) => void): ServiceImplementation {
  const info = encodePluginInfo(id);
  const getInfo: UnaryHandler<unknown, WirePluginInfo> = () => Promise.resolve(info);
  // Answered with OK even for a failed registration: the kubelet only logs the
  // answer, and it retries failed registrations on its own (with back-off).
  const notify: UnaryHandler<WireRegistrationStatus, Record<string, never>> = (request) => {
    onStatus({ registered: request.plugin_registered, error: request.error });
    return Promise.resolve({});
  };
  return { GetInfo: getInfo, NotifyRegistrationStatus: notify };
}
