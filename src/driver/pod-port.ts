/**
 * What the NRI surface needs from the driver, as plain data (the NRI twin of
 * driver-port.ts): the runtime's pod and container events, already decoded
 * from NRI's protobuf. The NRI plugin (surfaces/nri) calls these; the driver
 * never sees ttrpc or protobuf.
 */

/** A pod sandbox as NRI describes it. */
export interface NriPod {
  /** Sandbox id (the runtime's). */
  readonly id: string;
  /** Kubernetes pod UID: the key that links the pod to its prepared claims. */
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  /** Path of the pod's network namespace (`linux.namespaces[type=network].path`); absent for host-network pods or when the runtime left it out. */
  readonly netns?: string;
}

export interface NriContainer {
  readonly id: string;
  readonly name: string;
  readonly podId: string;
}

/** A device node for the container (the runtime adds it and a device-cgroup rule). */
export interface NriLinuxDevice {
  readonly path: string;
  readonly type: 'c' | 'b';
  readonly major: number;
  readonly minor: number;
  /** File mode bits, e.g. 0o666. */
  readonly fileMode?: number;
}

/** What CreateContainer may change in the container. */
export interface NriContainerAdjustment {
  readonly devices?: readonly NriLinuxDevice[];
  readonly env?: readonly { readonly key: string; readonly value: string }[];
}

export interface PodPort {
  /**
   * The sandbox and its network namespace exist; no container runs yet. A
   * throw fails sandbox creation with the error's message (the kubelet
   * retries). Must converge when repeated for the same sandbox. With
   * `startGate`, the pod's container gate is at StartContainer (createContainer).
   */
  runPodSandbox(pod: NriPod, o?: { readonly startGate?: boolean }): Promise<void>;
  /** The sandbox stops: give the pod's devices back. Never throws (pod shutdown is never blocked). */
  stopPodSandbox(pod: NriPod): Promise<void>;
  /** The sandbox is gone. Never throws. */
  removePodSandbox(pod: NriPod): Promise<void>;
  /**
   * Before a container is created: verify the pod's devices are in place
   * (attaching them if RunPodSandbox was missed) and return what the
   * container needs. A throw fails the container. With `startGate`, the
   * runtime sends StartContainer next and fails the start when it throws:
   * the check may wait for it.
   */
  createContainer(pod: NriPod, container: NriContainer, o?: { readonly startGate?: boolean }): Promise<NriContainerAdjustment>;
  /**
   * Before a created container starts (sent only on a runtime that fails the
   * start when this throws: surfaces/nri/runtime-gate.ts): verify the pod's
   * devices are in place, attaching what is missing. A throw fails the start.
   */
  startContainer(pod: NriPod, container: NriContainer): Promise<void>;
  /**
   * After (re)connecting: every pod and container the runtime has. Once it
   * has run, the connection serves pods (until `runtimeDisconnected`).
   */
  synchronize(pods: readonly NriPod[], containers: readonly NriContainer[]): Promise<void>;
  /**
   * The connection to the runtime is gone (runtime restart, a hook past the
   * runtime's timeout, a protocol error, a failed registration): pods are not
   * served until the next `synchronize`. Optional for ports that do not care.
   */
  runtimeDisconnected?(reason: string): void;
}
