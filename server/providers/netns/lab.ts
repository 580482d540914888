import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { labDir } from '../../lab/naming.ts';
import type { LabRecord } from '../../lab/records.ts';
import { normalizeTarget, podTarget } from '../../lab/topology.ts';
import { LabError, type ExecOptions, type ExecResult, type Lab, type LabFacts, type PodSpec, type ShellSpec, type Topology } from '../../lab/types.ts';
import { kubeProxyRules } from './kubeproxy.ts';
import { netnsOf, startAppScript, stopPodScript, syncRulesScript, waitReadyScript } from './plan.ts';
import { enterPrefix, runIn, stopSandbox, type SandboxHandle } from './sandbox.ts';

/** Set in every shell and command inside a lab, so the `lab` helper acts from within the sandbox. */
export const INSIDE_ENV = 'NETDOJO_LAB_DIR';

/** Workload replicas, the lab's only mutable cluster state (what `kubectl scale` changes). */
export interface WorkloadState { replicas: Record<string, number> }

export const ADMIN_TARGET = 'admin';

export class NetnsLab implements Lab {
  readonly dir: string;

  constructor(readonly record: LabRecord, private readonly inside = false) {
    this.dir = labDir(record.id);
  }

  get facts(): LabFacts { return this.record.facts; }
  get topology(): Topology { return this.record.topology; }
  private get sandbox(): SandboxHandle { return this.record.handle as unknown as SandboxHandle; }

  targets(): string[] {
    return [...this.topology.nodes.map((n) => n.name), ...this.topology.pods.map(podTarget)];
  }

  /** A known target's canonical name ("web-0" → "default/web-0", "admin" → the control-plane). */
  resolve(target: string): string {
    if (target === ADMIN_TARGET) return this.topology.nodes.find((n) => n.role === 'control-plane')!.name;
    const t = normalizeTarget(target, this.topology);
    if (!this.targets().includes(t)) {
      throw new LabError(`unknown target "${target}" in lab ${this.record.id}`, `targets: ${[ADMIN_TARGET, ...this.targets()].join(', ')}`);
    }
    return t;
  }

  exec(target: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const ns = netnsOf(this.resolve(target));
    return runIn(this.sandbox, this.inside, [join(this.dir, 'bin/enter'), ns, ...argv], { timeoutMs: opts.timeoutMs, stdin: opts.stdin, env: this.env() });
  }

  /** Runs a script in the sandbox itself (not in a target): how the lab changes its own state. */
  sandboxScript(script: string, timeoutMs = 30_000): Promise<ExecResult> {
    return runIn(this.sandbox, this.inside, ['bash', '-c', script], { timeoutMs, env: this.env() });
  }

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, [INSIDE_ENV]: this.dir, PATH: `${join(this.dir, 'bin')}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` };
  }

  shell(target: string): ShellSpec {
    const t = this.resolve(target);
    const [file, ...prefix] = [...enterPrefix(this.sandbox, this.inside), join(this.dir, 'bin/enter'), netnsOf(t), 'bash', '--rcfile', join(this.dir, 'etc/bashrc'), '-i'];
    return { file, args: prefix, env: { ...this.env(), TERM: 'xterm-256color' }, title: t };
  }

  async destroy(): Promise<void> {
    await stopSandbox(this.sandbox);
  }

  // ---- workloads: the part of a cluster's control loop the lab helper needs --------------------

  async workloadState(): Promise<WorkloadState> {
    try {
      return JSON.parse(await readFile(join(this.dir, 'state.json'), 'utf8')) as WorkloadState;
    } catch {
      return { replicas: Object.fromEntries(this.topology.workloads.map((w) => [`${w.namespace}/${w.name}`, w.replicas])) };
    }
  }

  /** Pods that should run: all pods outside workloads, and the first `replicas` pods of each workload. */
  static runningPods(topo: Topology, state: WorkloadState): Set<string> {
    const running = new Set<string>();
    for (const p of topo.pods) {
      if (!p.workload) { running.add(podTarget(p)); continue; }
      const members = topo.pods.filter((q) => q.workload === p.workload).sort((a, b) => a.name.localeCompare(b.name));
      if (members.indexOf(p) < (state.replicas[p.workload] ?? members.length)) running.add(podTarget(p));
    }
    return running;
  }

  workload(name: string): { key: string; pods: PodSpec[] } {
    const key = name.includes('/') ? name : this.topology.workloads.find((w) => w.name === name)
      ? `${this.topology.workloads.find((w) => w.name === name)!.namespace}/${name}` : `default/${name}`;
    const pods = this.topology.pods.filter((p) => p.workload === key);
    if (!pods.length) {
      throw new LabError(`no workload "${name}"`, `workloads: ${this.topology.workloads.map((w) => `${w.namespace}/${w.name}`).join(', ')}`);
    }
    return { key, pods };
  }

  /** Scales a workload: starts or stops its pods' processes, then updates every node's Service rules. */
  async scale(name: string, replicas: number): Promise<void> {
    const { key, pods } = this.workload(name);
    if (!Number.isInteger(replicas) || replicas < 0 || replicas > pods.length) {
      throw new LabError(`replicas for ${key} must be a whole number from 0 to ${pods.length} (this lab has ${pods.length} slots)`);
    }
    const current = await this.workloadState();
    const before = NetnsLab.runningPods(this.topology, current);
    const state = { replicas: { ...current.replicas, [key]: replicas } };
    const after = NetnsLab.runningPods(this.topology, state);
    const stop = pods.filter((p) => before.has(podTarget(p)) && !after.has(podTarget(p)));
    const start = pods.filter((p) => !before.has(podTarget(p)) && after.has(podTarget(p)));
    await this.apply(state, stop, start);
  }

  /** Restarts a workload's (or one pod's) processes, like a rollout restart or a deleted pod. */
  async restart(name: string): Promise<string[]> {
    const state = await this.workloadState();
    const running = NetnsLab.runningPods(this.topology, state);
    const pod = this.topology.pods.find((p) => podTarget(p) === normalizeTarget(name, this.topology));
    const pods = (pod ? [pod] : this.workload(name).pods).filter((p) => running.has(podTarget(p)));
    await this.apply(state, pods, pods);
    return pods.map(podTarget);
  }

  private async apply(state: WorkloadState, stop: PodSpec[], start: PodSpec[]): Promise<void> {
    await writeFile(join(this.dir, 'state.json'), JSON.stringify(state, null, 2));
    await writeFile(join(this.dir, 'etc/kube-proxy.rules'), kubeProxyRules(this.topology, NetnsLab.runningPods(this.topology, state)));
    const script = [
      'set -e',
      ...stop.map(stopPodScript),
      ...start.map((p) => startAppScript(p, this.dir)),
      waitReadyScript(start, this.dir),
      syncRulesScript(this.topology, this.dir, false),
      // Flows pinned to endpoints that went away would outlive them; kube-proxy clears UDP ones too.
      ...this.topology.nodes.map((n) => `ip netns exec ${n.name} conntrack -D -p udp >/dev/null 2>&1 || true`),
    ].join('\n');
    const r = await this.sandboxScript(script);
    if (r.code !== 0) throw new LabError(`could not apply the change: ${r.stderr.trim() || r.stdout.trim()}`);
  }

  /** Rewrites kube-proxy's chains and the jumps into them on every node, as kube-proxy's resync does. */
  async syncProxy(): Promise<void> {
    const state = await this.workloadState();
    await writeFile(join(this.dir, 'etc/kube-proxy.rules'), kubeProxyRules(this.topology, NetnsLab.runningPods(this.topology, state)));
    const r = await this.sandboxScript(syncRulesScript(this.topology, this.dir, true));
    if (r.code !== 0) throw new LabError(`could not restore kube-proxy rules: ${r.stderr.trim()}`);
  }
}
