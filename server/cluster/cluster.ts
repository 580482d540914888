import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { parseAllDocuments } from 'yaml';
import { readManifest } from '../lab/manifests.ts';
import { admit } from './admit.ts';
import { ClusterApi } from './api.ts';
import { controllerManager } from './controllers/index.ts';
import { runController, type ControllerContext, type ControllerSpec, type RunningController } from './controllers/controller.ts';
import { kubernetesEndpoints } from './controllers/index.ts';
import { serveDocs, type ServerVersion } from './discovery.ts';
import { dnsRecords } from './dns/controller.ts';
import { eventRecorder } from './events.ts';
import { KindRegistry, type ResourceKind } from './registry.ts';
import { attachSocket, containerLogPath, kubelet, podNetns, type KubeletOptions, type NodeInfo } from './kubelet/kubelet.ts';
import type { PodRuntime } from './kubelet/runtime.ts';
import { ApiError, type KubeObject } from './object.ts';
import { applyPatch } from './patch.ts';
import { hostArgv, resolveImage } from './images.ts';
import { networkPolicies } from './netpol/controller.ts';
import { kindnetCniConfig } from './kindnet/cniconfig.ts';
import { kubeProxy } from './proxy/controller.ts';
import { loadBalancers, type LoadBalancerNetwork } from './loadbalancer/controller.ts';
import { RestHandler, sendStatus, type StreamSubresource } from './rest.ts';
import { ADMIN } from './reviews.ts';
import { answerTokenRequest, podToken, tokenUser } from './tokens.ts';
import { clone, ObjectStore } from './store.ts';
import { handleStreamUpgrade, localSpawn, parseExecQuery, type LaunchSpec } from './stream/exec.ts';
import { parseLogQuery, streamLog } from './stream/logs.ts';
import { handlePortForwardUpgrade } from './stream/portforward.ts';
import { proxyDestination, proxyHttp, type ProxyPath } from './stream/proxy.ts';
import { relayTo, relayToLocalhost } from './stream/relay.ts';
import { toTable } from './tables.ts';
import { ChangeClock, type Settledness } from './settled.ts';

// One lab's Kubernetes: its object store, the API server in front of it, and the controllers
// behind it (the control plane's, and on a provider with a data plane, the kubelet, kube-proxy and
// CoreDNS's kubernetes plugin). Everything a lab needs is built here from what the provider gives:
// nothing is module-global, so any number of clusters live side by side in one process.

export const SERVED_VERSION: ServerVersion = { major: '1', minor: '33', gitVersion: 'v1.33.1' };

export interface ClusterNode extends NodeInfo { role: 'control-plane' | 'worker' }

export interface DataPlane {
  runtime: PodRuntime;
  /** The argv prefix that runs a command inside a pod's container (exec, attach). */
  enter(pod: KubeObject, netns: string, container: string): Promise<LaunchSpec>;
  /** The argv prefix that runs a command in a node's network namespace (the API server's proxy dials from the control-plane's). */
  enterNode(node: string): Promise<LaunchSpec>;
  clusterDNS: string;
  clusterDomain: string;
  podCIDR: string;
  nodeResolvConf: string;
  /** Where CoreDNS's records live (handed to the CoreDNS pods). */
  dnsDir: string;
  /** Environment every container gets from the lab (where its programs find the lab's files). */
  env: Record<string, string>;
  /** Where images' programs are looked up. */
  imagePath: string;
  /** The network that delivers load-balancer addresses to nodes (none: LoadBalancer Services stay pending). */
  loadBalancers?: LoadBalancerNetwork;
}

export interface ClusterOptions {
  name: string;
  version?: ServerVersion;
  caCert: string;
  /** The admin credential (the kubeconfig's token). */
  token: string;
  nodes: ClusterNode[];
  /** The API server's address inside the cluster (the `kubernetes` Service's endpoint). */
  apiEndpoint: { ip: string; port: number };
  /** Where the objects are kept (etcd's job): written shortly after every change, read back on start. */
  stateFile?: string;
  dataPlane?: DataPlane;
  log?(message: string): void;
  now?(): Date;
}

export function nodeObject(n: ClusterNode, version: ServerVersion, now: string): KubeObject {
  const labels: Record<string, string> = {
    'beta.kubernetes.io/arch': 'amd64', 'beta.kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64',
    'kubernetes.io/hostname': n.name, 'kubernetes.io/os': 'linux', 'netdojo.io/node': n.name,
  };
  if (n.role === 'control-plane') { labels['node-role.kubernetes.io/control-plane'] = ''; labels['node.kubernetes.io/exclude-from-external-load-balancers'] = ''; }
  const cond = (type: string, status: string, reason: string, message: string) => ({ type, status, lastHeartbeatTime: now, lastTransitionTime: now, reason, message });
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: n.name, labels, annotations: { 'kubeadm.alpha.kubernetes.io/cri-socket': 'unix:///run/containerd/containerd.sock', 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' } },
    spec: { podCIDR: n.podCIDR, podCIDRs: [n.podCIDR], providerID: `kind://docker/kind/${n.name}`, ...(n.role === 'control-plane' ? { taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] } : {}) },
    status: {
      addresses: [{ type: 'InternalIP', address: n.ip }, { type: 'Hostname', address: n.name }],
      allocatable: { cpu: '2', 'ephemeral-storage': '263112772Ki', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '24554924Ki', pods: '110' },
      capacity: { cpu: '2', 'ephemeral-storage': '263112772Ki', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '24554924Ki', pods: '110' },
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        architecture: 'amd64', bootID: randomBytes(16).toString('hex'), containerRuntimeVersion: 'containerd://2.1.1', kernelVersion: '6.1.0-netdojo',
        kubeProxyVersion: version.gitVersion, kubeletVersion: version.gitVersion, machineID: randomBytes(16).toString('hex'),
        operatingSystem: 'linux', osImage: 'Debian GNU/Linux 12 (bookworm)', systemUUID: randomBytes(16).toString('hex'),
      },
    },
  };
}

/** The kinds every lab serves before any CustomResourceDefinition: what base manifests may hold. */
const BUILTIN_KINDS = new KindRegistry();

/** The objects of a multi-document YAML text, in order; names the document on an error. */
export function parseManifests(text: string, source: string): KubeObject[] {
  return parseAllDocuments(text).flatMap((doc, i) => {
    if (doc.errors.length) throw new Error(`${source}: document ${i + 1}: ${doc.errors[0].message}`);
    const o = doc.toJSON() as KubeObject | null;
    if (!o) return [];
    if (!BUILTIN_KINDS.byApiVersion(o.apiVersion, o.kind)) throw new Error(`${source}: document ${i + 1}: ${o.apiVersion}/${o.kind} is not a kind this lab serves`);
    return [o];
  });
}

/** What every netns lab starts with: kind's own objects, then the labs' workloads. */
let parsedBase: KubeObject[] | undefined;

/** The base cluster's objects (parsed once per process: every lab starts from them). */
export function baseManifests(): KubeObject[] {
  parsedBase ??= (['system.yaml', 'workloads.yaml'] as const).flatMap((f) => parseManifests(readManifest(f), `manifests/${f}`));
  return clone(parsedBase);
}

export class Cluster {
  /** The kinds this lab serves: built-in, and those its CustomResourceDefinitions establish. */
  readonly kinds = new KindRegistry();
  readonly store = new ObjectStore(this.kinds);
  readonly api: ClusterApi;
  readonly rest: RestHandler;
  readonly version: ServerVersion;
  /** Signs service account tokens; derived from the lab's credential, so tokens outlive a restart of the host. */
  private readonly signingKey: Buffer;
  private running: { spec: ControllerSpec; run: RunningController }[] = [];
  private servers: Server[] = [];
  /** Connections taken over by exec, attach and port-forward. */
  private upgraded = new Set<Duplex>();
  /** When the cluster last changed, from the start of its controllers on. */
  private clock?: ChangeClock;

  constructor(readonly opts: ClusterOptions) {
    this.version = opts.version ?? SERVED_VERSION;
    this.signingKey = createHmac('sha256', opts.token).update('serviceaccount-tokens').digest();
    this.api = new ClusterApi(this.store, this.kinds, { admit, patch: applyPatch, now: opts.now ?? (() => new Date()) });
    const dp = opts.dataPlane;
    this.rest = new RestHandler({
      api: this.api,
      docs: (path, q, accept) => serveDocs(path, q, accept, this.version, this.kinds),
      table: (kind, objects, o) => toTable(kind, objects, { now: o.now, resourceVersion: o.resourceVersion, noHeaders: o.noHeaders, includeObject: o.includeObject === 'None' ? 'Metadata' : o.includeObject }),
      authenticate: (token) => (token === opts.token ? ADMIN : token === undefined ? undefined : tokenUser(this.signingKey, token)),
      logs: dp ? (req, res, pod, q) => this.logs(req, res, pod, q, dp) : undefined,
      stream: dp ? (req, socket, head, pod, sub, q) => this.stream(req, socket, head, pod, sub, q, dp) : undefined,
      proxy: dp ? (req, res, target, search) => this.proxy(req, res, target, search, dp) : undefined,
      token: (sa, request) => answerTokenRequest(this.signingKey, sa, request, (ns, name) => this.api.get('Pod', ns, name)),
    });
  }

  /** The container a request names, or the pod's default one; 400 for one the pod does not have. */
  private containerOf(pod: KubeObject, name: string | undefined): string {
    const spec = pod.spec as { containers: { name: string }[]; ephemeralContainers?: { name: string }[]; initContainers?: { name: string }[] };
    const all = [...spec.containers, ...(spec.initContainers ?? []), ...(spec.ephemeralContainers ?? [])].map((c) => c.name);
    const chosen = name ?? pod.metadata.annotations?.['kubectl.kubernetes.io/default-container'] ?? spec.containers[0].name;
    if (!all.includes(chosen)) {
      throw new ApiError(400, 'BadRequest', `container ${chosen} is not valid for pod ${pod.metadata.name}`);
    }
    return chosen;
  }

  private netnsOf(pod: KubeObject): string {
    return podNetns(pod.metadata.namespace!, pod.metadata.name!);
  }

  private async logs(_req: IncomingMessage, res: ServerResponse, pod: KubeObject, q: URLSearchParams, dp: DataPlane): Promise<void> {
    const opts = parseLogQuery(q, pod.metadata.name!);
    const container = this.containerOf(pod, opts.container);
    const current = containerLogPath(dp.runtime.dataDir, this.netnsOf(pod), container);
    // A follow ends when the pod goes away, as the kubelet closes the stream.
    const done = new Promise<void>((resolve) => {
      const stop = this.store.subscribe(undefined, (e) => { if (e.kind === 'Pod' && e.object.metadata.uid === pod.metadata.uid && e.type === 'DELETED') { stop(); resolve(); } });
      res.on('close', () => { stop(); resolve(); });
    });
    await streamLog(res, { pod: pod.metadata.name!, container, files: { current, previous: `${current}.previous` } }, opts, done);
  }

  private async proxy(req: IncomingMessage, res: ServerResponse, target: ProxyPath, search: string, dp: DataPlane): Promise<void> {
    const { address, port } = proxyDestination({ get: (kind, ns, name) => this.api.get(kind, ns, name) }, target);
    const launch = await dp.enterNode(this.opts.nodes.find((n) => n.role === 'control-plane')!.name);
    await proxyHttp(req, res, relayTo(launch, address, port), `${address}:${port}`, `${target.path}${search}`, (e) => sendStatus(res, e));
  }

  private stream(req: IncomingMessage, socket: Duplex, head: Buffer, pod: KubeObject, sub: StreamSubresource, q: URLSearchParams, dp: DataPlane): void {
    if (sub === 'portforward') {
      // The runtime connects from the pod's network namespace: the relay enters it as exec enters
      // the pod's first container (the namespace is the pod's, whichever container).
      const netns = this.netnsOf(pod);
      const sandbox = createHash('sha256').update(`sandbox:${pod.metadata.uid}`).digest('hex');
      void dp.enter(pod, netns, this.containerOf(pod, undefined)).then(
        (launch) => handlePortForwardUpgrade(req, socket, head, { sandbox, dial: relayToLocalhost(launch, { path: `/var/run/netns/${netns}`, sandbox }) }),
        (e) => socket.destroy(e as Error));
      return;
    }
    const container = this.containerOf(pod, q.get('container') ?? undefined);
    const phase = (pod.status as { phase?: string } | undefined)?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') throw new ApiError(400, 'BadRequest', `cannot exec into a container in a completed pod; current phase is ${phase}`);
    const exec = parseExecQuery(q, pod.metadata.namespace!, pod.metadata.name!, container);
    if (sub === 'attach') {
      // An interactive container's terminal is joined through its dtach socket; any other
      // container's attach is its output from now on, as the runtime streams it.
      const specs = [...(pod.spec as { containers: { name: string; stdin?: boolean }[] }).containers, ...((pod.spec as { ephemeralContainers?: { name: string; stdin?: boolean }[] }).ephemeralContainers ?? [])];
      const interactive = specs.find((c) => c.name === container)?.stdin;
      exec.command = interactive
        ? ['dtach', '-a', attachSocket(dp.runtime.dataDir, this.netnsOf(pod), container), '-E', '-z', '-r', 'winch']
        : ['tail', '-n', '0', '-F', containerLogPath(dp.runtime.dataDir, this.netnsOf(pod), container)];
      if (interactive && !exec.tty) throw new ApiError(400, 'BadRequest', `container ${container} has a terminal: attach with -t (kubectl attach -it ${pod.metadata.name})`);
    }
    if (sub === 'exec') {
      // The image's own executables (`/agnhost`, `/coredns`) run as the catalog's host programs
      // stand for them, as when the container started.
      const spec = pod.spec as { containers: { name: string; image?: string }[]; initContainers?: { name: string; image?: string }[]; ephemeralContainers?: { name: string; image?: string }[] };
      const image = [...spec.containers, ...(spec.initContainers ?? []), ...(spec.ephemeralContainers ?? [])].find((c) => c.name === container)?.image;
      const resolved = image ? resolveImage(image, { path: dp.imagePath }) : undefined;
      if (resolved?.ok) exec.command = hostArgv(resolved.program, exec.command);
    }
    void dp.enter(pod, this.netnsOf(pod), container).then(
      (launch) => handleStreamUpgrade(req, socket, head, exec, localSpawn(() => launch)),
      (e) => socket.destroy(e as Error));
  }

  private context(): ControllerContext {
    const log = this.opts.log ?? (() => undefined);
    return { api: this.api, event: eventRecorder(this.api), log };
  }

  private persist(): () => void {
    const file = this.opts.stateFile;
    if (!file) return () => undefined;
    let timer: NodeJS.Timeout | undefined;
    let writing = Promise.resolve();
    const write = () => {
      timer = undefined;
      const snapshot = this.store.snapshot();
      writing = writing.then(async () => {
        await writeFile(`${file}.tmp`, snapshot);
        await rename(`${file}.tmp`, file);
      }).catch((e) => this.opts.log?.(`could not save the cluster's objects: ${(e as Error).message}`));
    };
    const stop = this.store.subscribe(undefined, () => { timer ??= setTimeout(write, 100); });
    return () => { stop(); if (timer) { clearTimeout(timer); write(); } };
  }

  /** Objects saved by an earlier host of this cluster, if any: the cluster then resumes from them. */
  async restore(): Promise<boolean> {
    const file = this.opts.stateFile;
    if (!file) return false;
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (!text) return false;
    const saved = JSON.parse(text) as { resourceVersion: number; objects: { kind: ResourceKind; object: KubeObject }[] };
    this.store.load(saved.objects, saved.resourceVersion);
    return true;
  }

  private stopPersisting: () => void = () => undefined;
  private stopFollowing: () => void = () => undefined;

  /** Starts every controller; on a new cluster, registers the nodes and applies the base objects first. */
  async start(objects: KubeObject[]): Promise<void> {
    const resumed = await this.restore();
    this.stopFollowing = this.kinds.follow(this.store);
    this.stopPersisting = this.persist();
    this.clock = new ChangeClock(this.store);
    this.runControllers();
    if (!resumed) await this.createObjects(objects);
  }

  private runControllers(): void {
    const ctx = this.context();
    const specs: ControllerSpec[] = [...controllerManager({ caCert: this.opts.caCert })];
    const dp = this.opts.dataPlane;
    if (dp) {
      const kubeletOpts: KubeletOptions = {
        runtime: dp.runtime, nodes: () => this.opts.nodes, clusterDNS: dp.clusterDNS, clusterDomain: dp.clusterDomain,
        tokenFor: (pod) => podToken(this.signingKey, pod), caCert: this.opts.caCert, nodeResolvConf: dp.nodeResolvConf, env: dp.env, imagePath: dp.imagePath,
      };
      const nodes = () => this.opts.nodes.map((n) => n.name);
      specs.push(kubelet(kubeletOpts), kubeProxy({ runtime: dp.runtime, nodes: () => this.opts.nodes, clusterCIDR: dp.podCIDR }), networkPolicies({ runtime: dp.runtime, nodes: () => this.opts.nodes }),
        kindnetCniConfig({ runtime: dp.runtime, nodes: () => this.opts.nodes }), dnsRecords({ dir: dp.dnsDir, domain: dp.clusterDomain }));
      if (dp.loadBalancers) specs.push(loadBalancers({ network: dp.loadBalancers, nodes }));
    }
    this.running = specs.map((spec) => ({ spec, run: runController(spec, ctx) }));
  }

  private async createObjects(objects: KubeObject[]): Promise<void> {
    const now = this.api.now().toISOString().replace(/\.\d+Z$/, 'Z');
    for (const n of this.opts.nodes) this.api.create('Node', undefined, nodeObject(n, this.version, now));
    // Namespaces first, then the objects that live in them.
    const ordered = [...objects.filter((o) => o.kind === 'Namespace'), ...objects.filter((o) => o.kind !== 'Namespace')];
    const k = kubernetesEndpoints(this.opts.apiEndpoint);
    for (const o of [...ordered, k.service, k.endpoints, k.endpointSlice]) {
      const served = this.kinds.byApiVersion(o.apiVersion, o.kind);
      if (!served) throw new Error(`${o.apiVersion}/${o.kind} is not a kind this lab serves`);
      if (served.kind === 'Namespace' && this.api.tryGet('Namespace', undefined, o.metadata.name!)) continue;
      this.api.create(served.kind, o.metadata.namespace ?? (served.info.namespaced ? 'default' : undefined), o);
    }
  }

  /** Resolves once no controller has work queued or running. */
  async settle(): Promise<void> {
    await Promise.all(this.running.map((r) => r.run.idle()));
  }

  /** Serves the API over TLS on each listen target (a TCP port on an address, or a unix socket path). */
  async listen(targets: ({ host: string; port: number } | { path: string })[], tls: { cert: string; key: string }): Promise<{ port?: number; path?: string }[]> {
    const out: { port?: number; path?: string }[] = [];
    for (const t of targets) {
      const server = createServer({ cert: tls.cert, key: tls.key, requestTimeout: 0 }, (req, res) => { void this.rest.handle(req, res); });
      server.on('upgrade', (req, socket, head) => {
        this.upgraded.add(socket);
        socket.once('close', () => this.upgraded.delete(socket));
        this.rest.upgrade(req, socket, head);
      });
      server.on('clientError', (_e, socket) => socket.destroy());
      // A socket left by a host that died would refuse the listen.
      if ('path' in t) await rm(t.path, { force: true });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        if ('path' in t) server.listen(t.path, resolve); else server.listen(t.port, t.host, resolve);
      });
      this.servers.push(server);
      const addr = server.address();
      out.push(typeof addr === 'string' ? { path: addr } : { port: addr?.port });
    }
    return out;
  }

  /** Whether the cluster has stopped moving (settled.ts); a cluster not started yet has just begun. */
  settledness(): Settledness {
    return this.clock?.settledness() ?? { quietMs: 0, unsettled: ['cluster: starting'] };
  }

  async stop(): Promise<void> {
    this.stopPersisting();
    this.stopFollowing();
    this.clock?.close();
    for (const r of this.running) r.run.stop();
    this.running = [];
    // A server's close waits for its upgraded connections too, and a port-forward from the host
    // lasts until its kubectl stops: they end with the cluster (their relays with them).
    for (const socket of this.upgraded) socket.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => { s.closeAllConnections(); s.close(() => resolve()); })));
    this.servers = [];
  }
}
