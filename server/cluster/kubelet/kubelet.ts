import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, lstat, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterApi } from '../api.ts';
import type { ControllerContext, ControllerSpec, ReconcileResult } from '../controllers/controller.ts';
import { objectKey, splitKey } from '../controllers/controller.ts';
import { POD_DIR_ENV, resolveImage, containerArgv, type ImageProgram } from '../images.ts';
import type { KubeObject } from '../object.ts';
import { CNI_NOT_INITIALIZED, loadCni, type PodNetwork } from './cni.ts';
import { containerEnv, EnvError } from './env.ts';
import { runProbe, type Probe } from './probes.ts';
import { nodeRoot, type PodRuntime } from './runtime.ts';
import { containerResources, podQOSClass } from '../resources.ts';
import { containerMounts, materializeVolumes, referencedConfig, VolumeError } from './volumes.ts';
import { intToIp, ipToInt } from '../../util/ipv4.ts';

// The kubelet of every node of a lab, as one controller: a Pod bound to a node becomes a sandbox
// (network namespace, IP from the node's CNI config, hostname, hosts, resolv.conf per dnsPolicy) and
// containers (processes from the image catalog) that it restarts per restartPolicy with
// CrashLoopBackOff's doubling delay, probes (readiness, liveness, startup), and reports back as the
// pod's status, conditions and Events, as `kubectl describe pod` shows them. A pod being deleted is
// stopped (TERM, then KILL after its grace period) and removed from the API.
//
// The pod network is the node's CNI config as containerd loads it (./cni.ts): the kubelet asks the
// runtime for its status every 5 s, and while the runtime has no network (NetworkReady=false) the
// node is NotReady and no pod on the pod network gets a sandbox: each attempt is a NetworkNotReady
// event and another try a second later (hostNetwork pods start). A network the runtime has loaded
// but cannot add a pod to fails the sandbox (FailedCreatePodSandBox), retried after 10 s. Pods
// already running keep their network: the CNI config is asked again only to remove their sandbox.

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: unknown[];
  envFrom?: unknown[];
  volumeMounts?: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  imagePullPolicy?: string;
  ports?: { containerPort: number; name?: string; protocol?: string }[];
  stdin?: boolean;
  tty?: boolean;
  resources?: { limits?: Record<string, unknown>; requests?: Record<string, unknown> };
}

interface ContainerStatus {
  name: string;
  containerID?: string;
  restartCount: number;
  ready: boolean;
  started?: boolean;
  state?: { running?: { startedAt: string }; terminated?: Termination; waiting?: object };
  lastState?: { terminated?: Termination };
}
interface Termination { exitCode: number; reason?: string; startedAt?: string; finishedAt?: string; containerID?: string }

interface PodSpec {
  nodeName?: string;
  hostNetwork?: boolean;
  restartPolicy?: 'Always' | 'OnFailure' | 'Never';
  dnsPolicy?: 'ClusterFirst' | 'ClusterFirstWithHostNet' | 'Default' | 'None';
  dnsConfig?: { nameservers?: string[]; searches?: string[]; options?: { name: string; value?: string }[] };
  hostname?: string;
  subdomain?: string;
  containers: Container[];
  initContainers?: Container[];
  ephemeralContainers?: (Container & { targetContainerName?: string })[];
  terminationGracePeriodSeconds?: number;
  hostAliases?: { ip: string; hostnames: string[] }[];
  serviceAccountName?: string;
}

export interface NodeInfo { name: string; ip: string; podCIDR: string }

export interface KubeletOptions {
  runtime: PodRuntime;
  nodes: () => NodeInfo[];
  clusterDNS: string;
  clusterDomain: string;
  /** The service account token a pod's projected volume carries. */
  tokenFor(pod: KubeObject): string;
  caCert: string;
  /** The resolv.conf a node has (dnsPolicy Default and hostNetwork pods). */
  nodeResolvConf: string;
  /** Environment every container gets from the lab (where its programs find the lab's files). */
  env: Record<string, string>;
  /** Where images' programs are looked up (the lab's own programs first). */
  imagePath: string;
}

interface ContainerRun {
  id: string;
  restartCount: number;
  /** When the next start may happen (CrashLoopBackOff). */
  backoffUntil: number;
  backoffMs: number;
  startedAt?: Date;
  ready: boolean;
  /** Ready at least once since it started (early probing stops then). */
  wasReady?: boolean;
  started: boolean;
  probeFailures: { readiness: number; liveness: number; startup: number };
  probeSuccesses: { readiness: number };
  lastProbe: { readiness: number; liveness: number; startup: number };
  lastTermination?: Termination_;
  /**
   * A container that ended and will restart shows as terminated until then (the kubelet reports a
   * container's end before it decides on its restart), with the termination before in lastState;
   * then it waits in CrashLoopBackOff.
   */
  terminatedShownUntil?: number;
  previousTermination?: Termination_;
  crashLoop?: { reason: string; message: string };
  waiting?: { reason: string; message?: string };
  program?: ImageProgram;
  done?: boolean;
}

interface Termination_ { exitCode: number; reason: string; startedAt?: Date; finishedAt?: Date; containerID: string }

interface PodRun {
  uid: string;
  netns: string;
  node: string;
  ip?: string;
  hostNetwork: boolean;
  containers: Map<string, ContainerRun>;
  initDone: boolean;
  volumes?: Map<string, string>;
  configVersion?: string;
  killing?: Promise<boolean>;
}

const BACKOFF_START_MS = 10_000;
/** How long a container's end shows before its back-off does: the kubelet's PLEG relists every second. */
const TERMINATED_SHOWN_MS = 1000;
/** The kubelet's runtime status poll. */
const RUNTIME_STATUS_MS = 5_000;
/** The pod workers' retry after a sync that found the network not ready, and after any other failure. */
const NETWORK_NOT_READY_RETRY_MS = 1_000;
const SYNC_ERROR_RETRY_MS = 10_000;
const EARLY_PROBE_MS = 50;
const BACKOFF_MAX_MS = 300_000;

const iso = (d: Date) => d.toISOString().replace(/\.\d+Z$/, 'Z');
const containerID = (id: string) => `containerd://${createHash('sha256').update(id).digest('hex')}`;
const imageID = (ref: string) => `${ref.replace(/:[^:/]+$/, '')}@sha256:${createHash('sha256').update(ref).digest('hex')}`;

/** Whether a container that ended with `exitCode` is started again: the pod's restartPolicy, as it applies to init and ephemeral containers. */
function restarts(ps: PodSpec, kind: 'init' | 'ephemeral' | 'regular', exitCode: number): boolean {
  const policy = kind === 'init' ? (ps.restartPolicy === 'Never' ? 'Never' : 'OnFailure') : kind === 'ephemeral' ? 'Never' : ps.restartPolicy ?? 'Always';
  return policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
}

/** The sandbox name of a pod: its namespace and name, as a learner finds it with `ip netns`. */
export const podNetns = (namespace: string, name: string) => `pod_${namespace}_${name}`;

function resolvConf(spec: PodSpec, ns: string, o: KubeletOptions): string {
  const policy = spec.dnsPolicy ?? 'ClusterFirst';
  const d = o.clusterDomain;
  let nameservers: string[] = [];
  let searches: string[] = [];
  let options: { name: string; value?: string }[] = [];
  const clusterFirst = policy === 'ClusterFirstWithHostNet' || (policy === 'ClusterFirst' && !spec.hostNetwork);
  if (clusterFirst) {
    nameservers = [o.clusterDNS];
    searches = [`${ns}.svc.${d}`, `svc.${d}`, d];
    options = [{ name: 'ndots', value: '5' }];
  } else if (policy !== 'None') {
    return o.nodeResolvConf;
  }
  const dc = spec.dnsConfig;
  if (dc) {
    nameservers = [...nameservers, ...(dc.nameservers ?? [])].slice(0, 3);
    searches = [...new Set([...searches, ...(dc.searches ?? [])])].slice(0, 32);
    const byName = new Map(options.map((x) => [x.name, x]));
    for (const x of dc.options ?? []) byName.set(x.name, x);
    options = [...byName.values()];
  }
  return [
    searches.length ? `search ${searches.join(' ')}` : '',
    ...nameservers.map((n) => `nameserver ${n}`),
    options.length ? `options ${options.map((x) => (x.value !== undefined ? `${x.name}:${x.value}` : x.name)).join(' ')}` : '',
  ].filter(Boolean).join('\n') + '\n';
}

function hostsFile(pod: KubeObject, spec: PodSpec, ip: string, domain: string): string {
  const name = spec.hostname ?? pod.metadata.name!;
  const fqdn = spec.subdomain ? `${name}.${spec.subdomain}.${pod.metadata.namespace}.svc.${domain}\t${name}` : name;
  const lines = ['# Kubernetes-managed hosts file.', '127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet', 'fe00::0\tip6-mcastprefix', 'fe00::1\tip6-allnodes', 'fe00::2\tip6-allrouters', `${ip}\t${fqdn}`];
  if (spec.hostAliases?.length) {
    lines.push('', '# Entries added by HostAliases.');
    for (const a of spec.hostAliases) lines.push(`${a.ip}\t${a.hostnames.join('\t')}`);
  }
  return lines.join('\n') + '\n';
}


/**
 * host-local IPAM: the first free address of the node's podCIDR after the one it reserved last
 * (its last_reserved_ip), wrapping round after the broadcast address to the first after the gateway
 * (.1). An address a pod just gave back is handed out again only once the range has come round, so
 * no neighbour still holds the old pod's MAC for the new pod's address.
 */
export function allocateIP(podCIDR: string, used: Set<string>, lastReserved?: string): string {
  const [base, len] = podCIDR.split('/');
  const start = ipToInt(base);
  const first = 2;
  const count = 2 ** (32 - Number(len)) - 1 - first;
  const after = lastReserved === undefined ? count - 1 : ipToInt(lastReserved) - start - first;
  for (let k = 1; k <= count; k++) {
    const ip = intToIp(start + first + ((after + k) % count + count) % count);
    if (!used.has(ip)) return ip;
  }
  throw new Error(`no free address in ${podCIDR}`);
}

/**
 * Where an interactive container's terminal is served (stdin and tty: `kubectl run -it`, `kubectl
 * debug -it`): its process runs under dtach, holding the pty, so `kubectl attach` can join it as a
 * container runtime's attach does. Kept short: a unix socket's path has room for 107 bytes.
 */
export const attachSocket = (dataDir: string, netns: string, container: string) =>
  join(dataDir, 'run', 'attach', `${createHash('sha1').update(`${netns}/${container}`).digest('hex').slice(0, 16)}.sock`);

/** Where a container's log is kept (and `<path>.previous`, the run before its last restart). */
/**
 * A copy is made with its source's modes (0755, 0644): the copy, the container's, becomes writable by
 * its group too, which its directory gave it. The runtime's containers may run as another uid than
 * the kubelet's with that group (a netns lab's root when netdojo runs as root), and directories keep
 * the setgid bit (a chmod to the source's mode cleared it) so that what is made in them later is too.
 */
async function groupWritable(path: string): Promise<void> {
  const st = await lstat(path);
  if (st.isSymbolicLink()) return;
  await chmod(path, (st.mode & 0o7777) | (st.isDirectory() ? 0o2020 : 0o020));
  if (st.isDirectory()) await Promise.all((await readdir(path)).map((e) => groupWritable(join(path, e))));
}

export const containerLogPath = (dataDir: string, netns: string, container: string) => join(dataDir, 'pods', netns, 'logs', `${container}.log`);

export function kubelet(o: KubeletOptions): ControllerSpec {
  const pods = new Map<string, PodRun>();
  const byContainer = new Map<string, string>();
  /** Per node and range: the address host-local reserved last. */
  const lastReserved = new Map<string, string>();
  /** Per node: why the runtime's network is not ready, as its last status said. */
  const networkErrors = new Map<string, string>();

  const podDir = (netns: string) => join(o.runtime.dataDir, 'pods', netns);
  const logPath = (netns: string, c: string) => containerLogPath(o.runtime.dataDir, netns, c);

  const event = (ctx: ControllerContext, pod: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string, fieldPath?: string) =>
    ctx.event(fieldPath ? { ...pod, metadata: { ...pod.metadata, annotations: { ...pod.metadata.annotations, 'netdojo.dev/fieldPath': fieldPath } } } : pod, type, reason, message, 'kubelet');

  const spec: ControllerSpec = {
    name: 'kubelet',
    watches: ['Pod', 'ConfigMap', 'Secret'],
    keysFor(e, ctx) {
      if (e.kind === 'Pod') return [objectKey(e.object)];
      // A ConfigMap or Secret change reaches the volumes of the pods that mount it.
      const ns = e.object.metadata.namespace;
      return ctx.api.list('Pod', ns).items.filter((p) => {
        const r = referencedConfig(p);
        return (e.kind === 'ConfigMap' ? r.configMaps : r.secrets).includes(e.object.metadata.name!);
      }).map(objectKey);
    },
    // Pods by namespace/name; each node by its name, for the runtime's status.
    initialKeys(ctx) {
      return [...o.nodes().map((n) => n.name), ...ctx.api.list('Pod', undefined).items.map(objectKey)];
    },
    // A container's process ending is seen through its state files, not the store.
    onStart(_ctx, enqueue) {
      return o.runtime.onContainerChange((id) => {
        const key = byContainer.get(id);
        if (key) enqueue(key);
      });
    },
    reconcile: (key, ctx) => (key.includes('/') ? reconcilePod(key, ctx) : syncNodeStatus(key, ctx)),
  };

  /**
   * The runtime's status and the node's Ready condition from it, as the kubelet posts it: NotReady
   * with the runtime's NetworkReady condition while containerd has no CNI network, with a
   * NodeNotReady (or NodeReady) event when it changes. Kubelets report node events under the node's
   * name as its uid.
   */
  async function syncNodeStatus(name: string, ctx: ControllerContext): Promise<ReconcileResult> {
    const cni = await loadCni(nodeRoot(o.runtime.dataDir, name));
    const error = cni.ready ? undefined : `container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: ${CNI_NOT_INITIALIZED}`;
    if (!cni.ready && !networkErrors.has(name)) ctx.log(`containerd on ${name}: failed to reload cni configuration: ${cni.reason}`);
    if (error) networkErrors.set(name, error); else networkErrors.delete(name);
    const want = error ? { status: 'False', reason: 'KubeletNotReady', message: error } : { status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' };
    const now = iso(new Date());
    let changed = false;
    const node = ctx.api.mutate('Node', undefined, name, (n) => {
      const conditions = ((n.status as { conditions?: Record<string, unknown>[] } | undefined)?.conditions ?? []);
      const i = conditions.findIndex((c) => c.type === 'Ready');
      const prev = conditions[i];
      if (prev && prev.status === want.status && prev.message === want.message) return false;
      changed = prev?.status !== want.status;
      const ready = { type: 'Ready', ...want, lastHeartbeatTime: now, lastTransitionTime: changed ? now : prev.lastTransitionTime };
      if (i < 0) conditions.push(ready); else conditions[i] = ready;
      n.status = { ...n.status as object, conditions };
    }, { subresource: 'status' });
    if (node && changed) {
      const status = error ? 'NodeNotReady' : 'NodeReady';
      ctx.event({ ...node, metadata: { ...node.metadata, uid: name } }, 'Normal', status, `Node ${name} status is now: ${status}`, 'kubelet');
    }
    return { requeueAfterMs: RUNTIME_STATUS_MS };
  }

  /**
   * A pod this kubelet ran before its host restarted: its sandbox and containers are still there
   * (their processes outlive the host), so it takes them back as the pod's status describes them.
   */
  async function adopt(key: string, pod: KubeObject, node: NodeInfo): Promise<PodRun | undefined> {
    const ps = pod.spec as PodSpec;
    const st = (pod.status ?? {}) as { podIP?: string; conditions?: { type: string; status: string }[]; containerStatuses?: ContainerStatus[]; initContainerStatuses?: ContainerStatus[]; ephemeralContainerStatuses?: ContainerStatus[] };
    const netns = podNetns(pod.metadata.namespace!, pod.metadata.name!);
    if (!st.podIP || !(await o.runtime.sandboxExists(netns))) return undefined;
    const run: PodRun = {
      uid: pod.metadata.uid!, netns, node: node.name, ip: st.podIP, hostNetwork: Boolean(ps.hostNetwork), containers: new Map(),
      initDone: st.conditions?.some((c) => c.type === 'Initialized' && c.status === 'True') ?? !(ps.initContainers?.length),
    };
    const groups = [
      { kind: 'regular' as const, specs: ps.containers, statuses: st.containerStatuses },
      { kind: 'init' as const, specs: ps.initContainers ?? [], statuses: st.initContainerStatuses },
      { kind: 'ephemeral' as const, specs: ps.ephemeralContainers ?? [], statuses: st.ephemeralContainerStatuses },
    ];
    for (const { kind, specs, statuses } of groups) for (const cs of statuses ?? []) {
      const c = specs.find((x) => x.name === cs.name);
      if (!c || !cs.containerID) continue;
      const id = `${netns}_${cs.name}_${cs.restartCount}`;
      const image = resolveImage(c.image, { path: o.imagePath });
      const term = cs.state?.terminated ?? cs.lastState?.terminated;
      run.containers.set(cs.name, {
        id, restartCount: cs.restartCount, backoffUntil: 0, backoffMs: BACKOFF_START_MS, ready: cs.ready, wasReady: cs.ready, started: cs.started ?? true,
        probeFailures: { readiness: 0, liveness: 0, startup: 0 }, probeSuccesses: { readiness: cs.ready ? 1 : 0 }, lastProbe: { readiness: 0, liveness: 0, startup: 0 },
        startedAt: cs.state?.running ? new Date(cs.state.running.startedAt) : undefined,
        // Terminated for good, or shown terminated before a restart.
        done: Boolean(cs.state?.terminated) && !restarts(ps, kind, cs.state!.terminated!.exitCode),
        lastTermination: term ? { exitCode: term.exitCode, reason: term.reason ?? 'Error', startedAt: term.startedAt ? new Date(term.startedAt) : undefined, finishedAt: term.finishedAt ? new Date(term.finishedAt) : undefined, containerID: term.containerID ?? cs.containerID } : undefined,
        program: image.ok ? image.program : undefined,
      });
      byContainer.set(id, key);
    }
    pods.set(key, run);
    return run;
  }

  /**
   * Stops a pod's containers and removes its sandbox. Removing the sandbox of a pod being deleted
   * is a CNI DEL with the network containerd has loaded: while it has none, the sandbox stays (and
   * the pod Terminating, its containers stopped) and false comes back, to be tried again.
   */
  async function teardown(key: string, run: PodRun, grace: number, ctx: ControllerContext, pod?: KubeObject): Promise<boolean> {
    const live = [...run.containers.values()].filter((c) => c.startedAt && !c.done);
    for (const c of live) {
      if (pod) event(ctx, pod, 'Normal', 'Killing', `Stopping container ${c.id.split('_').at(-2) ?? ''}`.trim());
      await o.runtime.signalContainer(c.id, 'TERM');
    }
    const deadline = Date.now() + grace * 1000;
    for (const c of live) {
      for (;;) {
        const st = await o.runtime.containerState(c.id);
        if (!st || !st.running) break;
        if (Date.now() >= deadline) { await o.runtime.signalContainer(c.id, 'KILL'); break; }
        await new Promise((r) => setTimeout(r, 50));
      }
      c.done = true;
    }
    if (pod && !run.hostNetwork && !(await loadCni(nodeRoot(o.runtime.dataDir, run.node))).ready) return false;
    await o.runtime.stopPodSandbox(run.netns, run.hostNetwork);
    for (const c of run.containers.values()) { await o.runtime.forgetContainer(c.id); byContainer.delete(c.id); }
    await rm(podDir(run.netns), { recursive: true, force: true });
    pods.delete(key);
    return true;
  }

  async function reconcilePod(key: string, ctx: ControllerContext): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const api = ctx.api;
    const pod = api.tryGet('Pod', namespace, name);
    let run = pods.get(key);
    if (run && (!pod || pod.metadata.uid !== run.uid)) {
      // The pod is gone from the API (or replaced by another of the same name): stop what ran.
      await teardown(key, run, 0, ctx);
      run = undefined;
    }
    if (!pod) return;
    const ps = pod.spec as PodSpec;
    const node = o.nodes().find((n) => n.name === ps.nodeName);
    if (!node) return;
    const phase = (pod.status as { phase?: string } | undefined)?.phase;

    // A pod left running by this kubelet before its host restarted is taken back first: being
    // deleted or not, its sandbox and containers are there to handle.
    if (!run) run = await adopt(key, pod, node);
    if (pod.metadata.deletionTimestamp) {
      if (run) {
        if (!run.killing) run.killing = teardown(key, run, pod.metadata.deletionGracePeriodSeconds ?? ps.terminationGracePeriodSeconds ?? 30, ctx, pod);
        if (!(await run.killing)) {
          run.killing = undefined;
          const sandbox = createHash('sha256').update(run.uid).digest('hex');
          event(ctx, pod, 'Warning', 'FailedKillPod', `error killing pod: failed to "KillPodSandbox" for "${run.uid}" with KillPodSandboxError: "rpc error: code = Unknown desc = failed to destroy network for sandbox \\"${sandbox}\\": ${CNI_NOT_INITIALIZED}"`);
          return { requeueAfterMs: SYNC_ERROR_RETRY_MS };
        }
      }
      // The kubelet's final delete: with the containers stopped, the pod leaves the API.
      if (!pod.metadata.finalizers?.length) api.forget('Pod', namespace, name);
      return;
    }
    if (!run && (phase === 'Succeeded' || phase === 'Failed')) return;

    if (!run) {
      // Every pod has a sandbox of its own; a hostNetwork pod's uses its node's network namespace.
      const netns = podNetns(namespace!, name);
      let net: PodNetwork | undefined;
      if (!ps.hostNetwork) {
        const notReady = networkErrors.get(node.name);
        if (notReady) {
          event(ctx, pod, 'Warning', 'NetworkNotReady', `network is not ready: ${notReady}`);
          return waitForSandbox(ctx, pod, node, NETWORK_NOT_READY_RETRY_MS);
        }
        // containerd's RunPodSandbox: CNI ADD with the network it has loaded now.
        const cni = await loadCni(nodeRoot(o.runtime.dataDir, node.name));
        const added = cni.ready ? cni.add : { ok: false as const, error: CNI_NOT_INITIALIZED };
        if (!added.ok) {
          event(ctx, pod, 'Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "${randomBytes(32).toString('hex')}": ${added.error}`);
          return waitForSandbox(ctx, pod, node, SYNC_ERROR_RETRY_MS);
        }
        net = added.network;
      }
      const used = new Set(api.list('Pod', undefined).items
        .filter((p) => (p.spec as PodSpec).nodeName === node.name && !(p.spec as PodSpec).hostNetwork && p.metadata.uid !== pod.metadata.uid)
        .map((p) => (p.status as { podIP?: string } | undefined)?.podIP).filter((x): x is string => Boolean(x)));
      for (const r of pods.values()) if (r.node === node.name && r.ip) used.add(r.ip);
      const range = net && `${node.name} ${net.subnet}`;
      const ip = net ? allocateIP(net.subnet, used, lastReserved.get(range!)) : node.ip;
      if (range) lastReserved.set(range, ip);
      run = { uid: pod.metadata.uid!, netns, node: node.name, ip, hostNetwork: Boolean(ps.hostNetwork), containers: new Map(), initDone: !(ps.initContainers?.length) };
      pods.set(key, run);
      await mkdir(join(podDir(netns), 'logs'), { recursive: true });
      try {
        await o.runtime.runPodSandbox({
          netns, target: key, node: node.name, hostNetwork: run.hostNetwork, ip, gateway: net?.gateway, prefixLen: net && Number(net.subnet.split('/')[1]), routes: net?.routes,
          mtu: net?.mtu, hostname: ps.hostNetwork ? node.name : (ps.hostname ?? name).slice(0, 63), resolvConf: resolvConf(ps, namespace!, o), hosts: hostsFile(pod, ps, ip, o.clusterDomain),
        });
      } catch (e) {
        pods.delete(key);
        event(ctx, pod, 'Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${(e as Error).message}`);
        return { requeueAfterMs: 2000 };
      }
      api.mutate('Pod', namespace, name, (p) => {
        p.status = { ...startedStatus(p, node), podIP: ip, podIPs: [{ ip }] };
      }, { subresource: 'status' });
    }

    // Volumes, written again when the ConfigMaps and Secrets they come from change.
    const refs = referencedConfig(pod);
    const version = JSON.stringify([...refs.configMaps.map((n) => api.tryGet('ConfigMap', namespace, n)?.metadata.resourceVersion), ...refs.secrets.map((n) => api.tryGet('Secret', namespace, n)?.metadata.resourceVersion)]);
    if (!run.volumes || run.configVersion !== version) {
      try {
        run.volumes = await materializeVolumes({ api, pod, podDir: podDir(run.netns), nodeRoot: nodeRoot(o.runtime.dataDir, node.name), token: o.tokenFor(pod), caCert: o.caCert });
        run.configVersion = version;
      } catch (e) {
        if (!(e instanceof VolumeError)) throw e;
        event(ctx, pod, 'Warning', 'FailedMount', `MountVolume.SetUp failed: ${e.message}`);
        return writeStatus(ctx, pod, run, { requeueAfterMs: 2000 }, { reason: 'ContainerCreating' });
      }
    }

    let nextMs = Number.POSITIVE_INFINITY;
    const soon = (ms: number) => { nextMs = Math.min(nextMs, Math.max(0, ms)); };

    // Init containers run one at a time, each to success, before the others start.
    const groups: { list: Container[]; init: boolean; ephemeral?: boolean }[] = [];
    if (!run.initDone) groups.push({ list: ps.initContainers ?? [], init: true });
    else groups.push({ list: ps.containers, init: false }, { list: ps.ephemeralContainers ?? [], init: false, ephemeral: true });

    for (const g of groups) {
      for (const c of g.list) {
        const r = await syncContainer(ctx, pod, run, node, c, g.init, Boolean(g.ephemeral), soon);
        if (g.init && !(r.done && r.lastTermination?.exitCode === 0)) { soon(1000); return writeStatus(ctx, pod, run, nextMs); }
      }
      if (g.init) { run.initDone = true; return { requeueAfterMs: 0 }; }
    }
    return writeStatus(ctx, pod, run, nextMs);
  }

  /** The status a pod has from its first sync on the node: Pending there, since then. */
  function startedStatus(p: KubeObject, node: NodeInfo): Record<string, unknown> {
    const st = (p.status ?? {}) as Record<string, unknown>;
    return { ...st, phase: 'Pending', hostIP: node.ip, hostIPs: [{ ip: node.ip }], startTime: st.startTime ?? iso(new Date()), qosClass: podQOSClass(p.spec as PodSpec) };
  }

  /** A pod whose sandbox could not be made yet: its containers wait in ContainerCreating, tried again later. */
  function waitForSandbox(ctx: ControllerContext, pod: KubeObject, node: NodeInfo, retryMs: number): ReconcileResult {
    const ps = pod.spec as PodSpec;
    const updated = ctx.api.mutate('Pod', pod.metadata.namespace, pod.metadata.name!, (p) => {
      if (p.metadata.uid !== pod.metadata.uid) return false;
      p.status = startedStatus(p, node);
    }, { subresource: 'status' }) ?? pod;
    const waiting: PodRun = { uid: pod.metadata.uid!, netns: podNetns(pod.metadata.namespace!, pod.metadata.name!), node: node.name, hostNetwork: false, containers: new Map(), initDone: !(ps.initContainers?.length) };
    return writeStatus(ctx, updated, waiting, { requeueAfterMs: retryMs }, { reason: 'ContainerCreating', sandbox: false });
  }

  async function syncContainer(ctx: ControllerContext, pod: KubeObject, run: PodRun, node: NodeInfo, c: Container, init: boolean, ephemeral: boolean, soon: (ms: number) => void): Promise<ContainerRun> {
    const ps = pod.spec as PodSpec;
    const key = objectKey(pod);
    let r = run.containers.get(c.name);
    if (!r) {
      r = { id: `${run.netns}_${c.name}_0`, restartCount: 0, backoffUntil: 0, backoffMs: BACKOFF_START_MS, ready: false, started: false,
        probeFailures: { readiness: 0, liveness: 0, startup: 0 }, probeSuccesses: { readiness: 0 }, lastProbe: { readiness: 0, liveness: 0, startup: 0 } };
      run.containers.set(c.name, r);
    }
    const fieldPath = `spec.${init ? 'initContainers' : ephemeral ? 'ephemeralContainers' : 'containers'}{${c.name}}`;
    const now = Date.now();
    if (r.startedAt && !r.done) {
      const st = await o.runtime.containerState(r.id);
      if (st && !st.running) {
        // The process ended: record the termination (OOMKilled when the kernel killed it for its
        // memory limit, as containerd reports it), then restart per policy.
        const exitCode = st.exitCode ?? 1;
        r.previousTermination = r.lastTermination;
        r.lastTermination = { exitCode, reason: st.oomKilled ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error', startedAt: r.startedAt, finishedAt: st.finishedAt ?? new Date(), containerID: containerID(r.id) };
        r.startedAt = undefined;
        r.ready = false;
        r.started = false;
        if (!restarts(ps, init ? 'init' : ephemeral ? 'ephemeral' : 'regular', exitCode)) { r.done = true; return r; }
        const ranMs = (r.lastTermination.finishedAt!.getTime() - (r.lastTermination.startedAt?.getTime() ?? 0));
        // A container that ran for 10 minutes without trouble starts its backoff afresh.
        if (ranMs > 600_000) r.backoffMs = BACKOFF_START_MS;
        r.backoffUntil = now + r.backoffMs;
        r.crashLoop = { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(r.backoffMs / 1000)}s restarting failed container=${c.name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})` };
        r.backoffMs = Math.min(BACKOFF_MAX_MS, r.backoffMs * 2);
        r.waiting = undefined;
        r.terminatedShownUntil = now + TERMINATED_SHOWN_MS;
        soon(TERMINATED_SHOWN_MS);
        return r;
      }
      if (st?.running) {
        await probe(ctx, pod, run, c, r, fieldPath, soon);
        return r;
      }
      // Started, but its wrapper has not recorded the process yet.
      soon(50);
      return r;
    }
    if (r.done) return r;
    if (r.terminatedShownUntil !== undefined) {
      if (now < r.terminatedShownUntil) { soon(r.terminatedShownUntil - now); return r; }
      r.terminatedShownUntil = undefined;
      r.previousTermination = undefined;
      if (r.backoffUntil > now && r.crashLoop) {
        r.waiting = r.crashLoop;
        event(ctx, pod, 'Warning', 'BackOff', `Back-off restarting failed container ${c.name} in pod ${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`, fieldPath);
      }
    }
    if (r.backoffUntil > now) { soon(r.backoffUntil - now); return r; }

    // Start (or restart) the container.
    const image = resolveImage(c.image, { path: o.imagePath });
    if (!image.ok) {
      const first = r.waiting?.reason !== 'ErrImagePull' && r.waiting?.reason !== 'ImagePullBackOff';
      if (first || r.waiting?.reason === 'ImagePullBackOff') {
        event(ctx, pod, 'Normal', 'Pulling', `Pulling image "${c.image}"`, fieldPath);
        event(ctx, pod, 'Warning', 'Failed', image.message, fieldPath);
        event(ctx, pod, 'Warning', 'Failed', `Error: ${image.reason}`, fieldPath);
        r.waiting = { reason: image.reason, message: image.statusMessage };
        r.backoffUntil = now + r.backoffMs;
        soon(Math.min(r.backoffMs, 5000));
      } else {
        event(ctx, pod, 'Normal', 'BackOff', `Back-off pulling image "${c.image}"`, fieldPath);
        event(ctx, pod, 'Warning', 'Failed', 'Error: ImagePullBackOff', fieldPath);
        r.waiting = { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image}": ${image.statusMessage}` };
        r.backoffUntil = now + r.backoffMs;
        r.backoffMs = Math.min(BACKOFF_MAX_MS, r.backoffMs * 2);
        soon(r.backoffUntil - now);
      }
      return r;
    }
    r.program = image.program;
    let env: Record<string, string>;
    let argv: string[];
    let mounts;
    try {
      env = { ...image.program.env, ...containerEnv(ctx.api, pod, c as never, node.ip) };
      argv = containerArgv(image.program, c, env);
      if (!argv.length) throw new EnvError('failed to create containerd container: no command specified');
      mounts = containerMounts(c, run.volumes ?? new Map());
      // Directories the image ships get a private, writable copy, unless a volume is mounted there.
      for (const [i, d] of image.program.dirs.entries()) {
        if (mounts.some((m) => m.target === d.path)) continue;
        const copy = join(podDir(run.netns), 'containers', c.name, 'image', String(i));
        const only = d.only && new Set(d.only.map((e) => join(d.source, e)));
        await cp(d.source, copy, { recursive: true, force: false, errorOnExist: false, filter: (src) => !only || src === d.source || only.has(src) });
        await groupWritable(copy);
        mounts.unshift({ source: copy, target: d.path, readOnly: false });
      }
    } catch (e) {
      if (!(e instanceof EnvError || e instanceof VolumeError)) throw e;
      r.waiting = { reason: 'CreateContainerConfigError', message: e.message };
      event(ctx, pod, 'Warning', 'Failed', `Error: ${e.message}`, fieldPath);
      soon(2000);
      return r;
    }
    if (r.restartCount === 0 && !r.lastTermination) {
      event(ctx, pod, 'Normal', 'Pulled', `Container image "${c.image}" already present on machine`, fieldPath);
    } else {
      event(ctx, pod, 'Normal', 'Pulled', `Container image "${c.image}" already present on machine`, fieldPath);
    }
    const log = logPath(run.netns, c.name);
    if (r.lastTermination) {
      r.restartCount++;
      await rename(log, `${log}.previous`).catch(() => undefined);
      byContainer.delete(r.id);
      await o.runtime.forgetContainer(r.id);
      r.id = `${run.netns}_${c.name}_${r.restartCount}`;
    }
    byContainer.set(r.id, key);
    event(ctx, pod, 'Normal', 'Created', `Created container: ${c.name}`, fieldPath);
    const podPrivate = join(podDir(run.netns), 'containers', c.name);
    await mkdir(podPrivate, { recursive: true });
    if (c.stdin) {
      const sock = attachSocket(o.runtime.dataDir, run.netns, c.name);
      await mkdir(join(sock, '..'), { recursive: true });
      await rm(sock, { force: true });
      argv = ['dtach', '-N', sock, '-E', '-z', '-r', 'winch', ...argv];
    }
    try {
      await o.runtime.startContainer(run.netns, { id: r.id, argv, env: { ...env, ...(c.tty ? { TERM: env.TERM ?? 'xterm' } : {}), ...o.env, [POD_DIR_ENV]: podPrivate }, workingDir: c.workingDir ?? image.program.workingDir, mounts, logPath: log, resources: containerResources(c) });
    } catch (e) {
      r.waiting = { reason: 'RunContainerError', message: (e as Error).message };
      event(ctx, pod, 'Warning', 'Failed', `Error: ${(e as Error).message}`, fieldPath);
      soon(r.backoffMs);
      return r;
    }
    // An interactive container is running once its terminal can be joined (kubectl attaches as
    // soon as the pod says Running).
    if (c.stdin) {
      const sock = attachSocket(o.runtime.dataDir, run.netns, c.name);
      for (let i = 0; i < 300 && !existsSync(sock); i++) await new Promise((res) => setTimeout(res, 10));
    }
    r.startedAt = new Date();
    r.wasReady = false;
    r.waiting = undefined;
    r.started = !c.startupProbe;
    r.ready = false;
    r.probeFailures = { readiness: 0, liveness: 0, startup: 0 };
    r.probeSuccesses = { readiness: 0 };
    r.lastProbe = { readiness: 0, liveness: 0, startup: 0 };
    event(ctx, pod, 'Normal', 'Started', `Started container ${c.name}`, fieldPath);
    // Without a readiness probe a container is ready once it runs.
    if (!c.readinessProbe && !init) r.ready = true;
    soon(c.readinessProbe || c.livenessProbe || c.startupProbe ? 0 : Number.POSITIVE_INFINITY);
    return r;
  }

  async function probe(ctx: ControllerContext, pod: KubeObject, run: PodRun, c: Container, r: ContainerRun, fieldPath: string, soon: (ms: number) => void): Promise<void> {
    const now = Date.now();
    const since = now - (r.startedAt?.getTime() ?? now);
    const kinds: ('startup' | 'readiness' | 'liveness')[] = r.started ? ['readiness', 'liveness'] : ['startup'];
    for (const kind of kinds) {
      const p = kind === 'startup' ? c.startupProbe : kind === 'readiness' ? c.readinessProbe : c.livenessProbe;
      if (!p) { if (kind === 'readiness') r.ready = true; continue; }
      const period = (p.periodSeconds ?? 10) * 1000;
      const initial = (p.initialDelaySeconds ?? 0) * 1000;
      if (since < initial) { soon(initial - since); continue; }
      const due = r.lastProbe[kind] + period;
      if (r.lastProbe[kind] && now < due) { soon(due - now); continue; }
      r.lastProbe[kind] = now;
      const result = await runProbe(o.runtime, p, { podIP: run.ip!, node: run.node, netns: run.netns, hostNetwork: run.hostNetwork, ports: c.ports });
      soon(period);
      if (result.ok) {
        r.probeFailures[kind] = 0;
        if (kind === 'startup') { r.started = true; soon(0); }
        if (kind === 'readiness') {
          r.probeSuccesses.readiness++;
          if (r.probeSuccesses.readiness >= (p.successThreshold ?? 1)) { r.ready = true; r.wasReady = true; }
        }
        continue;
      }
      // A container that has not been ready yet is probed again soon rather than a period later: it
      // becomes Ready as soon as it answers, never later than a kubelet would see it. Only a failure
      // past its first period counts (and is reported).
      if (kind === 'readiness' && !r.ready && !r.wasReady && since < period) {
        r.lastProbe[kind] = now - period + EARLY_PROBE_MS;
        soon(EARLY_PROBE_MS);
        continue;
      }
      r.probeFailures[kind]++;
      if (kind === 'readiness') r.probeSuccesses.readiness = 0;
      event(ctx, pod, 'Warning', 'Unhealthy', `${kind[0].toUpperCase()}${kind.slice(1)} probe failed: ${result.message}`, fieldPath);
      if (r.probeFailures[kind] >= (p.failureThreshold ?? 3)) {
        if (kind === 'readiness') r.ready = false;
        else {
          event(ctx, pod, 'Normal', 'Killing', `Container ${c.name} failed ${kind} probe, will be restarted`, fieldPath);
          r.probeFailures[kind] = 0;
          await o.runtime.signalContainer(r.id, 'TERM');
          soon(500);
        }
      }
    }
  }

  const terminated = (t: Termination_) => ({ exitCode: t.exitCode, reason: t.reason, startedAt: t.startedAt && iso(t.startedAt), finishedAt: t.finishedAt && iso(t.finishedAt), containerID: t.containerID });

  function writeStatus(ctx: ControllerContext, pod: KubeObject, run: PodRun, next: number | ReconcileResult, creating?: { reason: string; sandbox?: false }): ReconcileResult {
    const ps = pod.spec as PodSpec;
    const now = iso(new Date());
    const statusOf = (c: Container, init: boolean) => {
      const r = run.containers.get(c.name);
      const image = r?.program?.ref ?? c.image;
      const base = { name: c.name, image, imageID: r?.startedAt || r?.lastTermination ? imageID(image) : '', ready: Boolean(r?.ready && r.startedAt), restartCount: r?.restartCount ?? 0, started: Boolean(r?.startedAt && r.started) } as Record<string, unknown>;
      if (r?.startedAt || r?.lastTermination) base.containerID = containerID(r.id);
      if (r?.startedAt) base.state = { running: { startedAt: iso(r.startedAt) } };
      else if (r?.lastTermination && (r.done || r.terminatedShownUntil !== undefined)) base.state = { terminated: terminated(r.lastTermination) };
      else base.state = { waiting: r?.waiting ?? { reason: init || !run.initDone ? 'PodInitializing' : creating?.reason ?? 'ContainerCreating' } };
      if (init && !r) base.state = { waiting: { reason: 'PodInitializing' } };
      const last = r?.terminatedShownUntil !== undefined ? r.previousTermination : r?.done ? undefined : r?.lastTermination;
      base.lastState = last ? { terminated: terminated(last) } : {};
      return base;
    };
    const containerStatuses = ps.containers.map((c) => statusOf(c, false));
    const initStatuses = (ps.initContainers ?? []).map((c) => statusOf(c, true));
    const ephemeral = (ps.ephemeralContainers ?? []).map((c) => statusOf(c, false));
    const allReady = containerStatuses.every((s) => s.ready);
    const anyRunning = containerStatuses.some((s) => (s.state as Record<string, unknown>).running);
    const terminal = ps.containers.every((c) => run.containers.get(c.name)?.done);
    const failed = terminal && ps.containers.some((c) => (run.containers.get(c.name)?.lastTermination?.exitCode ?? 0) !== 0);
    // As the kubelet's getPhase: containers that are running or restarting make a Running pod.
    const runningOrRestarting = ps.containers.every((c) => { const r = run.containers.get(c.name); return r?.startedAt || (r?.lastTermination && !r.done); });
    const phase = terminal ? (failed ? 'Failed' : 'Succeeded') : anyRunning || runningOrRestarting ? 'Running' : 'Pending';
    ctx.api.mutate('Pod', pod.metadata.namespace, pod.metadata.name!, (p) => {
      if (p.metadata.uid !== run.uid) return false;
      const st = (p.status ?? {}) as Record<string, unknown>;
      const old = new Map(((st.conditions ?? []) as { type: string; status: string; lastTransitionTime?: string }[]).map((c) => [c.type, c]));
      const cond = (type: string, ok: boolean, reason?: string) => {
        const status = ok ? 'True' : 'False';
        const prev = old.get(type);
        return { type, status, lastProbeTime: null, lastTransitionTime: prev?.status === status ? prev.lastTransitionTime : now, ...(reason && !ok ? { reason } : {}) };
      };
      const scheduled = old.get('PodScheduled') ?? { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now };
      const conditions = [
        cond('PodReadyToStartContainers', !terminal && creating?.sandbox !== false),
        cond('Initialized', run.initDone, 'ContainersNotInitialized'),
        cond('Ready', allReady && !terminal, terminal ? 'PodCompleted' : 'ContainersNotReady'),
        cond('ContainersReady', allReady && !terminal, terminal ? 'PodCompleted' : 'ContainersNotReady'),
        scheduled,
      ];
      const notReady = containerStatuses.filter((s) => !s.ready).map((s) => s.name);
      for (const c of conditions) {
        if ((c.type === 'Ready' || c.type === 'ContainersReady') && c.status === 'False' && !terminal) (c as Record<string, unknown>).message = `containers with unready status: [${notReady.join(' ')}]`;
      }
      p.status = { ...st, phase, conditions, containerStatuses, ...(initStatuses.length ? { initContainerStatuses: initStatuses } : {}), ...(ephemeral.length ? { ephemeralContainerStatuses: ephemeral } : {}) };
    }, { subresource: 'status' });
    if (typeof next === 'object' || next === undefined) return next as ReconcileResult;
    return Number.isFinite(next) ? { requeueAfterMs: next } : undefined;
  }

  return spec;
}
