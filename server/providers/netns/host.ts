import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { baseManifests, Cluster, parseManifests, type ClusterNode } from '../../cluster/cluster.ts';
import { ensurePki } from '../../cluster/pki.ts';
import { labDir, stateDir } from '../../lab/naming.ts';
import { labIds, readRecord, tryReadRecord, writeRecord } from '../../lab/records.ts';
import type { KubeObject } from '../../cluster/object.ts';
import { serveClusterd, type HostedLab, type LabHost } from './clusterd.ts';
import { labHandle, type NetnsHandle } from './handle.ts';
import { NetnsRuntime } from './runtime.ts';
import { containerProcesses, DEFAULT_LAB_RESOURCES } from '../../lab/resources.ts';
import { enterPrefix, isAlive, LAB_PATH } from './sandbox.ts';
import { announceScript } from './world.ts';
import { LOAD_BALANCER_POOL } from '../../lab/world.ts';
import { apiSocket } from './clusterd.ts';

// The netns labs' clusters, hosted in the cluster host process: for each lab, a Cluster whose
// data plane is the lab's sandbox (NetnsRuntime), serving the API on the lab's socket (which the
// lab's control-plane forwards 172.18.0.2:6443 to) and on a loopback port for `netdojo kubeconfig`.

interface Hosted { cluster: Cluster; runtime: NetnsRuntime; port: number }

/** A lab's objects, kept by its cluster across restarts of the cluster host. */
const stateFileOf = (id: string) => join(labDir(id), 'cluster.json');

export const NODE_RESOLV_CONF = '# The lab has no way out: nodes resolve nothing outside the cluster.\nnameserver 172.18.0.1\n';

export function netnsLabHost(): LabHost {
  const labs = new Map<string, Hosted>();
  const starting = new Map<string, Promise<HostedLab>>();
  const host: LabHost = {
    ids: () => [...labs.keys()],
    settled: (id) => labs.get(id)?.cluster.settledness(),
    /** Labs this state directory's cluster host served before it restarted: alive, with saved objects. */
    async resumable(): Promise<string[]> {
      const out: string[] = [];
      for (const id of await labIds()) {
        const rec = await tryReadRecord(id);
        if (rec?.provider !== 'netns' || !existsSync(stateFileOf(id))) continue;
        if (await isAlive(labHandle(rec).sandbox).catch(() => false)) out.push(id);
      }
      return out;
    },
    // Two asks to serve the same lab at once (a resume at start and a command) share one start.
    start(id: string): Promise<HostedLab> {
      const existing = labs.get(id);
      if (existing) return Promise.resolve({ id, port: existing.port, ms: 0 });
      let p = starting.get(id);
      if (!p) {
        p = startLab(id).finally(() => starting.delete(id));
        starting.set(id, p);
      }
      return p;
    },
    async stop(id: string) {
      await starting.get(id)?.catch(() => undefined);
      const l = labs.get(id);
      labs.delete(id);
      await l?.cluster.stop();
      l?.runtime.close();
    },
  };

  async function startLab(id: string): Promise<HostedLab> {
    const t0 = performance.now();
    const record = await readRecord(id);
    const h: NetnsHandle = labHandle(record);
    const dir = labDir(id);
    const pki = await ensurePki(stateDir());
    const runtime = new NetnsRuntime(dir, h.sandbox, false, { ...process.env, PATH: `${join(dir, 'bin')}:${LAB_PATH}` },
      { containerPids: containerProcesses(record.resources ?? DEFAULT_LAB_RESOURCES) });
    await mkdir(runtime.containersDir, { recursive: true });
    const nodes: ClusterNode[] = record.topology.nodes.map((n) => ({ name: n.name, ip: n.ip, podCIDR: n.podCIDR, role: n.role }));
    const cluster = new Cluster({
      name: h.cluster, caCert: pki.caCert, token: h.token, nodes, stateFile: stateFileOf(id),
      apiEndpoint: { ip: nodes.find((n) => n.role === 'control-plane')!.ip, port: 6443 },
      log: (m) => console.error(`[${id}] ${m}`),
      dataPlane: {
        runtime,
        // kubectl exec runs in the container: its environment and its volumes, as the runtime gives them.
        enter: async (pod, netns, container) => {
          const statuses = [...((pod.status as { containerStatuses?: { name: string; restartCount: number }[] } | undefined)?.containerStatuses ?? []),
            ...((pod.status as { ephemeralContainerStatuses?: { name: string; restartCount: number }[] } | undefined)?.ephemeralContainerStatuses ?? [])];
          const restarts = statuses.find((c) => c.name === container)?.restartCount ?? 0;
          const ctx = await runtime.containerContext(`${netns}_${container}_${restarts}`);
          return {
            // In the container's cgroup too: what kubectl exec runs counts against the container's limits.
            argv: [...enterPrefix(h.sandbox, false, ctx.cgroup), join(dir, 'bin/enter'), netns],
            env: { PATH: LAB_PATH, TERM: 'xterm', ...ctx.env, ...(ctx.mounts ? { NETDOJO_MOUNTS: ctx.mounts } : {}) },
          };
        },
        enterNode: async (node) => ({ argv: [...enterPrefix(h.sandbox, false), join(dir, 'bin/enter'), node], env: { PATH: LAB_PATH } }),
        clusterDNS: record.topology.dns.clusterIP, clusterDomain: record.topology.dns.domain, podCIDR: record.topology.podCIDR,
        nodeResolvConf: NODE_RESOLV_CONF, dnsDir: join(dir, 'dns'),
        env: { COREDNS_RECORDS_DIR: join(dir, 'dns') },
        imagePath: `${join(dir, 'bin')}:${LAB_PATH}`,
        loadBalancers: {
          pool: LOAD_BALANCER_POOL,
          announce: (a) => runtime.inSandbox(announceScript(record.topology, a), 'routing load-balancer addresses to their nodes'),
        },
      },
    });
    const extra: KubeObject[] = [];
    for (const f of h.manifests ?? []) extra.push(...parseManifests(await readFile(f, 'utf8'), f));
    let tcp: { port?: number };
    try {
      await cluster.start([...baseManifests(), ...extra]);
      [, tcp] = await cluster.listen([{ path: apiSocket(id) }, { host: '127.0.0.1', port: h.port ?? 0 }], pki);
    } catch (e) {
      await cluster.stop();
      runtime.close();
      throw e;
    }
    labs.set(id, { cluster, runtime, port: tcp.port! });
    if (h.port !== tcp.port) await writeRecord({ ...record, handle: { ...record.handle, port: tcp.port } });
    return { id, port: tcp.port!, ms: Math.round(performance.now() - t0) };
  }
  return host;
}

/** `netdojo __clusterd`: the cluster host's main. */
export function runClusterd(): Promise<void> {
  // As root, what the cluster host creates in a lab's directories must be the lab's to write: they
  // are setgid with the lab's group (userns.ts handOver), and this umask leaves new entries group writable.
  if (process.getuid?.() === 0) process.umask(0o002);
  return serveClusterd(netnsLabHost());
}
