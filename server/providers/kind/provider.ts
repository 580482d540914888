import { readFile } from 'node:fs/promises';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isLabId, kindClusterName, KIND_LAB_LABEL, PRODUCT } from '../../lab/naming.ts';
import type { CreateOptions, Lab, LabStatus, ProgressFn, Provider, Topology } from '../../lab/types.ts';
import { LabError } from '../../lab/types.ts';
import { diagnoseKind, gatherKindHostFacts } from './doctor.ts';
import { kindBin, containersByLabel, createNetwork, HOME_LABEL, homeTag, labLabels, dockerStatus, DOCKER, KIND_CLUSTER_LABEL, networksByLabel, removeNetwork, containerExec } from './docker.ts';
import { factsFrom } from './facts.ts';
import { loadImages, PROBE_IMAGE } from './image.ts';
import { imageExists } from './docker.ts';
import { isReady, Kube, type KNode, type KPod, type KService } from './kube.ts';
import { KindLab } from './lab.ts';
import { listRecords, paths, pidAlive, readRecord, writeRecord, type KindRecord } from './record.ts';
import { baseWorkloads, renderClusterConfig } from './render.ts';
import { restoreBaseline } from './restore.ts';
import { runActions } from '../../lab/actions.ts';
import { must, run, waitFor } from '../../util/run.ts';

// A lab is a kind cluster named kindClusterName(id) on its own docker network (named like the
// cluster, labelled KIND_LAB_LABEL=<id>, created first with the topology's underlay MTU: kind reuses
// a network that exists, chosen with KIND_EXPERIMENTAL_DOCKER_NETWORK). Provisioning is an ordered
// list of named actions, each reported start/done/fail through onProgress, as kind reports its own.

export { kindBin, runActions };

export interface KindProviderOptions {
  kind?: string;
  /** kindest/node image (NETDOJO_KIND_NODE_IMAGE); absent: the installed kind's default. */
  nodeImage?: string;
  /** Deadline for each readiness wait. */
  readyTimeoutMs?: number;
  /** Keep a lab whose creation failed, for debugging (NETDOJO_KEEP_FAILED=1). */
  keepFailed?: boolean;
}

/** Names of the provisioning actions, in order (the UI can show them before they start). */
export const PROVISION_ACTIONS = [
  'Checking prerequisites',
  'Writing cluster config',
  'Creating lab network',
  'Creating cluster',
  'Loading images',
  'Waiting for nodes',
  'Waiting for CNI',
  'Applying base workloads',
  'Waiting for workloads',
  'Recording lab',
] as const;
export type ProvisionAction = (typeof PROVISION_ACTIONS)[number];

/** Strips server-set fields so an object read back can be applied again. */
export function cleanForApply(obj: Record<string, any>): Record<string, any> {
  const o = structuredClone(obj);
  delete o.status;
  if (o.metadata) {
    for (const k of ['resourceVersion', 'uid', 'creationTimestamp', 'generation', 'managedFields', 'selfLink']) delete o.metadata[k];
    if (o.metadata.annotations) {
      delete o.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'];
      delete o.metadata.annotations['deprecated.daemonset.template.generation'];
      delete o.metadata.annotations['deployment.kubernetes.io/revision'];
    }
  }
  return o;
}

export function createKindProvider(options: KindProviderOptions = {}): Provider & {
  /** Waits until nodes, CNI and base workloads of a lab are ready (also used after a reset). */
  waitReady(lab: KindLab, onProgress?: ProgressFn): Promise<void>;
  refreshFacts(lab: KindLab): Promise<KindLab>;
  destroyLab(id: string): Promise<void>;
} {
  const kind = options.kind ?? kindBin();
  const nodeImage = options.nodeImage ?? process.env.NETDOJO_KIND_NODE_IMAGE;
  const readyTimeoutMs = options.readyTimeoutMs ?? 240_000;
  const keepFailed = options.keepFailed ?? process.env.NETDOJO_KEEP_FAILED === '1';

  async function clusterContainers(cluster: string) {
    return containersByLabel(KIND_CLUSTER_LABEL, cluster);
  }

  async function destroyLab(id: string): Promise<void> {
    const cluster = kindClusterName(id);
    const p = paths(id);
    const containers = await clusterContainers(cluster).catch(() => []);
    if (containers.length) {
      const haveKind = (await run(kind, ['version'], { timeoutMs: 15_000 })).code === 0;
      const r = haveKind
        ? await run(kind, ['delete', 'cluster', '--name', cluster, '--kubeconfig', p.kubeconfig], { timeoutMs: 180_000 })
        : { code: 1 };
      // What `kind delete cluster` does to the nodes, when kind itself is not at hand.
      if (r.code !== 0) await run(DOCKER, ['rm', '-f', '-v', ...containers.map((c) => c.name)], { timeoutMs: 120_000 });
    }
    // Everything else a lab (or its scenario steps) created in Docker carries the lab label.
    const extra = await containersByLabel(KIND_LAB_LABEL, id).catch(() => []);
    if (extra.length) await run(DOCKER, ['rm', '-f', '-v', ...extra.map((c) => c.name)], { timeoutMs: 120_000 });
    for (const n of await networksByLabel(KIND_LAB_LABEL, id).catch(() => [])) await removeNetwork(n.name);
    if (isLabId(id)) rmSync(p.dir, { recursive: true, force: true });
  }

  const labDeps = { destroy: destroyLab };

  async function readCluster(kube: Kube) {
    const [nodes, pods, services] = await Promise.all([
      kube.json<{ items: KNode[] }>(['get', 'nodes']),
      kube.json<{ items: KPod[] }>(['get', 'pods', '-A']),
      kube.json<{ items: KService[] }>(['get', 'services', '-A']),
    ]);
    return { nodes: nodes.items, pods: pods.items, services: services.items };
  }

  async function waitNodes(kube: Kube, want: number) {
    await waitFor(`${want} nodes Ready with a podCIDR`, async () => {
      const { items } = await kube.json<{ items: KNode[] }>(['get', 'nodes']);
      const ready = items.filter((n) => isReady(n) && n.spec.podCIDR);
      return ready.length === want && items.length === want;
    }, { timeoutMs: readyTimeoutMs });
  }

  async function waitCni(kube: Kube, cluster: string, nodes: string[]) {
    await waitFor('kindnet ready on every node', async () => {
      const ds = await kube.json<{ status: { desiredNumberScheduled?: number; numberReady?: number } }>(['-n', 'kube-system', 'get', 'daemonset', 'kindnet']);
      return ds.status.desiredNumberScheduled === nodes.length && ds.status.numberReady === nodes.length;
    }, { timeoutMs: readyTimeoutMs });
    for (const n of nodes) {
      await waitFor(`CNI config on ${n}`, async () => {
        const r = await containerExec(`${cluster}-${n}`, ['sh', '-c', 'ls /etc/cni/net.d/ | grep -q conflist'], { timeoutMs: 10_000 });
        return r.code === 0;
      }, { timeoutMs: readyTimeoutMs });
    }
  }

  async function waitWorkloads(kube: Kube, nodeCount: number) {
    await waitFor('web (one per node), client pods and CoreDNS ready', async () => {
      const pods = (await kube.json<{ items: KPod[] }>(['get', 'pods', '-A'])).items.filter((p) => !p.metadata.deletionTimestamp);
      const ready = (ns: string, label: string, value: string) =>
        pods.filter((p) => p.metadata.namespace === ns && p.metadata.labels?.[label] === value && isReady(p));
      const web = ready('default', 'app', 'web');
      const webNodes = new Set(web.map((p) => p.spec.nodeName));
      const clients = ready('default', 'app', 'client');
      const dns = ready('kube-system', 'k8s-app', 'kube-dns');
      return web.length === nodeCount && webNodes.size === nodeCount && clients.length === nodeCount && dns.length >= 1;
    }, { timeoutMs: readyTimeoutMs });
    await waitFor('kube-dns and web endpoints', async () => {
      const eps = await kube.json<{ items: { metadata: { name: string; namespace: string }; subsets?: { addresses?: unknown[] }[] }[] }>(['get', 'endpoints', '-A']);
      const has = (ns: string, name: string) => eps.items.some((e) => e.metadata.namespace === ns && e.metadata.name === name && e.subsets?.some((s) => s.addresses?.length));
      return has('kube-system', 'kube-dns') && has('default', 'web');
    }, { timeoutMs: readyTimeoutMs });
  }

  async function waitReady(lab: KindLab, onProgress?: ProgressFn) {
    const nodes = lab.facts.nodes.map((n) => n.name);
    await runActions([
      ['Waiting for nodes', () => waitNodes(lab.kube, nodes.length)],
      ['Waiting for CNI', () => waitCni(lab.kube, lab.cluster, nodes)],
      ['Waiting for workloads', () => waitWorkloads(lab.kube, nodes.length)],
    ], onProgress);
  }

  async function refreshFacts(lab: KindLab): Promise<KindLab> {
    const rec = lab.record;
    const facts = factsFrom({ id: rec.id, scenario: rec.scenario, seed: rec.seed, cluster: rec.cluster, ...(await readCluster(lab.kube)) });
    const next = { ...rec, facts };
    await writeRecord(next);
    return new KindLab(next, labDeps);
  }

  const provider = {
    name: 'kind' as const,
    waitReady,
    refreshFacts,
    destroyLab,

    async create(topology: Topology, opts: CreateOptions): Promise<Lab> {
      if (!isLabId(opts.id)) throw new LabError(`invalid lab id "${opts.id}"`);
      const id = opts.id;
      const cluster = kindClusterName(id);
      const p = paths(id);
      const kube = new Kube(p.kubeconfig);
      const record: KindRecord = {
        id, provider: 'kind', scenario: opts.scenario, seed: opts.seed, cluster, network: cluster,
        mtu: topology.underlay.mtu, createdAt: new Date().toISOString(), state: 'creating', pid: process.pid, host: hostname(), topology,
      };
      const nodeNames = topology.nodes.map((n) => n.name);
      try {
        await runActions([
          ['Checking prerequisites', async () => {
            const d = await dockerStatus();
            if (!d.ok) throw new LabError(`${d.reason}${d.detail ? `: ${d.detail}` : ''}`, 'run `netdojo doctor`');
            if ((await run(kind, ['version'], { timeoutMs: 15_000 })).code !== 0) throw new LabError('kind not installed', 'run `netdojo doctor`');
            if (!(await imageExists(PROBE_IMAGE))) throw new LabError(`image ${PROBE_IMAGE} is not built`, 'run `netdojo images`');
            if ((await clusterContainers(cluster)).length) throw new LabError(`a kind cluster named ${cluster} already exists`);
          }],
          ['Writing cluster config', async () => {
            mkdirSync(p.dir, { recursive: true });
            await writeRecord(record);
            writeFileSync(p.config, renderClusterConfig(topology, { labId: id, nodeImage }));
            writeFileSync(p.manifests, baseWorkloads());
          }],
          ['Creating lab network', async () => {
            await createNetwork(cluster, { mtu: topology.underlay.mtu, labels: labLabels(id, { [`io.${PRODUCT}.cluster`]: cluster }) });
          }],
          ['Creating cluster', async () => {
            // No --wait: kind's wait covers the control-plane only; readiness is polled below.
            await must(kind, ['create', 'cluster', '--name', cluster, '--config', p.config, '--kubeconfig', p.kubeconfig], {
              env: { KIND_EXPERIMENTAL_DOCKER_NETWORK: cluster }, timeoutMs: 600_000,
            });
          }],
          ['Loading images', () => loadImages(kind, cluster)],
          ['Waiting for nodes', () => waitNodes(kube, nodeNames.length)],
          ['Waiting for CNI', () => waitCni(kube, cluster, nodeNames)],
          ['Applying base workloads', async () => {
            // Snapshot what kind installed in kube-system, so a reset can put it back.
            const snap = await kube.json<{ items: Record<string, any>[] }>(['-n', 'kube-system', 'get', 'daemonset/kindnet', 'deployment/coredns', 'configmap/coredns']);
            writeFileSync(p.snapshot, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: snap.items.map(cleanForApply) }, null, 2));
            await kube.apply(baseWorkloads());
          }],
          ['Waiting for workloads', () => waitWorkloads(kube, nodeNames.length)],
          ['Recording lab', async () => {
            record.facts = factsFrom({ id, scenario: opts.scenario, seed: opts.seed, cluster, ...(await readCluster(kube)) });
            record.state = 'ready';
            await writeRecord(record);
          }],
        ], opts.onProgress);
      } catch (e) {
        if (!keepFailed) await destroyLab(id).catch(() => {});
        if (e instanceof LabError) throw e;
        throw new LabError(`kind lab ${id} could not be created: ${(e as Error).message}`, keepFailed ? `kept for debugging: ${p.dir}` : 'run `netdojo doctor`; NETDOJO_KEEP_FAILED=1 keeps a failed cluster');
      }
      return new KindLab(record, labDeps);
    },

    async kubeconfig(id: string): Promise<string> {
      await readRecord(id);
      return readFile(paths(id).kubeconfig, 'utf8');
    },

    async open(id: string): Promise<Lab> {
      const rec = await readRecord(id);
      if (!rec) throw new LabError(`no kind lab ${id}`);
      if (rec.state !== 'ready' || !rec.facts) throw new LabError(`kind lab ${id} is still being created (or its creation was interrupted)`);
      const nodes = await clusterContainers(rec.cluster);
      if (!nodes.length) throw new LabError(`kind lab ${id}: cluster ${rec.cluster} is gone`, '`netdojo down` removes its record');
      return new KindLab(rec, labDeps);
    },

    async list(): Promise<LabStatus[]> {
      const out = new Map<string, LabStatus>();
      const records = await listRecords();
      const d = await dockerStatus();
      const containers = d.ok ? await containersByLabel(KIND_CLUSTER_LABEL) : [];
      const byCluster = new Map<string, typeof containers>();
      for (const c of containers) {
        const name = c.labels[KIND_CLUSTER_LABEL];
        if (!name?.startsWith(`${PRODUCT}-`)) continue; // other people's kind clusters are not ours
        byCluster.set(name, [...(byCluster.get(name) ?? []), c]);
      }
      for (const r of records) {
        const nodes = byCluster.get(r.cluster) ?? [];
        let state: LabStatus['state'] = 'alive';
        let detail: string | undefined;
        if (r.state === 'creating') {
          const holderAlive = r.host === hostname() && pidAlive(r.pid);
          if (!holderAlive) [state, detail] = ['dead', `creation interrupted (process ${r.pid} is gone)`];
          else detail = 'creating';
        } else if (!d.ok) {
          detail = `unknown: ${d.reason}`;
        } else if (!nodes.length) {
          [state, detail] = ['dead', `cluster ${r.cluster} is gone`];
        } else if (nodes.some((n) => !n.running)) {
          [state, detail] = ['dead', `node containers stopped: ${nodes.filter((n) => !n.running).map((n) => n.name).join(', ')}`];
        }
        out.set(r.id, { id: r.id, provider: 'kind', scenario: r.scenario, state, createdAt: r.createdAt, detail });
      }
      if (d.ok) {
        // Leftovers without a record are ours only when their network says so (HOME_LABEL): the
        // node containers carry kind's labels alone, the lab network carries ours.
        const mine = (await networksByLabel(HOME_LABEL, homeTag())).filter((n) => n.labels[KIND_LAB_LABEL]);
        const netOf = new Map(mine.map((n) => [n.labels[KIND_LAB_LABEL], n.name]));
        for (const [cluster] of byCluster) {
          const id = cluster.slice(PRODUCT.length + 1);
          if (isLabId(id) && !out.has(id) && netOf.has(id)) out.set(id, { id, provider: 'kind', scenario: '', state: 'dead', createdAt: '', detail: `cluster ${cluster} has no lab record` });
        }
        for (const [id, name] of netOf) {
          if (isLabId(id) && !out.has(id)) out.set(id, { id, provider: 'kind', scenario: '', state: 'dead', createdAt: '', detail: `network ${name} left behind` });
        }
      }
      return [...out.values()].sort((a, b) => a.id.localeCompare(b.id));
    },

    async reap(): Promise<string[]> {
      const dead = (await provider.list()).filter((l) => l.state === 'dead');
      const removed: string[] = [];
      for (const l of dead) {
        await destroyLab(l.id);
        removed.push(l.id);
      }
      return removed;
    },

    async doctor(): Promise<string[]> {
      return diagnoseKind(await gatherKindHostFacts({ kind }));
    },

    restore: (lab: Lab, onProgress?: ProgressFn) => restoreBaseline(lab as KindLab, provider, onProgress),
  };
  return provider;
}

export const kindProvider = createKindProvider();
