import { must, run, type RunOptions } from '../../util/run.ts';

// Reads and writes against a lab's API server with kubectl and the lab's own kubeconfig.
// (kubectl is required anyway: it is what the learner's admin shell offers.)

/** kubectl to use: NETDOJO_KUBECTL names another binary (read when used, not at import). */
export const kubectlBin = () => process.env.NETDOJO_KUBECTL || 'kubectl';

export class Kube {
  constructor(readonly kubeconfig: string, readonly kubectl = kubectlBin()) {}

  env(): Record<string, string> {
    return { KUBECONFIG: this.kubeconfig };
  }

  run(args: string[], opts: RunOptions = {}) {
    return run(this.kubectl, ['--kubeconfig', this.kubeconfig, ...args], { timeoutMs: 60_000, ...opts });
  }

  must(args: string[], opts: RunOptions = {}) {
    return must(this.kubectl, ['--kubeconfig', this.kubeconfig, ...args], { timeoutMs: 60_000, ...opts });
  }

  async json<T = any>(args: string[]): Promise<T> {
    return JSON.parse(await this.must([...args, '-o', 'json'])) as T;
  }

  async apply(yaml: string): Promise<void> {
    await this.must(['apply', '-f', '-'], { stdin: yaml, timeoutMs: 120_000 });
  }
}

export interface KNode {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { podCIDR?: string; taints?: { key: string; effect: string }[] };
  status: { addresses?: { type: string; address: string }[]; conditions?: { type: string; status: string }[] };
}

export interface KPod {
  metadata: { name: string; namespace: string; labels?: Record<string, string>; deletionTimestamp?: string };
  spec: { nodeName?: string; containers: { name: string; image: string }[]; hostNetwork?: boolean };
  status: { podIP?: string; phase?: string; conditions?: { type: string; status: string }[] };
}

export interface KService {
  metadata: { name: string; namespace: string };
  spec: { clusterIP?: string; ports?: { name?: string; port: number; targetPort?: number | string; protocol?: string }[] };
}

export const isReady = (o: { status: { conditions?: { type: string; status: string }[] } }) =>
  !!o.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
