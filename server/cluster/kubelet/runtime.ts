import { join } from 'node:path';
import type { ExecResult } from '../../lab/types.ts';

// What the kubelet asks of a node's container runtime and CNI. The netns provider implements it
// with network namespaces and processes; the kubelet knows nothing of how.

/** A node's own file system (hostPath volumes, /etc/cni/net.d), in the directory the kubelet keeps its pods in. */
export const nodeRoot = (dataDir: string, node: string) => join(dataDir, 'nodes', node);

export interface PodSandboxConfig {
  /** The pod's sandbox name (its network namespace, the directory of its files). */
  netns: string;
  /** "namespace/name": what a learner types to open a shell in it. */
  target: string;
  node: string;
  hostNetwork: boolean;
  ip?: string;
  /** The gateway of the pod's IPAM range (kindnet's: the node's cni0 address), through which its routes go. */
  gateway?: string;
  prefixLen?: number;
  /** Destinations the pod routes through its gateway ("0.0.0.0/0": the default route). */
  routes?: string[];
  /** The pod's eth0 MTU, from the CNI config. */
  mtu?: number;
  hostname: string;
  resolvConf: string;
  hosts: string;
}

export interface Mount { source: string; target: string; readOnly: boolean }

export interface ContainerConfig {
  /** Names the container's state: unique per pod sandbox and container. */
  id: string;
  argv: string[];
  env: Record<string, string>;
  workingDir?: string;
  mounts: Mount[];
  logPath: string;
  /** What the container's spec.resources asks for (absent: nothing beyond the lab's own limits). */
  resources?: ContainerResources;
}

/** A container's resources as the runtime applies them (Kubernetes quantities, read). */
export interface ContainerResources {
  /** limits.memory: over it the kernel OOM-kills the container's processes. */
  memoryBytes?: number;
  /** limits.cpu: a cap on its CPU time. */
  cpuLimitMillis?: number;
  /** requests.cpu: its weight when the CPU is contended. */
  cpuRequestMillis?: number;
}

export interface ContainerState {
  running: boolean;
  exitCode?: number;
  startedAt?: Date;
  finishedAt?: Date;
  /** The kernel's OOM killer killed a process of the container (over its memory limit). */
  oomKilled?: boolean;
}

export interface PodRuntime {
  /** Where the kubelet keeps a pod's volumes and logs. */
  readonly dataDir: string;
  runPodSandbox(p: PodSandboxConfig): Promise<void>;
  /** Whether a pod's sandbox is still there (after a restart of the kubelet's host). */
  sandboxExists(netns: string): Promise<boolean>;
  stopPodSandbox(netns: string, hostNetwork: boolean): Promise<void>;
  startContainer(netns: string, c: ContainerConfig): Promise<void>;
  signalContainer(id: string, signal: 'TERM' | 'KILL'): Promise<void>;
  containerState(id: string): Promise<ContainerState | undefined>;
  forgetContainer(id: string): Promise<void>;
  /** Runs a script in a node's network namespace (HTTP and TCP probes come from the node). */
  inNode(node: string, script: string): Promise<ExecResult>;
  /** Runs argv inside a pod's sandbox (exec probes). */
  inPod(netns: string, argv: string[], timeoutMs: number): Promise<ExecResult>;
  /** Calls back with a container id whenever its state files change. */
  onContainerChange(cb: (id: string) => void): () => void;
}
