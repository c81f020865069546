/**
 * The fleet's cluster objects besides netclaim's slices: one Node per
 * simulated node (with allocatable, so kube-scheduler can place pods there)
 * and a GPU driver's ResourceSlice beside ours, published under a test driver
 * name as a GPU DRA driver would (NVIDIA's publishes the same standard
 * attributes: `resource.kubernetes.io/pcieRoot`, `pciBusID`; k8s.io/
 * dynamic-resource-allocation/deviceattribute). The GPU devices sit on the
 * same PCIe roots as the node shape's compute NICs.
 */
import type { KubeClient } from '../../test/conformance/kube-client.ts';
import type { NodeShape } from './node-shape.ts';

export const GPU_DRIVER = 'gpu.example.com';

/** Runs `f` over `items`, at most `n` at a time; rejects with the first failure. */
export async function inPool<T, R>(items: readonly T[], n: number, f: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

/** Creates the Node with a Ready condition and allocatable (create may set status for Nodes, as the kubelet does), untainted. */
export async function createNode(kube: KubeClient, name: string): Promise<string> {
  const body = {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'node.kubernetes.io/instance-type': 'dgx-h100-sim' } },
    status: {
      capacity: { cpu: '224', memory: '2Ti', pods: '110' },
      allocatable: { cpu: '220', memory: '1900Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'simulated', lastHeartbeatTime: new Date().toISOString(), lastTransitionTime: new Date().toISOString() }],
    },
  };
  const r = await kube.post<{ metadata: { uid: string } }>('/api/v1/nodes', body);
  if (r.status === 201) {
    // The TaintNodesByCondition admission plugin taints a new Node not-ready; the node lifecycle
    // controller (not run here) would lift it once the kubelet reports Ready, as this Node does.
    const p = await kube.patch(`/api/v1/nodes/${name}`, { spec: { taints: null } });
    if (p.status !== 200) throw new Error(`untaint node ${name}: ${p.status} ${p.text}`);
    return r.body.metadata.uid;
  }
  if (r.status !== 409) throw new Error(`create node ${name}: ${r.status} ${r.text}`);
  return (await kube.get<{ metadata: { uid: string } }>(`/api/v1/nodes/${name}`)).body.metadata.uid;
}

/** The GPU driver's slice for one node: one device per GPU, standard attributes shared with the NICs. */
export function gpuSlice(node: string, uid: string, shape: NodeShape): unknown {
  return {
    apiVersion: 'resource.k8s.io/v1', kind: 'ResourceSlice',
    metadata: { name: `${node}-${GPU_DRIVER}`, ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node, uid, controller: true }] },
    spec: {
      driver: GPU_DRIVER, nodeName: node, pool: { name: node, generation: 1, resourceSliceCount: 1 },
      devices: shape.gpus.map((g) => ({
        name: `gpu-${g.index}`,
        attributes: {
          'resource.kubernetes.io/pcieRoot': { string: g.root },
          'resource.kubernetes.io/pciBusID': { string: g.bdf },
          [`${GPU_DRIVER}/index`]: { int: g.index },
          [`${GPU_DRIVER}/productName`]: { string: 'NVIDIA H100 80GB HBM3' },
          [`${GPU_DRIVER}/numaNode`]: { int: g.numa },
        },
        capacity: { memory: { value: '80Gi' } },
      })),
    },
  };
}

export async function createGpuSlice(kube: KubeClient, node: string, uid: string, shape: NodeShape): Promise<void> {
  const r = await kube.post('/apis/resource.k8s.io/v1/resourceslices', gpuSlice(node, uid, shape));
  if (r.status !== 201 && r.status !== 409) throw new Error(`create gpu slice for ${node}: ${r.status} ${r.text}`);
}
