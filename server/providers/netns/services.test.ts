import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labsUnavailable, tempHome } from '../../../test/support/env.ts';
import { labDir, newLabId } from '../../lab/naming.ts';
import { baseTopology } from '../../lab/topology.ts';
import { INTERNET, LAPTOP, LOAD_BALANCER_POOL, SITES } from '../../lab/world.ts';
import { netnsProvider, type NetnsLab } from './index.ts';
import { worldDir } from './world.ts';
import { untilPrints } from '../../../test/support/until.ts';

// Services of every type and the world outside the cluster, in a real netns lab, with the real
// kubectl and real clients: the laptop outside the cluster, pods and nodes inside it.

const why = labsUnavailable();
if (why) console.warn(`skipping Service type tests: ${why}`);

const MANIFEST = `apiVersion: apps/v1
kind: Deployment
metadata: { name: echo }
spec:
  replicas: 1
  selector: { matchLabels: { app: echo } }
  template:
    metadata: { labels: { app: echo } }
    spec:
      nodeSelector: { kubernetes.io/hostname: worker }
      containers:
        - name: agnhost
          image: registry.k8s.io/e2e-test-images/agnhost:2.53
          args: [netexec, --http-port=8080]
          readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 1 }
---
apiVersion: v1
kind: Service
metadata: { name: echo-nodeport }
spec: { type: NodePort, selector: { app: echo }, ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: echo-local }
spec: { type: LoadBalancer, externalTrafficPolicy: Local, selector: { app: echo }, ports: [{ port: 80, targetPort: 8080, nodePort: 30081 }] }
---
apiVersion: v1
kind: Service
metadata: { name: echo-internal }
spec: { internalTrafficPolicy: Local, selector: { app: echo }, ports: [{ port: 80, targetPort: 8080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: web-sticky }
spec: { sessionAffinity: ClientIP, selector: { app: web }, ports: [{ port: 80, targetPort: 8080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: db }
spec: { clusterIP: None, selector: { app: db }, ports: [{ name: tcp-pg, port: 5432, targetPort: 8080 }] }
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: db }
spec:
  serviceName: db
  replicas: 2
  selector: { matchLabels: { app: db } }
  template:
    metadata: { labels: { app: db } }
    spec:
      containers:
        - name: agnhost
          image: registry.k8s.io/e2e-test-images/agnhost:2.53
          args: [netexec, --http-port=8080]
---
apiVersion: v1
kind: Pod
metadata: { name: warming, labels: { app: warming } }
spec:
  containers:
    - name: agnhost
      image: registry.k8s.io/e2e-test-images/agnhost:2.53
      args: [netexec, --http-port=8080]
      readinessProbe: { exec: { command: ['false'] }, periodSeconds: 1 }
---
apiVersion: v1
kind: Service
metadata: { name: peers }
spec: { clusterIP: None, publishNotReadyAddresses: true, selector: { app: warming }, ports: [{ port: 8080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: search }
spec: { type: ExternalName, externalName: www.google.com }
`;

describe.skipIf(why)('Service types and the world outside a netns lab', () => {
  const home = tempHome();
  let lab: NetnsLab;

  beforeAll(async () => {
    process.env.NETDOJO_HOME = home.dir;
    lab = await netnsProvider.create(baseTopology(), { id: newLabId(), scenario: 'test', seed: 1 });
    const applied = await lab.exec('admin', ['kubectl', 'apply', '-f', '-'], { stdin: MANIFEST, timeoutMs: 30_000 });
    expect(applied.code, applied.stderr).toBe(0);
    const ready = await lab.exec('admin', ['sh', '-c', 'kubectl rollout status deploy/echo --timeout=60s && kubectl rollout status sts/db --timeout=60s'], { timeoutMs: 70_000 });
    expect(ready.code, ready.stdout + ready.stderr).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await lab?.destroy();
    home.remove();
  });

  const sh = async (target: string, script: string) => {
    const r = await lab.exec(target, ['bash', '-c', script], { timeoutMs: 60_000 });
    return { ...r, out: r.stdout.trim() };
  };
  const until = (target: string, script: string, pattern: RegExp, ms = 20_000) =>
    untilPrints(async () => (await sh(target, script)).out, pattern, `${script} on ${target}`, ms);
  /** What agnhost saw as the client's address:port, or "no answer". */
  const clientIP = async (from: string, url: string) => (await sh(from, `curl -sS -m 2 ${url}/clientip || echo "no answer"`)).out.replace(/:\d+$/, '');
  const [cp, worker] = baseTopology().nodes;

  it('serves a NodePort on every node, to the laptop, pods and nodes, masquerading under externalTrafficPolicy Cluster', async () => {
    const svc = await sh('admin', 'kubectl get svc echo-nodeport --no-headers');
    expect(svc.out).toMatch(/^echo-nodeport\s+NodePort\s+10\.96\.\d+\.\d+\s+<none>\s+80:30080\/TCP\s+\S+$/);
    // From the laptop, through the node without the endpoint: SNAT to that node, so the reply comes back through it.
    expect(await clientIP(LAPTOP.name, `http://${cp.ip}:30080`)).toBe(cp.ip);
    expect(await clientIP(LAPTOP.name, `http://${worker.ip}:30080`)).not.toBe(LAPTOP.ip);
    expect(await clientIP('default/client-control-plane', `http://${worker.ip}:30080`)).not.toBe('no answer');
    expect(await clientIP('control-plane', `http://${worker.ip}:30080`)).not.toBe('no answer');
  });

  it('gives a LoadBalancer an address from the pool that the laptop reaches, keeping its address under externalTrafficPolicy Local', async () => {
    const lbIP = await until('admin', "kubectl get svc echo-local -o jsonpath='{.status.loadBalancer.ingress[0].ip}'", /^172\.18\.255\.\d+$/);
    expect(lbIP).toBe(LOAD_BALANCER_POOL.first);
    const row = (await sh('admin', 'kubectl get svc echo-local --no-headers')).out;
    expect(row).toMatch(new RegExp(`^echo-local\\s+LoadBalancer\\s+10\\.96\\.\\d+\\.\\d+\\s+${lbIP.replaceAll('.', '\\.')}\\s+80:30081/TCP\\s+\\S+$`));
    expect((await sh('admin', 'kubectl describe svc echo-local')).out).toMatch(/HealthCheck NodePort:\s+\d+\nEvents:[\s\S]*Normal\s+EnsuringLoadBalancer\s+\S+\s+service-controller\s+Ensuring load balancer\n\s+Normal\s+EnsuredLoadBalancer\s+\S+\s+service-controller\s+Ensured load balancer/);
    expect(await clientIP(LAPTOP.name, `http://${lbIP}`)).toBe(LAPTOP.ip);
    // The NodePort of a Local Service: the node with the endpoint keeps the client's address; the other drops.
    expect(await clientIP(LAPTOP.name, `http://${worker.ip}:30081`)).toBe(LAPTOP.ip);
    expect(await clientIP(LAPTOP.name, `http://${cp.ip}:30081`)).toBe('no answer');
    const drop = await sh('control-plane', 'iptables-save -t filter | grep "default/echo-local has no local endpoints"');
    expect(drop.out).toContain('-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "default/echo-local has no local endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 30081 -j DROP');
    // A pod on that node still gets through: pod traffic to external destinations is short-circuited.
    expect(await clientIP('default/client-control-plane', `http://${cp.ip}:30081`)).toMatch(/^10\.244\.0\.\d+$/);
    // A ClusterIP Service has no external address: the address goes back to the pool, the laptop loses it.
    expect((await sh('admin', 'kubectl patch svc echo-local -p \'{"spec":{"type":"ClusterIP","externalTrafficPolicy":null}}\'')).code).toBe(0);
    await until('admin', 'kubectl get svc echo-local --no-headers', /^echo-local\s+ClusterIP\s+\S+\s+<none>\s+80\/TCP/);
    await until(LAPTOP.name, `curl -sS -m 1 http://${lbIP}/clientip 2>&1 || true`, /timed out|Connection refused|No route/);
  });

  it('lets only the loadBalancerSourceRanges reach a load-balancer address', async () => {
    await sh('admin', 'kubectl expose deploy web --name web-ranges --type LoadBalancer --port 80 --target-port 8080 --overrides \'{"spec":{"loadBalancerSourceRanges":["10.0.0.0/8"]}}\'');
    const ip = await until('admin', "kubectl get svc web-ranges -o jsonpath='{.status.loadBalancer.ingress[0].ip}'", /^172\.18\.255\.\d+$/);
    await until('default/client-worker', `curl -sS -m 1 http://${ip}/hostname`, /^web-/);
    expect((await sh(LAPTOP.name, `curl -sS -m 1 http://${ip}/hostname 2>&1 || true`)).out).toMatch(/timed out/);
    await sh('admin', 'kubectl patch svc web-ranges -p \'{"spec":{"loadBalancerSourceRanges":["10.0.0.0/8","192.168.1.0/24"]}}\'');
    await until(LAPTOP.name, `curl -sS -m 1 http://${ip}/hostname 2>&1 || true`, /^web-/);
  });

  it('keeps ClusterIP traffic on its node under internalTrafficPolicy Local', async () => {
    expect(await clientIP('default/client-worker', 'http://echo-internal')).toMatch(/^10\.244\.1\.\d+$/);
    expect(await clientIP('default/client-control-plane', 'http://echo-internal')).toBe('no answer');
  });

  it('pins a client to one endpoint under sessionAffinity ClientIP', async () => {
    const seen = new Set((await sh('default/client-worker', 'for i in $(seq 20); do curl -sS -m2 http://web-sticky/hostname; echo; done')).out.split('\n'));
    expect(seen.size).toBe(1);
    const unsticky = new Set((await sh('default/client-worker', 'for i in $(seq 40); do curl -sS -m2 http://web/hostname; echo; done')).out.split('\n'));
    expect(unsticky.size).toBe(2);
  });

  it('answers headless, StatefulSet, pod and ExternalName names as CoreDNS does', async () => {
    const pods = JSON.parse((await sh('admin', 'kubectl get pods -l app=db -o json')).out) as { items: { metadata: { name: string }; status: { podIP: string } }[] };
    const ips = pods.items.map((p) => p.status.podIP).sort();
    const ipOf = (name: string) => pods.items.find((p) => p.metadata.name === name)!.status.podIP;
    const exactly = (lines: string[]) => new RegExp(`^${lines.map((l) => l.replaceAll('.', '\\.')).join('\\n')}$`);
    // CoreDNS follows the API by a watch: the records come a moment after the pods are ready.
    const dig = (q: string, want: string[]) => until('default/client-worker', `dig +short ${q} | sort`, exactly(want));
    await dig('db.default.svc.cluster.local', ips);
    await dig('db-0.db.default.svc.cluster.local', [ipOf('db-0')]);
    // A headless Service's SRV records carry its endpoints' ports (CoreDNS answers from the EndpointSlices).
    await dig('SRV _tcp-pg._tcp.db.default.svc.cluster.local', ['0 50 8080 db-0.db.default.svc.cluster.local.', '0 50 8080 db-1.db.default.svc.cluster.local.']);
    await dig(`${ips[0].replaceAll('.', '-')}.default.pod.cluster.local`, [ips[0]]);
    // publishNotReadyAddresses: a pod that never gets ready still has its record (peers finding each other at start).
    const warming = (await until('admin', "kubectl get pod warming -o jsonpath='{.status.podIP}'", /^10\.244\./));
    expect((await sh('admin', "kubectl get pod warming -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}'")).out).toBe('False');
    await dig('peers.default.svc.cluster.local', [warming]);
    // ExternalName: the CNAME, and the target's address from upstream, as CoreDNS answers it.
    await dig('search.default.svc.cluster.local', [SITES.find((x) => x.names.includes('www.google.com'))!.ip, 'www.google.com.']);
    expect((await sh('default/client-worker', 'curl -sS -m 3 http://search/ | grep -o "<title>.*</title>"')).out).toBe('<title>Google</title>');
  });

  it('resolves and reaches the internet from pods, masqueraded by the node and then the host', async () => {
    const example = SITES.find((s) => s.names.includes('example.com'))!;
    expect((await sh('default/client-worker', 'nslookup example.com')).out).toMatch(new RegExp(`Name:\\s+example\\.com\\nAddress: ${example.ip.replaceAll('.', '\\.')}`));
    expect((await sh('default/client-worker', 'curl -sS -m 3 http://example.com/')).out).toContain('<title>Example Domain</title>');
    expect((await sh('default/client-worker', 'dig +time=2 +tries=1 no-such-name.example.org')).out).toContain('status: NXDOMAIN');
    // The internet sees the host's address: the node masqueraded the pod, the host the node.
    const log = readFileSync(join(worldDir(labDir(lab.record.id)), 'nginx-access.log'), 'utf8').trim().split('\n').at(-1)!;
    expect(log.split(' ')[0]).toBe(INTERNET.routerIP);
    // Addresses nobody routes go nowhere, unanswered.
    expect((await sh('default/client-worker', 'curl -sS -m 1 http://198.51.100.7/ 2>&1; true')).out).toMatch(/timed out/);
  });

  it('shows Service flows in the nodes\' conntrack tables', async () => {
    await sh('default/client-worker', 'curl -sS -m2 http://echo-nodeport/clientip');
    const ct = await sh('worker', 'conntrack -L -p tcp --dport 80 2>/dev/null');
    const clusterIP = (await sh('admin', "kubectl get svc echo-nodeport -o jsonpath='{.spec.clusterIP}'")).out;
    expect(ct.out).toMatch(new RegExp(`src=10\\.244\\.1\\.\\d+ dst=${clusterIP.replaceAll('.', '\\.')} sport=\\d+ dport=80 src=10\\.244\\.1\\.\\d+ dst=10\\.244\\.1\\.\\d+ sport=8080`));
  });

  it('moves kube-proxy to the mode its ConfigMap names on a rollout restart, failing as kube-proxy fails where the kernel lacks it', async () => {
    const setMode = (from: string, to: string) => sh('admin', `kubectl -n kube-system get cm kube-proxy -o yaml | sed 's/mode: ${from}/mode: ${to}/' | kubectl apply -f - && kubectl -n kube-system rollout restart ds kube-proxy`);
    const hasIPVS = (await sh('worker', 'test -e /proc/net/ip_vs && echo yes || echo no')).out === 'yes';
    expect((await setMode('iptables', 'ipvs')).code).toBe(0);
    await until('admin', 'kubectl -n kube-system get pods -l k8s-app=kube-proxy --no-headers', /^(kube-proxy-\S+\s+0\/1\s+(CrashLoopBackOff|Error)\s.*\n?){2}$/, 40_000);
    expect((await sh('admin', 'kubectl -n kube-system logs ds/kube-proxy --tail=1')).out)
      .toMatch(hasIPVS ? /"command failed" err="the ipvs mode is not built in this lab/ : /^E\d{4} [\d:.]+\s+1 run\.go:72\] "command failed" err="can't use the IPVS proxier: IPVS proxier will not be used because the kernel has no IP Virtual Server support \(ip_vs\)"$/);
    // With no kube-proxy running, a new Service reaches no node's rules.
    await sh('admin', 'kubectl create service clusterip late --tcp=80:8080 && kubectl set selector svc late app=web');
    const late = (await sh('admin', "kubectl get svc late -o jsonpath='{.spec.clusterIP}'")).out;
    expect((await sh('worker', 'iptables-save -t nat')).out).not.toContain(late);
    expect((await setMode('ipvs', 'iptables')).code).toBe(0);
    await until('admin', 'kubectl -n kube-system rollout status ds kube-proxy --timeout=5s', /successfully rolled out/, 40_000);
    expect((await sh('admin', 'kubectl -n kube-system logs ds/kube-proxy')).out).toContain('"Using iptables proxy"');
    await until('default/client-worker', `curl -sS -m 1 http://${late}/hostname`, /^web-/);
  });

  const notRoot = process.getuid?.() !== 0 ? 'watching the host\'s interfaces needs root' : spawnSync('sh', ['-c', 'command -v tcpdump'], { env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin` } }).status !== 0 ? 'tcpdump is missing' : undefined;
  it.skipIf(notRoot)(`sends nothing outside its sandbox, whatever its pods and laptop do${notRoot ? ` (skipped: ${notRoot})` : ''}`, async () => {
    // Addresses only a lab uses: the internet's sites, the laptop, the load-balancer pool.
    const filter = `net ${INTERNET.routerIP.replace(/\.\d+$/, '.0')}/24 or host ${LAPTOP.ip} or net 172.18.255.192/26`;
    const dump = spawn('tcpdump', ['-i', 'any', '-n', '-l', '--immediate-mode', filter], { env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin` } });
    let err = '';
    await new Promise<void>((resolve, reject) => {
      dump.stderr.on('data', (b) => { err += b; if (err.includes('listening on')) resolve(); });
      dump.once('exit', () => reject(new Error(`tcpdump ended: ${err}`)));
    });
    let seen = '';
    dump.stdout.on('data', (b) => { seen += b; });
    await sh('default/client-worker', 'curl -sS -m2 http://example.com/ >/dev/null; curl -sS -m2 http://google.com/ >/dev/null; true');
    await sh(LAPTOP.name, `curl -sS -m2 http://${worker.ip}:30080/ >/dev/null; curl -sS -m2 http://api.github.com/ >/dev/null; true`);
    const ended = new Promise<void>((resolve) => dump.once('exit', () => resolve()));
    dump.kill('SIGINT');
    await ended;
    expect(err).toMatch(/0 packets captured/);
    expect(seen.trim()).toBe('');
  });
});
