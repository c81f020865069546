/**
 * One Warning Event on the Node, for what concerns the node's driver as a
 * whole rather than a claim (the claim sink, event-sink.ts, has claims only):
 * `kubectl describe node` shows it. Written once per occurrence the caller
 * decides (no de-duplication here); in namespace `default`, where the
 * kubelet's own Node events go. A failure is returned to the caller to log.
 */
import type { CoreV1Event } from '@kubernetes/client-node';
import type { KubeApi } from './kube-api.ts';
import { EVENT_COMPONENT, EVENT_REPORTING_CONTROLLER, eventName, truncateMessage } from './event-sink.ts';
import { DEFAULT_KUBE_TIMEOUT_MS } from './kube-deadline.ts';
import { kubeError } from './kube-error.ts';

export const NODE_EVENT_NAMESPACE = 'default';

export function nodeEventBody(nodeName: string, nodeUid: string | undefined, reason: string, message: string, nowMs: number): CoreV1Event {
  const at = new Date(Math.floor(nowMs / 1000) * 1000);
  return {
    apiVersion: 'v1', kind: 'Event',
    metadata: { name: eventName(nodeName, nowMs, 0), namespace: NODE_EVENT_NAMESPACE },
    involvedObject: { apiVersion: 'v1', kind: 'Node', name: nodeName, ...(nodeUid === undefined ? {} : { uid: nodeUid }) },
    type: 'Warning', reason, message: truncateMessage(message), count: 1, firstTimestamp: at, lastTimestamp: at,
    source: { component: EVENT_COMPONENT, host: nodeName }, reportingComponent: EVENT_REPORTING_CONTROLLER, reportingInstance: nodeName,
  };
}

export async function nodeWarning(api: KubeApi, nodeName: string, reason: string, message: string, nodeUid?: string): Promise<void> {
  try {
    await api.request({
      method: 'POST', path: `/api/v1/namespaces/${NODE_EVENT_NAMESPACE}/events`, timeoutMs: DEFAULT_KUBE_TIMEOUT_MS,
      body: nodeEventBody(nodeName, nodeUid, reason, message, Date.now()),
    });
  } catch (err) {
    throw kubeError(`event ${reason} on node ${nodeName}`, err, { node: nodeName, reason });
  }
}
