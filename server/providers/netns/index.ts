import { existsSync, realpathSync } from 'node:fs';
import { chmod, chown, mkdir, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { SERVED_VERSION } from '../../cluster/cluster.ts';
import { KINDNET_CONFLIST, kindnetConflist } from '../../cluster/kindnet/cniconfig.ts';
import { CNI_CONF_DIR } from '../../cluster/kubelet/cni.ts';
import { nodeRoot } from '../../cluster/kubelet/runtime.ts';
import type { KubeObject } from '../../cluster/object.ts';
import { ensurePki, kubeconfig, newToken } from '../../cluster/pki.ts';
import { kindClusterName, labDir, labsDir, stateDir } from '../../lab/naming.ts';
import { runAction } from '../../lab/actions.ts';
import { ensureLabDir, labIds, readRecord, removeLabDir, tryReadRecord, writeRecord, type LabRecord } from '../../lab/records.ts';
import { LabError, type CreateOptions, type LabStatus, type Provider, type Topology } from '../../lab/types.ts';
import { run } from '../../util/run.ts';
import { sq } from '../../util/shell.ts';
import { fileURLToPath } from 'node:url';
import { apiSocket, hostLab, unhostLab } from './clusterd.ts';
import { labHandle, type NetnsHandle } from './handle.ts';
import { NODE_RESOLV_CONF } from './host.ts';
import { kubeGet, kubeWatch, NetnsLab, readFacts } from './lab.ts';
import { API_PORT, nodesScript } from './nodes.ts';
import { dnsmasqConf, nginxConf, worldDir, worldScript } from './world.ts';
import { LAPTOP } from '../../lab/world.ts';
import { ADDONS, withNeeds } from '../../lab/addons.ts';
import { MANIFESTS_DIR } from '../../lab/manifests.ts';
import { CONTAINER_SCRIPT, enterScript } from './runtime.ts';
import { findHolders, isAlive, LAB_PATH, runIn, startSandbox, stopSandbox, type SandboxHandle } from './sandbox.ts';
import { DEFAULT_LAB_RESOURCES } from '../../lab/resources.ts';
import { claimRange, handOver, RANGE, releaseOrphanRanges, releaseRange, viewScript } from './userns.ts';
import { procsFiles } from './cgroups.ts';
import { describeEnforcement, prepareLimits, probeHost, releaseLimits, releaseOrphanLimits, type SandboxLimits } from './limits.ts';

const COREDNS_PY = fileURLToPath(new URL('../../workloads/coredns.py', import.meta.url));

// The netns provider: a lab is a sandbox of namespaces holding kind-like nodes, and a Kubernetes
// cluster (API and controllers, in the cluster host) whose kubelet builds the pods inside it.

/** Shell start-up for learners: a prompt that names where you are. */
function bashrc(id: string): string {
  return `[ -f /etc/bash.bashrc ] && . /etc/bash.bashrc
PS1='\\[\\e[2m\\][${id}]\\[\\e[0m\\] \\[\\e[1;36m\\]'"$NETDOJO_TARGET"'\\[\\e[0m\\]:\\w\\$ '
alias k=kubectl
source <(kubectl completion bash 2>/dev/null) 2>/dev/null; complete -o default -F __start_kubectl k 2>/dev/null
echo "netdojo lab ${id}: you are on $NETDOJO_TARGET. kubectl talks to this lab's cluster (try: kubectl get pods -A -o wide)."
`;
}

/** The versioned kubectl for a server minor beside the host's kubectl (a dispatcher), if there is one. */
function matchingKubectl(minor: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(':')) {
    const k = join(d, 'kubectl');
    if (!existsSync(k)) continue;
    const versioned = join(dirname(realpathSync(k)), `kubectl.1.${minor}`);
    return existsSync(versioned) ? versioned : undefined;
  }
  return undefined;
}

const nodeHosts = (name: string, ip: string) => `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${ip}\t${name}\n`;

/** The kubeconfig a shell inside the lab uses: the API at the control-plane, as on a kind node. */
export const insideServer = (topo: Topology) => `https://${topo.nodes.find((n) => n.role === 'control-plane')!.ip}:${API_PORT}`;

type Workload = KubeObject & { spec?: { replicas?: number }; status?: { replicas?: number; readyReplicas?: number; updatedReplicas?: number; desiredNumberScheduled?: number; numberReady?: number; observedGeneration?: number } };

/** Deployments, StatefulSets and DaemonSets whose pods are not all there and Ready yet. */
async function unreadyWorkloads(h: NetnsHandle, ca: string): Promise<string[]> {
  const [deploys, sets, daemons] = await Promise.all(['/apis/apps/v1/deployments', '/apis/apps/v1/statefulsets', '/apis/apps/v1/daemonsets']
    .map((p) => kubeGet<{ items: Workload[] }>(h, ca, p)));
  const name = (w: Workload, kind: string) => `${kind} ${w.metadata.namespace}/${w.metadata.name}`;
  const stale = (w: Workload) => (w.status?.observedGeneration ?? 0) < (w.metadata.generation ?? 0);
  return [
    ...deploys.items.filter((w) => stale(w) || (w.status?.readyReplicas ?? 0) < (w.spec?.replicas ?? 1)).map((w) => name(w, 'deployment')),
    ...sets.items.filter((w) => stale(w) || (w.status?.readyReplicas ?? 0) < (w.spec?.replicas ?? 1)).map((w) => name(w, 'statefulset')),
    ...daemons.items.filter((w) => stale(w) || !w.status?.desiredNumberScheduled || (w.status.numberReady ?? 0) < w.status.desiredNumberScheduled).map((w) => name(w, 'daemonset')),
  ];
}

const podReady = (p: KubeObject) => {
  const st = p.status as { phase?: string; conditions?: { type: string; status: string }[] } | undefined;
  return st?.phase === 'Running' && Boolean(st.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
};

/**
 * Resolves once every pod is Running and Ready and every workload has all its replicas Ready,
 * watching the pods (one stream, events as they happen) rather than polling the API.
 * Generous: on a loaded host (dozens of labs on two cores) pods take long to start.
 */
async function waitReady(lab: { record: LabRecord }, ca: string, timeoutMs = 120_000): Promise<void> {
  const h = labHandle(lab.record);
  const pods = new Map<string, KubeObject>();
  let workloads: string[] = [];
  let checking = false;
  let ready!: () => void;
  let failCheck!: (e: Error) => void;
  const settled = new Promise<void>((resolve, reject) => { ready = resolve; failCheck = reject; });
  const allPodsReady = () => pods.size > 0 && [...pods.values()].every(podReady);
  // Every pod is Ready: so are the workloads once their controllers have counted them.
  const check = async () => {
    checking = true;
    try {
      while (allPodsReady()) {
        workloads = await unreadyWorkloads(h, ca);
        if (!workloads.length) { ready(); return; }
        await new Promise((r) => setTimeout(r, 20));
      }
    } catch (e) { failCheck(e as Error); } finally { checking = false; }
  };
  const watch = kubeWatch(h, ca, '/api/v1/pods', (type, pod) => {
    if (type === 'DELETED' || pod.metadata.deletionTimestamp) pods.delete(pod.metadata.uid!); else pods.set(pod.metadata.uid!, pod);
    if (!checking && allPodsReady()) void check();
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const unready = [...pods.values()].filter((p) => !podReady(p)).map((p) => `${p.metadata.namespace}/${p.metadata.name} (${(p.status as { phase?: string } | undefined)?.phase ?? 'no status'})`);
      reject(new LabError(`these did not become Ready within ${timeoutMs / 1000} s: ${[...unready, ...workloads].join(', ') || 'no pods at all'}`));
    }, timeoutMs);
  });
  try {
    await Promise.race([settled, watch.failed, timeout]);
  } finally {
    clearTimeout(timer);
    watch.stop();
  }
}

async function create(topo: Topology, opts: CreateOptions): Promise<NetnsLab> {
  const dir = labDir(opts.id);
  let sandbox: SandboxHandle | undefined;
  let limits: SandboxLimits | undefined;
  let uidBase: number | undefined;
  const resources = opts.resources ?? DEFAULT_LAB_RESOURCES;
  const token = newToken();
  const cluster = kindClusterName(opts.id);
  try {
    const action = <T>(name: string, fn: () => Promise<T>) => runAction(opts.onProgress, name, fn);
    {
      const pki = await action('Writing cluster configuration', async () => {
        await ensureLabDir(opts.id);
        const pki = await ensurePki(stateDir());
        const kubectlEnv = `export KUBECONFIG="${dir}/etc/kubeconfig" KUBECACHEDIR="${dir}/kube-cache"`;
        const files: Record<string, string> = {
          'bin/enter': enterScript(dir, kubectlEnv),
          'bin/container': CONTAINER_SCRIPT,
          // The program the CoreDNS image runs here (the coredns/coredns image's /coredns).
          'bin/coredns': `#!/bin/sh\nexec python3 ${sq(COREDNS_PY)} "$@"\n`,
          'etc/bashrc': bashrc(opts.id),
          'etc/kubeconfig': kubeconfig({ cluster, server: insideServer(topo), caCert: pki.caCert, token }),
        };
        for (const n of topo.nodes) {
          files[`etc/${n.name}/target`] = n.name;
          files[`etc/${n.name}/hostname`] = n.name;
          files[`etc/${n.name}/resolv.conf`] = NODE_RESOLV_CONF;
          files[`etc/${n.name}/hosts`] = nodeHosts(n.name, n.ip);
          // The node's own /etc/cni/net.d, with the config kindnet wrote when the node came up.
          const root = nodeRoot(dir, n.name);
          files[`etc/${n.name}/mounts`] = `${join(root, CNI_CONF_DIR)}\t/${CNI_CONF_DIR}\trw\n`;
          files[relative(dir, join(root, KINDNET_CONFLIST))] = kindnetConflist(n.podCIDR, topo.underlay.mtu);
        }
        // The laptop: a host outside the cluster, with the lab's kubeconfig, as a learner's machine has it.
        files[`etc/${LAPTOP.name}/target`] = LAPTOP.name;
        files[`etc/${LAPTOP.name}/hostname`] = LAPTOP.name;
        files[`etc/${LAPTOP.name}/resolv.conf`] = `nameserver ${LAPTOP.gateway}\n`;
        files[`etc/${LAPTOP.name}/hosts`] = nodeHosts(LAPTOP.name, LAPTOP.ip);
        files['world/dnsmasq.conf'] = dnsmasqConf(topo, worldDir(dir));
        files['world/nginx.conf'] = nginxConf(worldDir(dir));
        await Promise.all(['run/containers', 'dns', 'pods', 'kube-cache', 'ovl', ...topo.nodes.map((n) => relative(dir, nodeRoot(dir, n.name)))].map((d) => mkdir(join(dir, d), { recursive: true })));
        await Promise.all(Object.entries(files).map(async ([rel, content]) => {
          await mkdir(dirname(join(dir, rel)), { recursive: true });
          await writeFile(join(dir, rel), content);
        }));
        await Promise.all(['bin/enter', 'bin/container', 'bin/coredns'].map((f) => chmod(join(dir, f), 0o755)));
        // Where the host's kubectl is a dispatcher with the versioned clients beside it (it asks the
        // server's /version, then runs the matching one), the lab's kubectl is that client directly.
        const client = matchingKubectl(SERVED_VERSION.minor);
        if (client) await symlink(client, join(dir, 'bin/kubectl'));
        return pki;
      });
      sandbox = await action('Creating the lab sandbox', async () => {
        // Its cgroup first: the holder starts in it, and all the lab starts after is born there.
        if (!opts.unlimited) limits = await prepareLimits(opts.id, resources, await probeHost());
        if (process.getuid?.() !== 0) return startSandbox(dir, { caller: true, view: viewScript(stateDir(), dir) }, limits);
        if (opts.hostRoot) return startSandbox(dir, { none: true, view: viewScript(stateDir(), dir) }, limits);
        uidBase = await claimRange(dir);
        await handOver(dir, uidBase);
        // cgroup v2 moves a process only with write access to cgroup.procs of the common ancestor of
        // where it is and where it goes: the lab's own cgroup, for a container started from a node.
        if (limits?.cgroup?.version === 2) await Promise.all(procsFiles(limits.cgroup).map((f) => chown(f, uidBase!, uidBase!)));
        return startSandbox(dir, { range: { base: uidBase, count: RANGE, view: viewScript(stateDir(), dir, uidBase) } }, limits);
      });
      const record: LabRecord = {
        id: opts.id, provider: 'netns', scenario: opts.scenario, seed: opts.seed, createdAt: new Date().toISOString(), ...(opts.unlimited ? {} : { resources }),
        topology: topo, facts: { id: opts.id, scenario: opts.scenario, provider: 'netns', seed: opts.seed, nodes: topo.nodes, pods: [], services: [], dns: topo.dns },
        handle: { sandbox: { ...sandbox }, cluster, token, manifests: withNeeds(opts.addons ?? []).filter((a) => ADDONS[a].withCluster).flatMap((a) => ADDONS[a].manifests.netns.map((f) => `${MANIFESTS_DIR}${f}`)) },
      };
      await writeRecord(record);
      await action('Building the nodes, their bridges and routes', async () => {
        const r = await runIn(sandbox!, false, ['bash', '-c', nodesScript(topo, apiSocket(opts.id))], { timeoutMs: 30_000, env: { PATH: LAB_PATH } });
        if (r.code !== 0) throw new LabError(`building the nodes failed: ${(r.stderr || r.stdout).trim().slice(-2000)}`);
      });
      await action('Building the world outside: the host, a laptop, the internet', async () => {
        const r = await runIn(sandbox!, false, ['bash', '-c', `set -euo pipefail\n${worldScript(topo, worldDir(dir))}`], { timeoutMs: 30_000, env: { PATH: LAB_PATH } });
        if (r.code !== 0) throw new LabError(`building the world outside the cluster failed: ${(r.stderr || r.stdout).trim().slice(-2000)}`);
      });
      const hosted = await action('Starting the cluster: API server and controllers', () => hostLab(opts.id));
      const withPort: LabRecord = { ...record, handle: { ...record.handle, port: hosted.port } };
      await action('Waiting for every pod to be Ready', () => waitReady({ record: withPort }, pki.caCert));
      const facts = await readFacts(withPort, pki.caCert);
      const done = { ...withPort, facts };
      await writeRecord(done);
      return new NetnsLab(done, facts);
    }
  } catch (e) {
    // A failed create leaves nothing: no cluster, no sandbox, no record (unless kept for debugging).
    if (process.env.NETDOJO_KEEP_FAILED === '1') throw e;
    await unhostLab(opts.id).catch(() => undefined);
    if (sandbox) await stopSandbox(sandbox);
    await releaseLimits(limits).catch(() => undefined);
    await releaseRange(uidBase, dir).catch(() => undefined);
    await removeLabDir(opts.id).catch(() => undefined);
    throw e;
  }
}

async function open(id: string): Promise<NetnsLab> {
  const record = await readRecord(id);
  if (record.provider !== 'netns') throw new LabError(`lab ${id} runs on the ${record.provider} provider, not netns`);
  const h = labHandle(record);
  if (!(await isAlive(h.sandbox))) {
    throw new LabError(`lab ${id} is gone (its sandbox process died)`, 'run `netdojo down --all` to remove what is left of it');
  }
  // The cluster host may have restarted since: make sure it serves this lab.
  const hosted = await hostLab(id);
  const current = hosted.port === h.port ? record : await readRecord(id);
  const pki = await ensurePki(stateDir());
  return new NetnsLab(current, await readFacts(current, pki.caCert));
}

/** A kubeconfig for the lab's API from the host (`netdojo kubeconfig`). */
async function hostKubeconfig(id: string): Promise<string> {
  const lab = await open(id);
  const h = labHandle(lab.record);
  const pki = await ensurePki(stateDir());
  return kubeconfig({ cluster: h.cluster, server: `https://127.0.0.1:${h.port}`, caCert: pki.caCert, token: h.token });
}

async function list(): Promise<LabStatus[]> {
  const holders = await findHolders(labsDir());
  const out: LabStatus[] = [];
  for (const id of await labIds()) {
    const rec = await tryReadRecord(id);
    if (rec && rec.provider !== 'netns') continue;
    let alive: boolean;
    try { alive = rec ? await isAlive(labHandle(rec).sandbox) : holders.has(labDir(id)); } catch { alive = false; }
    out.push({
      id, provider: 'netns', scenario: rec?.scenario ?? '?', state: alive ? 'alive' : 'dead', createdAt: rec?.createdAt ?? '',
      detail: rec ? undefined : alive ? 'being created' : 'no record (creation was interrupted)',
    });
  }
  return out;
}

async function reap(): Promise<string[]> {
  const removed: string[] = [];
  for (const s of await list()) {
    if (s.state !== 'dead') continue;
    // Its cgroup (emptied by the kernel with its sandbox) goes with it; a cgroup that cannot go
    // yet keeps the lab listed, for the next reap.
    const rec = await tryReadRecord(s.id);
    let sandbox: SandboxHandle | undefined;
    try { sandbox = rec && labHandle(rec).sandbox; } catch { /* a record that is not a netns lab's */ }
    try { await releaseLimits(sandbox?.limits); } catch (e) { console.error(`netdojo: lab ${s.id}: ${(e as Error).message}`); continue; }
    await releaseRange(sandbox?.uidBase, labDir(s.id));
    await removeLabDir(s.id);
    removed.push(s.id);
  }
  // Holders of this state directory whose lab directory is gone (removed by hand, or a crash in the
  // middle of a teardown), and their cgroups. Other state directories' labs (another user, another
  // netdojo) are not ours.
  for (const [dir, pid] of await findHolders(labsDir())) {
    if (existsSync(dir)) continue;
    if (await releaseOrphanLimits(pid).catch((e) => { console.error(`netdojo: ${basename(dir)}: ${(e as Error).message}`); return true; })) removed.push(basename(dir));
  }
  await releaseOrphanRanges(labsDir());
  return removed;
}

const REQUIRED: [cmd: string, pkg: string][] = [
  ['ip', 'iproute2'], ['iptables', 'iptables'], ['iptables-restore', 'iptables'], ['conntrack', 'conntrack'],
  ['dnsmasq', 'dnsmasq-base'], ['python3', 'python3'], ['unshare', 'util-linux'], ['nsenter', 'util-linux'], ['setsid', 'util-linux'],
  ['socat', 'socat'], ['openssl', 'openssl'], ['prlimit', 'util-linux'], ['setpriv', 'util-linux'], ['kubectl', 'kubectl'], ['dtach', 'dtach'], ['nginx', 'nginx-light'],
  ['dig', 'dnsutils (bind9-dnsutils)'], ['curl', 'curl'], ['ping', 'iputils-ping'], ['tcpdump', 'tcpdump'], ['ss', 'iproute2'],
];

/** The commands labs need that this host lacks, with the Debian/Ubuntu package of each. */
export async function missingTools(): Promise<{ command: string; pkg: string }[]> {
  const probe = await run('bash', ['-c', REQUIRED.map(([c]) => `command -v ${c} >/dev/null || echo ${c}`).join('; ')],
    { env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
  return probe.stdout.split('\n').filter(Boolean).map((command) => ({ command, pkg: REQUIRED.find(([c]) => c === command)?.[1] ?? command }));
}

async function doctor(): Promise<string[]> {
  const problems: string[] = [];
  for (const { command: missing, pkg } of await missingTools()) {
    problems.push(missing === 'kubectl'
      ? 'kubectl is missing: labs are driven with the real kubectl (1.30 or later); install it from your distribution or https://kubernetes.io/docs/tasks/tools/'
      : `${missing} is missing: install ${pkg} (Debian/Ubuntu: apt-get install -y ${pkg.split(' ')[0]})`);
  }
  const ipt = await run('bash', ['-c', 'PATH=$PATH:/usr/sbin:/sbin iptables -V']);
  if (ipt.code === 0 && !ipt.stdout.includes('nf_tables')) {
    problems.push(`iptables uses the legacy backend (${ipt.stdout.trim()}); labs need the nf_tables one: update-alternatives --set iptables /usr/sbin/iptables-nft`);
  }
  if (process.getuid?.() !== 0) {
    const u = await run('unshare', ['--user', '--map-root-user', '--net', 'true']);
    if (u.code !== 0) problems.push(`unprivileged user namespaces are not available (${u.stderr.trim()}): run as root, or enable them (sysctl -w kernel.unprivileged_userns_clone=1; user.max_user_namespaces > 0)`);
  }
  return problems;
}

/** Kernel features some lab configurations need that this host's kernel does not have. */
async function limitations(): Promise<string[]> {
  const out: string[] = [];
  // A lab cannot load modules: what the machine's kernel has (built in or loaded) is what labs get.
  const ipvs = await run('sh', ['-c', 'test -e /proc/net/ip_vs || unshare --net test -e /proc/net/ip_vs 2>/dev/null']);
  if (ipvs.code !== 0) out.push("the kernel has no IP Virtual Server (ip_vs): kube-proxy's ipvs mode fails in labs, as on a node without it (load the module: modprobe ip_vs)");
  out.push(describeEnforcement(await probeHost(), DEFAULT_LAB_RESOURCES));
  return out;
}

export const netnsProvider = {
  name: 'netns' as const,
  limitations,
  create,
  open,
  list,
  reap,
  doctor,
  kubeconfig: hostKubeconfig,
} satisfies Provider;

export { NetnsLab };
