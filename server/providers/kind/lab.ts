import { writeFileSync } from 'node:fs';
import { kindClusterName } from '../../lab/naming.ts';
import { normalizeTarget } from '../../lab/topology.ts';
import { LAPTOP } from '../../lab/world.ts';
import type { ExecOptions, ExecResult, Lab, LabFacts, ShellSpec } from '../../lab/types.ts';
import { LabError } from '../../lab/types.ts';
import { containerExec, DOCKER } from './docker.ts';
import { kubeAccessFromFile, podExec, type KubeAccess } from './exec.ts';
import { PROBE_IMAGE } from './image.ts';
import { Kube, type KPod } from './kube.ts';
import { kubeNodeName } from './render.ts';
import { paths, type KindRecord } from './record.ts';
import { run } from '../../util/run.ts';

/** The host shell with the lab's KUBECONFIG and kubectl: where cluster-level steps run (`on: admin`). */
export const ADMIN_TARGET = 'admin';

export interface KindLabDeps {
  /** Removes the cluster, its network and its directory. */
  destroy(id: string): Promise<void>;
}

export class KindLab implements Lab {
  readonly facts: LabFacts;
  readonly cluster: string;
  readonly kube: Kube;
  private access?: KubeAccess;
  private containers = new Map<string, { container: string; ours: boolean }>();

  constructor(readonly record: KindRecord, private deps: KindLabDeps) {
    if (!record.facts) throw new LabError(`kind lab ${record.id} has no facts recorded (creation did not finish)`);
    this.facts = record.facts;
    this.cluster = record.cluster;
    this.kube = new Kube(paths(record.id).kubeconfig);
  }

  get id() {
    return this.record.id;
  }

  /** The docker container of a node: kind names it `<cluster>-<node>`. */
  nodeContainer(node: string): string {
    return kubeNodeName(this.cluster, node);
  }

  private isNode(target: string) {
    return this.facts.nodes.some((n) => n.name === target);
  }

  private resolve(target: string): { kind: 'admin' } | { kind: 'node'; node: string } | { kind: 'pod'; namespace: string; name: string } {
    // On kind the machine running Docker is the laptop outside the cluster: it reaches the nodes'
    // addresses on the kind network, NodePorts and (with cloud-provider-kind) load balancers.
    if (target === ADMIN_TARGET || target === LAPTOP.name) return { kind: 'admin' };
    const t = normalizeTarget(target, this.facts);
    if (this.isNode(t)) return { kind: 'node', node: t };
    const [namespace, name, ...rest] = t.split('/');
    const dns1123 = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
    if (dns1123.test(namespace ?? '') && dns1123.test(name ?? '') && !rest.length) return { kind: 'pod', namespace, name };
    throw new LabError(`unknown target "${target}"`, `targets: ${this.targets().join(', ')}`);
  }

  private async podContainer(namespace: string, name: string): Promise<{ container: string; ours: boolean }> {
    const key = `${namespace}/${name}`;
    const hit = this.containers.get(key);
    if (hit) return hit;
    const pod = await this.kube.json<KPod>(['-n', namespace, 'get', 'pod', name]);
    const c = pod.spec.containers[0];
    const v = { container: c.name, ours: c.image === PROBE_IMAGE };
    this.containers.set(key, v);
    return v;
  }

  async exec(target: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const t = this.resolve(target);
    if (t.kind === 'admin') {
      return run(argv[0], argv.slice(1), { ...opts, env: this.adminEnv() });
    }
    if (t.kind === 'node') return containerExec(this.nodeContainer(t.node), argv, opts);
    let c: { container: string; ours: boolean };
    try {
      c = await this.podContainer(t.namespace, t.name);
    } catch (e) {
      // The pod is gone or the API server is unreachable: the command could not run.
      return { code: null, stdout: '', stderr: `netdojo: cannot exec in ${target}: ${(e as Error).message}\n`, timedOut: false, ms: 0, execError: (e as Error).message } as ExecResult;
    }
    this.access ??= kubeAccessFromFile(this.kube.kubeconfig);
    // Closing the exec socket does not stop the remote command; in our own image coreutils
    // `timeout` does, a second after the client-side deadline.
    const cmd = opts.timeoutMs && c.ours ? ['timeout', '-s', 'KILL', String(Math.ceil(opts.timeoutMs / 1000) + 1), ...argv] : argv;
    const r = await podExec(this.access, t.namespace, t.name, c.container, cmd, opts);
    if (r.code === 137 && c.ours && opts.timeoutMs && r.ms >= opts.timeoutMs) return { ...r, code: null, timedOut: true };
    if (r.execError && !r.timedOut) {
      // No trustworthy end of the command (no status, a bad one, a dropped connection): whatever
      // arrived on stdout must not be read as a result (a probe batch with its sentinel would
      // pass). It is kept as evidence on stderr; the caller sees a failed run (code null).
      const seen = r.stdout ? `netdojo: output received before the exec failed:\n${r.stdout}` : '';
      return { ...r, code: null, stdout: '', stderr: r.stderr + seen };
    }
    return r;
  }

  adminEnv(): Record<string, string> {
    return { KUBECONFIG: this.kube.kubeconfig, NETDOJO_LAB: this.id, NETDOJO_CLUSTER: this.cluster };
  }

  shell(target: string): ShellSpec {
    const t = this.resolve(target);
    const env = { TERM: 'xterm-256color' };
    if (t.kind === 'admin') {
      const p = paths(this.id);
      writeFileSync(p.bashrc, [
        '[ -f ~/.bashrc ] && . ~/.bashrc',
        `export KUBECONFIG='${p.kubeconfig}'`,
        `export NETDOJO_LAB='${this.id}' NETDOJO_CLUSTER='${this.cluster}'`,
        'command -v kubectl >/dev/null && . <(kubectl completion bash 2>/dev/null)',
        `PS1='[netdojo ${this.id} kind-admin] \\w\\$ '`,
        `echo "kubectl talks to lab ${this.id} (cluster ${this.cluster}); nodes: docker exec -it ${this.cluster}-<node> bash"`,
        '',
      ].join('\n'));
      return { file: 'bash', args: ['--rcfile', p.bashrc, '-i'], env: { ...env, ...this.adminEnv() }, title: target === LAPTOP.name ? LAPTOP.name : `admin (${this.id})` };
    }
    if (t.kind === 'node') {
      return {
        file: DOCKER,
        args: ['exec', '-it', '-e', 'TERM=xterm-256color', '-e', `PS1=root@${t.node}:\\w# `, this.nodeContainer(t.node), 'bash', '--norc', '-i'],
        env,
        title: t.node,
      };
    }
    const ps1 = `root@${t.name}:\\w# `;
    return {
      file: this.kube.kubectl,
      args: ['--kubeconfig', this.kube.kubeconfig, 'exec', '-it', '-n', t.namespace, t.name, '--',
        'sh', '-c', `if command -v bash >/dev/null; then PS1='${ps1}' exec bash --norc -i; else PS1='${ps1}' exec sh -i; fi`],
      env,
      title: `${t.namespace}/${t.name}`,
    };
  }

  targets(): string[] {
    const pods = this.facts.pods.filter((p) => p.app !== 'coredns').map((p) => p.target);
    return [...this.facts.nodes.map((n) => n.name), ...pods, ADMIN_TARGET, LAPTOP.name];
  }

  async destroy(): Promise<void> {
    await this.deps.destroy(this.id);
  }

  /** Forgets cached pod containers (pods were recreated, e.g. after a reset). */
  forgetPods(): void {
    this.containers.clear();
  }
}

export const clusterOf = (id: string) => kindClusterName(id);
