import { Agent, request } from 'node:https';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import type { KubeObject } from '../../cluster/object.ts';
import { labDir } from '../../lab/naming.ts';
import type { LabRecord } from '../../lab/records.ts';
import { LabError, type App, type ExecOptions, type ExecResult, type Lab, type LabFacts, type ServicePort, type ShellSpec } from '../../lab/types.ts';
import { podNetns } from '../../cluster/kubelet/kubelet.ts';
import { LAPTOP } from '../../lab/world.ts';
import type { Settledness } from '../../cluster/settled.ts';
import { labSettledness, unhostLab } from './clusterd.ts';
import { labHandle, type NetnsHandle } from './handle.ts';
import { NO_TARGET } from './runtime.ts';
import { enterPrefix, LAB_PATH, runIn, stopSandbox } from './sandbox.ts';
import { releaseLimits } from './limits.ts';
import { releaseRange } from './userns.ts';

// A netns lab as the rest of netdojo sees it: targets (nodes, `admin`, pods), exec and shells
// through the lab's `enter`, and facts read from the lab's own Kubernetes API, so they name the
// pods as kubectl does (web-5d8b9c7f4-x2k9q) and follow them when they are replaced.

export const ADMIN_TARGET = 'admin';

/**
 * Watches a collection of a lab's API from the host (it starts with an ADDED event per object, as
 * a watch without a resourceVersion does). `failed` rejects when the stream fails or ends before
 * `stop()`.
 */
export function kubeWatch(h: NetnsHandle, ca: string, path: string, onEvent: (type: string, object: KubeObject) => void): { stop(): void; failed: Promise<never> } {
  let stopped = false;
  let fail!: (e: Error) => void;
  const failed = new Promise<never>((_, reject) => { fail = (e) => { if (!stopped) { stopped = true; reject(e); } }; });
  failed.catch(() => undefined);
  const sep = path.includes('?') ? '&' : '?';
  const req = request({ host: '127.0.0.1', port: h.port, path: `${path}${sep}watch=1`, ca, headers: { Authorization: `Bearer ${h.token}`, Accept: 'application/json' }, servername: 'kubernetes' }, (res) => {
    if (res.statusCode !== 200) { fail(new LabError(`the lab's API answered ${res.statusCode} for a watch of ${path}`)); return; }
    res.on('error', (e) => fail(e));
    const lines = createInterface({ input: res });
    lines.on('error', (e) => fail(e));
    lines.on('line', (line) => {
      if (stopped || !line.trim()) return;
      try {
        const e = JSON.parse(line) as { type: string; object: KubeObject };
        onEvent(e.type, e.object);
      } catch (err) { fail(err as Error); }
    });
    res.on('end', () => fail(new LabError(`the lab's API ended the watch of ${path}`)));
  });
  req.on('error', (e) => fail(e));
  req.end();
  return { stop: () => { stopped = true; req.destroy(); }, failed };
}

/** One TLS connection for a run of reads (each new connection costs a handshake on both sides). */
export const keepAlive = new Agent({ keepAlive: true, maxSockets: 4 });

/** Reads from a lab's API on the host's loopback port. */
export function kubeGet<T>(h: NetnsHandle, ca: string, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: h.port, path, ca, agent: keepAlive, headers: { Authorization: `Bearer ${h.token}`, Accept: 'application/json' }, timeout: 10_000, servername: 'kubernetes' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        if (res.statusCode !== 200) { reject(new LabError(`the lab's API answered ${res.statusCode} for ${path}: ${body.slice(0, 300)}`)); return; }
        try { resolve(JSON.parse(body) as T); } catch (e) { reject(e); }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`the lab's API did not answer ${path} within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

function appOf(p: KubeObject): App | undefined {
  const l = p.metadata.labels ?? {};
  if (p.metadata.namespace === 'kube-system' && l['k8s-app'] === 'kube-dns') return 'coredns';
  if (p.metadata.namespace === 'default' && l.app === 'web') return 'web';
  if (p.metadata.namespace === 'default' && l.app === 'client') return 'client';
  return undefined;
}

const APP_ORDER: Record<App, number> = { coredns: 0, web: 1, client: 2 };

/** The facts templates and reports use, from the API's Pods and Services and the lab's nodes. */
export async function readFacts(record: LabRecord, ca: string): Promise<LabFacts> {
  const h = labHandle(record);
  const [pods, services] = await Promise.all([
    kubeGet<{ items: KubeObject[] }>(h, ca, '/api/v1/pods'),
    kubeGet<{ items: KubeObject[] }>(h, ca, '/api/v1/services'),
  ]);
  const nodeIndex = new Map(record.topology.nodes.map((n, i) => [n.name, i]));
  const factPods = pods.items
    .filter((p) => !p.metadata.deletionTimestamp && (p.status as { podIP?: string } | undefined)?.podIP && appOf(p))
    .map((p) => ({ target: `${p.metadata.namespace}/${p.metadata.name}`, node: (p.spec as { nodeName: string }).nodeName, ip: (p.status as { podIP: string }).podIP, app: appOf(p)! }))
    .sort((a, b) => APP_ORDER[a.app] - APP_ORDER[b.app] || (nodeIndex.get(a.node) ?? 99) - (nodeIndex.get(b.node) ?? 99) || a.target.localeCompare(b.target));
  const factServices = services.items
    .filter((s) => { const ip = (s.spec as { clusterIP?: string }).clusterIP; return ip && ip !== 'None' && !(s.metadata.namespace === 'default' && s.metadata.name === 'kubernetes'); })
    .map((s) => {
      const spec = s.spec as { clusterIP: string; ports?: { name?: string; port: number; targetPort?: number | string; protocol?: string }[] };
      return {
        target: `${s.metadata.namespace}/${s.metadata.name}`, clusterIP: spec.clusterIP,
        ports: (spec.ports ?? []).map((p): ServicePort => ({ name: p.name ?? '', port: p.port, targetPort: typeof p.targetPort === 'number' ? p.targetPort : p.port, protocol: (p.protocol ?? 'TCP') as ServicePort['protocol'] })),
      };
    })
    .sort((a, b) => a.target.localeCompare(b.target));
  return {
    id: record.id, scenario: record.scenario, provider: 'netns', seed: record.seed,
    nodes: record.topology.nodes.map(({ name, role, ip, podCIDR }) => ({ name, role, ip, podCIDR })),
    pods: factPods, services: factServices, dns: record.topology.dns,
  };
}

export class NetnsLab implements Lab {
  readonly dir: string;
  private readonly handle: NetnsHandle;

  constructor(readonly record: LabRecord, readonly facts: LabFacts, private readonly inside = false) {
    this.dir = labDir(record.id);
    this.handle = labHandle(record);
  }

  targets(): string[] {
    return [...this.record.topology.nodes.map((n) => n.name), LAPTOP.name, ...this.facts.pods.map((p) => p.target)];
  }

  /** The sandbox directory a target's shell enters: a node's, the admin's (the control-plane), or a pod's. */
  private sandboxOf(target: string): string {
    const nodes = this.record.topology.nodes;
    if (target === ADMIN_TARGET) return nodes.find((n) => n.role === 'control-plane')!.name;
    if (nodes.some((n) => n.name === target) || target === LAPTOP.name) return target;
    const [ns, name] = target.includes('/') ? target.split('/', 2) : ['default', target];
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(ns) || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) {
      throw new LabError(`"${target}" is not a target: expected a node (${nodes.map((n) => n.name).join(', ')}), ${ADMIN_TARGET}, or a pod as namespace/name`);
    }
    return podNetns(ns, name);
  }

  exec(target: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const sb = this.sandboxOf(target);
    return runIn(this.handle.sandbox, this.inside, [join(this.dir, 'bin/enter'), sb, ...argv], { timeoutMs: opts.timeoutMs, stdin: opts.stdin, env: this.env() })
      .then((r) => (r.code === 1 && r.stderr.startsWith(NO_TARGET) ? { ...r, code: 1, stderr: `no target "${target}" in lab ${this.record.id} (targets: ${[ADMIN_TARGET, ...this.targets()].join(', ')})\n` } : r));
  }

  /** Runs a script in the sandbox itself (not in a target). */
  sandboxScript(script: string, timeoutMs = 30_000): Promise<ExecResult> {
    return runIn(this.handle.sandbox, this.inside, ['bash', '-c', script], { timeoutMs, env: this.env() });
  }

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, PATH: `${join(this.dir, 'bin')}:${LAB_PATH}` };
  }

  shell(target: string): ShellSpec {
    const sb = this.sandboxOf(target);
    const [file, ...args] = [...enterPrefix(this.handle.sandbox, this.inside), join(this.dir, 'bin/enter'), sb, 'bash', '--rcfile', join(this.dir, 'etc/bashrc'), '-i'];
    return { file, args, env: { ...this.env(), TERM: 'xterm-256color' }, title: target === ADMIN_TARGET ? ADMIN_TARGET : target };
  }

  /** What the cluster host says; undefined when it cannot say (it is restarting), so the grader waits the window. */
  settled(): Promise<Settledness | undefined> {
    return labSettledness(this.record.id).catch(() => undefined);
  }

  async destroy(): Promise<void> {
    await unhostLab(this.record.id).catch(() => undefined);
    await stopSandbox(this.handle.sandbox);
    await releaseLimits(this.handle.sandbox.limits);
    await releaseRange(this.handle.sandbox.uidBase, this.dir);
  }
}
