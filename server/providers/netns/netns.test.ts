import { setTimeout as delay } from 'node:timers/promises';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import pty from '@lydell/node-pty';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostNetns, kubectlMinors, labsUnavailable, tempHome } from '../../../test/support/env.ts';
import { labDir, newLabId } from '../../lab/naming.ts';
import { baseTopology } from '../../lab/topology.ts';
import { netnsProvider, type NetnsLab } from './index.ts';
import { untilPrints } from '../../../test/support/until.ts';
import { existingLabCgroup } from './cgroups.ts';
import { unhostLab } from './clusterd.ts';
import { probeHost } from './limits.ts';
import { DEFAULT_RETRY_POLICY } from '../../../grader/run.ts';
import { hasSettled } from '../../../grader/settle.ts';

// A real netns lab, driven the way a learner drives it: the real kubectl from a node tab, a pod tab
// and the admin shell, and the real tools in pods, asserting both what kubectl prints and what the
// data plane does.

const why = labsUnavailable();
if (why) console.warn(`skipping real netns lab tests: ${why}`);

describe.skipIf(why)('a real netns lab', () => {
  const home = tempHome();
  let lab: NetnsLab;
  let hostBefore: string;

  beforeAll(async () => {
    process.env.NETDOJO_HOME = home.dir;
    hostBefore = hostNetns();
    lab = await netnsProvider.create(baseTopology(), { id: newLabId(), scenario: 'test', seed: 1 });
  });
  afterAll(async () => {
    await lab?.destroy();
    home.remove();
  });

  const sh = async (target: string, script: string) => {
    const r = await lab.exec(target, ['bash', '-c', script], { timeoutMs: 60_000 });
    return { ...r, out: r.stdout.trim() };
  };
  const kubectl = (target: string, args: string) => sh(target, `kubectl ${args}`);
  /** Polls a script until its output matches (a controller converges in well under a second). */
  const until = (target: string, script: string, pattern: RegExp, ms = 20_000) =>
    untilPrints(async () => (await sh(target, script)).out, pattern, `${script} on ${target}`, ms);
  const webPods = () => lab.facts.pods.filter((p) => p.app === 'web').map((p) => p.target.split('/')[1]).sort();

  it('reports the facts of a 2-node kind cluster, pods named as kubectl names them', () => {
    expect(lab.facts.nodes).toEqual([
      { name: 'control-plane', role: 'control-plane', ip: '172.18.0.2', podCIDR: '10.244.0.0/24' },
      { name: 'worker', role: 'worker', ip: '172.18.0.3', podCIDR: '10.244.1.0/24' },
    ]);
    expect(lab.facts.services.map((s) => [s.target, s.clusterIP])).toEqual([['default/web', '10.96.124.51'], ['kube-system/kube-dns', '10.96.0.10']]);
    expect(webPods()).toHaveLength(2);
    for (const p of webPods()) expect(p).toMatch(/^web-[a-z0-9]{8,10}-[a-z0-9]{5}$/);
    expect(lab.targets()).toEqual(expect.arrayContaining(['control-plane', 'worker', 'default/client-worker', 'default/client-control-plane']));
  });

  it('says when its cluster has settled, for the grader: quiet for a retry window with every pod Ready, and what is still in motion', async () => {
    // Asking costs the cluster host next to nothing: polled every 100 ms rather than in a tight loop.
    const ask = async () => { await delay(100); return lab.settled(); };
    const settled = async () => JSON.stringify(await ask() ?? null);
    // A new lab has just been written: it settles once nothing has changed for a retry window.
    await untilPrints(async () => String(hasSettled(await ask(), DEFAULT_RETRY_POLICY.windowMs)), /^true$/, 'the new lab settling', 30_000);
    // A pod whose readiness probe fails keeps it in motion: the probe may pass on its next run.
    const run = await kubectl('admin', `run unready --image=busybox --overrides='{"spec":{"containers":[{"name":"unready","image":"busybox","command":["sleep","3600"],"readinessProbe":{"exec":{"command":["false"]},"periodSeconds":1}}]}}'`);
    expect(run.code, run.stderr).toBe(0);
    await untilPrints(settled, /"unsettled":\["pod default\/unready: not Ready"\]/, 'the unready pod in motion');
    expect((await lab.settled())!.quietMs).toBeLessThan(DEFAULT_RETRY_POLICY.windowMs);
    expect((await kubectl('admin', 'delete pod unready --grace-period=0 --force')).code).toBe(0);
    await untilPrints(settled, /"unsettled":\[\]/, 'the lab with the pod gone');
  });

  it('kubectl works unconfigured on a node, in a pod and in the admin shell, with kubectl\'s own columns', async () => {
    for (const target of ['worker', 'default/client-worker', 'admin']) {
      const nodes = await kubectl(target, 'get nodes -o wide');
      expect(nodes.code, nodes.stderr).toBe(0);
      const [header, ...rows] = nodes.out.split('\n');
      expect(header.split(/\s{2,}/)).toEqual(['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION', 'INTERNAL-IP', 'EXTERNAL-IP', 'OS-IMAGE', 'KERNEL-VERSION', 'CONTAINER-RUNTIME']);
      expect(rows.map((r) => r.split(/\s+/).slice(0, 3).join(' '))).toEqual(['control-plane Ready control-plane', 'worker Ready <none>']);
    }
    const pods = await kubectl('default/client-control-plane', 'get pods -A -o wide');
    const [header, ...rows] = pods.out.split('\n');
    expect(header.split(/\s{2,}/)).toEqual(['NAMESPACE', 'NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE', 'NOMINATED NODE', 'READINESS GATES']);
    expect(rows).toHaveLength(10);
    for (const r of rows) expect(r.split(/\s+/).slice(2, 4)).toEqual(['1/1', 'Running']);
    const dns = await kubectl('admin', 'get pods -n kube-system -l k8s-app=kube-dns -o name');
    expect(dns.out.split('\n')).toHaveLength(2);
  });

  it('every kubectl minor this machine has from 1.30 on reads the same lab', async () => {
    const minors = [...kubectlMinors()].filter(([m]) => Number(m.split('.')[1]) >= 30);
    expect(minors.length).toBeGreaterThan(0);
    for (const [minor, bin] of minors) {
      const r = await sh('admin', `${bin} get svc -n kube-system kube-dns --no-headers && ${bin} -n kube-system get endpointslices -l kubernetes.io/service-name=kube-dns -o jsonpath='{.items[0].endpoints[*].conditions.ready}'`);
      expect(r.code, `${minor}: ${r.stderr}`).toBe(0);
      expect(r.out, minor).toMatch(/^kube-dns\s+ClusterIP\s+10\.96\.0\.10\s+<none>\s+53\/UDP,53\/TCP,9153\/TCP\s+\S+\ntrue true$/);
    }
  });

  it('a probe-image pod has its image\'s /opt/netdojo, writable and its own: web.py alone, as the kind build ships it', async () => {
    expect((await kubectl('admin', 'exec client-worker -- sh -c "ls -A /opt/netdojo; touch /opt/netdojo/mine && echo written"')).out).toBe('web.py\nwritten');
    expect((await kubectl('admin', 'exec client-control-plane -- ls -A /opt/netdojo')).out).toBe('web.py');
  });

  it('describe shows the kubelet\'s events, logs come from the containers', async () => {
    const coredns = lab.facts.pods.find((p) => p.app === 'coredns')!.target.split('/')[1];
    const d = await kubectl('admin', `-n kube-system describe pod ${coredns}`);
    expect(d.out).toMatch(/Status:\s+Running/);
    expect(d.out).toMatch(/Normal\s+Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned kube-system\/coredns-/);
    expect(d.out).toMatch(/Normal\s+Started\s+\S+\s+kubelet\s+Started container coredns/);
    const logs = await kubectl('admin', '-n kube-system logs -l k8s-app=kube-dns --tail=50');
    expect(logs.out).toMatch(/CoreDNS-\d+\.\d+\.\d+/);
    const proxy = await sh('admin', 'kubectl get configmap kube-proxy -n kube-system -o yaml | grep "mode:"');
    expect(proxy.out).toBe('mode: iptables');
  });

  it('resolves cluster names over UDP and TCP, through the search path too, from pods set up as kind sets them up', async () => {
    expect((await sh('default/client-worker', 'dig +short +time=2 +tries=1 web.default.svc.cluster.local')).out).toBe('10.96.124.51');
    expect((await sh('default/client-worker', 'dig +short +tcp +time=2 +tries=1 @10.96.0.10 kube-dns.kube-system.svc.cluster.local')).out).toBe('10.96.0.10');
    expect((await kubectl('admin', 'exec client-control-plane -- nslookup kubernetes.default')).out).toMatch(/Name:\s+kubernetes\.default\.svc\.cluster\.local\nAddress: 10\.96\.0\.1/);
    const r = await kubectl('admin', 'exec client-worker -- sh -c "hostname; cat /etc/resolv.conf"');
    expect(r.out).toBe('client-worker\nsearch default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5');
    expect(readFileSync('/etc/resolv.conf', 'utf8')).not.toContain('10.96.0.10');
    expect((await sh('worker', 'hostname; ip route')).out).toContain('10.244.0.0/24 via 172.18.0.2 dev eth0');
  });

  it('load-balances the web Service over a backend on each node, which report who they are', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 30 && seen.size < 2; i++) seen.add((await sh('default/client-worker', 'curl -sS -m2 http://web/hostname')).out);
    expect([...seen].sort()).toEqual(webPods());
    const ep = await kubectl('admin', 'get endpoints web --no-headers');
    expect(ep.out).toMatch(/^web\s+10\.244\.\d\.\d+:8080,10\.244\.\d\.\d+:8080\s/);
    // kube-proxy's own chain names and comments, on every node.
    const nat = await sh('control-plane', 'iptables-save -t nat');
    expect(nat.out).toContain('-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" -m udp --dport 53 -j KUBE-SVC-TCOU7JCQXEZGVUNU');
    expect(nat.out).toContain('-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
  });

  it('kubectl port-forward reaches a pod\'s port from the admin shell, through a Service\'s name too, and says what is refused', async () => {
    // kubectl picks a pod behind the Service and its target port itself; the connection is made
    // from inside the pod's network namespace, to localhost.
    const forward = (args: string, then: string) => sh('admin', `log=$(mktemp); kubectl port-forward ${args} >$log 2>&1 & pf=$!
      until grep -q -e '^Forwarding from 127.0.0.1' -e '^error' $log || ! kill -0 $pf 2>/dev/null; do sleep 0.05; done
      ${then}; kill $pf 2>/dev/null; wait $pf; cat $log; rm -f $log`);
    const svc = await forward('svc/web 18080:80', 'curl -sS -m5 http://127.0.0.1:18080/hostname; echo');
    expect(webPods(), svc.out + svc.stderr).toContain(svc.out.split('\n')[0]);
    expect(svc.out).toContain('Forwarding from 127.0.0.1:18080 -> 8080');
    expect(svc.out).toContain('Handling connection for 18080');
    const web = webPods()[0];
    const pod = await forward(`pod/${web} 18081:8080`, 'curl -sS -m5 http://127.0.0.1:18081/hostname; echo');
    expect(pod.out.split('\n')[0]).toBe(web);
    // Nothing listens on 9: the kubelet's error ends the port-forward.
    const refused = await forward(`pod/${web} 18082:9`, 'curl -sS -m5 http://127.0.0.1:18082/ 2>&1; wait $pf');
    expect(refused.out).toMatch(/an error occurred forwarding 18082 -> 9: error forwarding port 9 to pod [0-9a-f]{64}, uid : failed to execute portforward in network namespace \\"\/var\/run\/netns\/pod_default_web-[^"]+\\": failed to connect to localhost:9 inside namespace \\"[0-9a-f]{64}\\", IPv4: dial tcp4 127.0.0.1:9: connect: connection refused/);
    expect(refused.out).toContain('error: lost connection to pod');
  });

  it('scaling CoreDNS to zero makes DNS fail for real (refused), and scaling back restores it', async () => {
    expect((await kubectl('admin', '-n kube-system scale deploy/coredns --replicas=0')).out).toBe('deployment.apps/coredns scaled');
    await until('default/client-control-plane', 'dig +time=1 +tries=1 @10.96.0.10 web.default.svc.cluster.local', /connection refused/);
    // The pods may still be terminating (listed, not ready): no endpoint is ready.
    expect((await kubectl('admin', `-n kube-system get endpointslices -l kubernetes.io/service-name=kube-dns -o jsonpath='{.items[*].endpoints[?(@.conditions.ready==true)].addresses}'`)).out).toBe('');
    await kubectl('admin', '-n kube-system scale deploy/coredns --replicas=2');
    expect((await kubectl('admin', '-n kube-system rollout status deploy/coredns --timeout=30s')).out).toContain('successfully rolled out');
    await until('default/client-control-plane', 'dig +short +time=1 +tries=1 @10.96.0.10 web.default.svc.cluster.local', /^10\.96\.124\.51$/);
  });

  it('kube-proxy clears the UDP flows of a DNS endpoint that went away, and only those', async () => {
    const pods = (await kubectl('admin', `-n kube-system get pods -l k8s-app=kube-dns -o jsonpath='{range .items[*]}{.metadata.name} {.status.podIP}{"\\n"}{end}'`)).out.split('\n').map((l) => l.split(' '));
    expect(pods).toHaveLength(2);
    // Queries from fixed source ports: each is a flow of its own, DNATed to one CoreDNS pod or the
    // other on the client's node, and kept there as a conntrack entry for 30 s.
    const queries = 'for p in $(seq 41000 41023); do dig +short +time=1 +tries=1 -b "0.0.0.0#$p" @10.96.0.10 web.default.svc.cluster.local >/dev/null; done';
    const flowsTo = async (ip: string) => Number((await sh('worker', `conntrack -L -p udp --orig-dst 10.96.0.10 --reply-src ${ip} 2>/dev/null | wc -l`)).out);
    const [[gone, goneIP], [, keptIP]] = pods;
    await untilPrints(async () => {
      await sh('default/client-worker', queries);
      return `${await flowsTo(goneIP) > 0} ${await flowsTo(keptIP) > 0}`;
    }, /^true true$/, 'flows to both CoreDNS pods', 30_000);
    const kept = await flowsTo(keptIP);
    expect((await kubectl('admin', `-n kube-system delete pod ${gone} --grace-period=0 --force`)).code).toBe(0);
    await untilPrints(async () => String(await flowsTo(goneIP)), /^0$/, `the flows NATed to ${goneIP}`);
    // The other endpoint served all along: its flows stay (kube-proxy clears what is stale, not all).
    expect(await flowsTo(keptIP)).toBe(kept);
    expect((await kubectl('admin', '-n kube-system rollout status deploy/coredns --timeout=30s')).out).toContain('successfully rolled out');
  });

  it('applies a Deployment, a Service and a NetworkPolicy, and the data plane follows', async () => {
    const manifest = `apiVersion: apps/v1
kind: Deployment
metadata: { name: echo, namespace: default }
spec:
  replicas: 2
  selector: { matchLabels: { app: echo } }
  template:
    metadata: { labels: { app: echo } }
    spec:
      containers:
        - name: echo
          image: registry.k8s.io/e2e-test-images/agnhost:2.53
          args: [netexec, --http-port=8080]
          ports: [{ containerPort: 8080, name: http }]
          readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 1 }
---
apiVersion: v1
kind: Service
metadata: { name: echo, namespace: default }
spec:
  selector: { app: echo }
  ports: [{ port: 80, targetPort: http }]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: echo-ingress, namespace: default }
spec:
  podSelector: { matchLabels: { app: echo } }
  ingress: [{ from: [{ podSelector: { matchLabels: { app: client } } }] }]
`;
    const applied = await sh('admin', `kubectl apply -f - <<'EOF'\n${manifest}EOF`);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.out.split('\n')).toEqual(['deployment.apps/echo created', 'service/echo created', 'networkpolicy.networking.k8s.io/echo-ingress created']);
    expect((await kubectl('admin', 'rollout status deploy/echo --timeout=30s')).out).toContain('successfully rolled out');
    await until('default/client-worker', 'curl -sS -m2 http://echo/hostname', /^echo-[a-z0-9]+-[a-z0-9]{5}$/);
    expect((await kubectl('admin', 'get networkpolicy -n default --no-headers')).out).toMatch(/^echo-ingress\s+app=echo\s+\S+$/);
    // Applying the same file again changes nothing.
    expect((await sh('admin', `kubectl apply -f - <<'EOF'\n${manifest}EOF`)).out.split('\n')).toEqual(['deployment.apps/echo unchanged', 'service/echo unchanged', 'networkpolicy.networking.k8s.io/echo-ingress unchanged']);
    expect((await kubectl('admin', 'delete deploy/echo svc/echo netpol/echo-ingress')).code).toBe(0);
    await until('admin', 'kubectl get pods -l app=echo -o name | wc -l', /^0$/);
  });

  it('a default-deny policy judges pod traffic as kindnet does: a node reaches its own pods, forwarded traffic is judged', async () => {
    const web = (node: string) => lab.facts.pods.find((p) => p.app === 'web' && p.node === node)!;
    const tcp = (host: string, port: number) => `timeout 2 bash -c 'exec 3<>/dev/tcp/${host}/${port}' && echo open || echo blocked`;
    const connect = (target: string, host: string, port: number) => sh(target, tcp(host, port));
    // "blocked" is also what a connect starved past its timeout prints (a loaded machine): an
    // expected "open" is polled for, an expected "blocked" is asserted once the policy is in place.
    const opens = (target: string, host: string, port: number) => until(target, tcp(host, port), /^open$/);
    const deny = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: default-deny, namespace: default }
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
`;
    await opens('default/client-worker', web('control-plane').ip, 8080);
    expect((await sh('admin', `kubectl apply -f - <<'EOF'\n${deny}EOF`)).code).toBe(0);
    try {
      // Pod to pod, on one node and across: both ends are judged, and nothing allows it.
      await until('default/client-worker', tcp(web('worker').ip, 8080), /^blocked$/);
      expect((await connect('default/client-worker', web('control-plane').ip, 8080)).out).toBe('blocked');
      // A node reaches the pods on it (kubelet probes: the web pods stay Ready), as kindnet lets
      // the node's own traffic through; from the other node, the packets are forwarded, and judged.
      await opens('control-plane', web('control-plane').ip, 8080);
      expect((await connect('worker', web('control-plane').ip, 8080)).out).toBe('blocked');
      // A pod reaches its own node (traffic to the node's addresses is never forwarded), but not
      // the API on the other node.
      await opens('default/client-control-plane', '172.18.0.2', 6443);
      expect((await connect('default/client-worker', '172.18.0.2', 6443)).out).toBe('blocked');
      // Every rule says where it comes from.
      const rules = (await sh('worker', 'iptables-save -t filter')).out;
      expect(rules).toMatch(/-A KUBE-NP-EGRESS -s 10\.244\.1\.\d+\/32 -m comment --comment "default\/client-worker is isolated for egress by default\/default-deny" -j KUBE-NP-EG-\w+/);
      expect(rules).toContain('--comment "no policy allows this egress from default/client-worker" -j DROP');
    } finally {
      expect((await kubectl('admin', 'delete networkpolicy default-deny')).code).toBe(0);
    }
    await opens('default/client-worker', web('control-plane').ip, 8080);
  });

  it('a kube-proxy restart recreates its pods and keeps every Service working', async () => {
    const before = (await kubectl('admin', '-n kube-system get pods -l k8s-app=kube-proxy -o name')).out;
    expect((await kubectl('admin', 'rollout restart daemonset kube-proxy -n kube-system')).out).toBe('daemonset.apps/kube-proxy restarted');
    expect((await kubectl('admin', '-n kube-system rollout status ds/kube-proxy --timeout=30s')).out).toContain('successfully rolled out');
    expect((await kubectl('admin', '-n kube-system get pods -l k8s-app=kube-proxy -o name')).out).not.toBe(before);
    expect((await sh('default/client-worker', 'curl -sS -m2 http://web/hostname')).out).toMatch(/^web-/);
  });

  it('a node that loses its CNI config goes NotReady: new pods wait for their network, running ones keep theirs, and kindnet restarted writes it back', async () => {
    const conflist = (await sh('worker', 'cat /etc/cni/net.d/10-kindnet.conflist')).out;
    expect(JSON.parse(conflist).plugins[0]).toMatchObject({ type: 'ptp', ipam: { type: 'host-local', ranges: [[{ subnet: '10.244.1.0/24' }]] } });
    await sh('worker', 'rm /etc/cni/net.d/10-kindnet.conflist');
    expect((await kubectl('admin', 'wait --for=condition=Ready=false node/worker --timeout=30s')).out).toBe('node/worker condition met');
    const notReady = 'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized';
    const node = await kubectl('admin', 'describe node worker');
    expect(node.out).toMatch(new RegExp(`Ready\\s+False\\s+.*KubeletNotReady\\s+${notReady}`));
    expect(node.out).toMatch(/Taints:\s+node\.kubernetes\.io\/not-ready:NoExecute\n\s+node\.kubernetes\.io\/not-ready:NoSchedule\n/);
    expect(node.out).toMatch(/Normal\s+NodeNotReady\s+\S+\s+kubelet\s+Node worker status is now: NodeNotReady/);
    expect((await kubectl('admin', 'get nodes worker --no-headers')).out).toMatch(/^worker\s+NotReady\s/);
    // A pod that tolerates the not-ready taint gets there, and waits for its network.
    await kubectl('admin', `run stuck --image=busybox --overrides='{"spec":{"nodeName":"worker","tolerations":[{"operator":"Exists"}]}}' -- sleep 3600`);
    await until('admin', 'kubectl describe pod stuck', new RegExp(`Warning\\s+NetworkNotReady\\s+.*kubelet\\s+network is not ready: ${notReady}`));
    expect((await kubectl('admin', 'get pod stuck -o wide --no-headers')).out).toMatch(/^stuck\s+0\/1\s+ContainerCreating\s+0\s+\S+\s+<none>\s+worker\s/);
    // Pods that ran there keep their network.
    const web = lab.facts.pods.find((p) => p.app === 'web' && p.node === 'control-plane')!;
    expect((await sh('default/client-worker', `curl -sS -m2 http://${web.ip}:8080/hostname`)).out).toBe(web.target.split('/')[1]);
    await kubectl('admin', '-n kube-system delete pod -l app=kindnet --field-selector spec.nodeName=worker');
    expect((await kubectl('admin', 'wait --for=condition=Ready node/worker --timeout=30s')).out).toBe('node/worker condition met');
    expect((await kubectl('admin', 'wait --for=condition=Ready pod/stuck --timeout=30s')).out).toBe('pod/stuck condition met');
    expect((await kubectl('admin', 'get pod stuck -o jsonpath={.status.podIP}')).out).toMatch(/^10\.244\.1\.\d+$/);
    expect((await sh('worker', 'cat /etc/cni/net.d/10-kindnet.conflist')).out).toBe(conflist);
    expect((await kubectl('admin', 'get node worker -o jsonpath={.spec.taints}')).out).toBe('');
    await kubectl('admin', 'delete pod stuck --grace-period=0');
  });

  /** kubectl on the host under a terminal, through `netdojo kubeconfig`: types `input` once `ready` shows, returns the screen. */
  const interactive = async (args: string[], ready: RegExp, input: string, done: RegExp) => {
    const dir = mkdtempSync(join(tmpdir(), 'netdojo-tty-'));
    writeFileSync(join(dir, 'config'), await netnsProvider.kubeconfig(lab.facts.id));
    const term = pty.spawn('kubectl', args, { cols: 120, rows: 30, env: { ...process.env, KUBECONFIG: join(dir, 'config'), KUBECACHEDIR: join(dir, 'cache') } });
    let screen = '';
    let typed = false;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => { term.kill(); reject(new Error(`kubectl ${args.join(' ')}: no ${done} in: ${screen}`)); }, 60_000);
      term.onExit(() => rmSync(dir, { recursive: true, force: true }));
      term.onData((d) => {
        screen += d;
        if (!typed && ready.test(screen)) { typed = true; term.write(input); }
      });
      term.onExit(() => { clearTimeout(timer); done.test(screen) ? resolve(screen) : reject(new Error(`kubectl ${args.join(' ')} ended without ${done}: ${screen}`)); });
    });
  };

  it('kubectl run -it --rm gives a shell in a new pod, and removes it after', async () => {
    const screen = await interactive(['run', '-it', '--rm', '--image=nicolaka/netshoot', 'network-debug', '--', '/bin/bash'],
      /If you don't see a command prompt/, 'echo inside-$((40+2)) $(hostname)\rexit\r', /pod "network-debug" deleted/);
    expect(screen).toContain('inside-42 network-debug');
    // kubectl run --rm deletes and does not wait: the pod may still be terminating, then it is gone.
    await until('admin', 'kubectl get pod network-debug 2>&1', /NotFound/);
  });

  it('kubectl debug runs an ephemeral container in the pod\'s network namespace', async () => {
    const web = lab.facts.pods.find((p) => p.app === 'web' && p.node === 'worker')!;
    const screen = await interactive(['debug', '-it', web.target.split('/')[1], '--image=nicolaka/netshoot', '--target=web', '--', 'bash'],
      /If you don't see a command prompt/, 'ip -4 -o addr show eth0\rexit\r', /Session ended/);
    expect(screen).toContain(`inet ${web.ip}/24`);
    const statuses = JSON.parse((await kubectl('admin', `get pod ${web.target.split('/')[1]} -o jsonpath={.status.ephemeralContainerStatuses}`)).out);
    expect(statuses[0]).toMatchObject({ name: expect.stringMatching(/^debugger-/), image: 'docker.io/nicolaka/netshoot:latest' });
  });

  it('kubectl edit changes the Corefile, and CoreDNS reloads it', async () => {
    // The editor kubectl runs is a script, as a learner's vi would be: add a hosts entry CoreDNS then serves.
    const edit = await sh('admin', `EDITOR="sed -i 's/^\\( *\\)ready$/\\1ready\\n\\1hosts {\\n\\1  10.9.9.9 edited.example\\n\\1  fallthrough\\n\\1}/'" kubectl edit cm coredns -n kube-system`);
    expect(edit.code, edit.stderr).toBe(0);
    expect(edit.out).toBe('configmap/coredns edited');
    await until('default/client-worker', 'dig +short +time=1 +tries=1 edited.example', /^10\.9\.9\.9$/, 30_000);
    expect((await kubectl('admin', 'get ingress -A')).stderr.trim()).toBe('No resources found');
    const web = lab.facts.pods.find((p) => p.app === 'web')!.target.split('/')[1];
    expect((await kubectl('admin', `logs ${web}`)).code).toBe(0);
    expect((await kubectl('admin', `exec ${web} -- ping -c 1 -W 2 ${lab.facts.pods.find((p) => p.target === 'default/client-worker')!.ip}`)).out).toContain('1 packets transmitted, 1 received');
  });

  it('survives a crash of the cluster host: it comes back, keeps every object, and adopts the running pods', async () => {
    expect((await kubectl('admin', 'create configmap survivor --from-literal=a=1')).code).toBe(0);
    // Pods still terminating from earlier tests may finish meanwhile: compare the others.
    const live = async () => (await kubectl('admin', 'get pods -A -o custom-columns=N:.metadata.name,R:.status.containerStatuses[0].restartCount,UID:.metadata.uid,D:.metadata.deletionTimestamp --no-headers')).out
      .split('\n').filter((l) => l.trim().endsWith('<none>')).join('\n');
    const before = await live();
    // The objects are saved shortly after each change (as etcd would have them).
    await until('admin', `grep -c '"survivor"' ${join(home.dir, 'labs', lab.facts.id, 'cluster.json')}`, /^1$/);
    const host = Number(readFileSync(join(home.dir, 'clusterd.lock'), 'utf8'));
    process.kill(host, 'SIGKILL');
    await until('admin', 'kubectl get configmap survivor -o jsonpath={.data.a}', /^1$/, 30_000);
    expect(Number(readFileSync(join(home.dir, 'clusterd.lock'), 'utf8'))).not.toBe(host);
    expect(await live()).toBe(before);
    expect(before.split('\n').length).toBeGreaterThanOrEqual(10);
    expect((await sh('default/client-worker', 'curl -sS -m2 http://web/hostname')).out).toMatch(/^web-/);
  });

  it('kubectl exec runs in the container: its volumes and environment, the API in-cluster at 10.96.0.1 with its token', async () => {
    const r = await kubectl('admin', `exec client-worker -- sh -c 'echo $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT; curl -s --cacert /var/run/secrets/kubernetes.io/serviceaccount/ca.crt -H "Authorization: Bearer $(cat /var/run/secrets/kubernetes.io/serviceaccount/token)" https://$KUBERNETES_SERVICE_HOST/api/v1/namespaces/default/pods/client-worker'`);
    const [where, body] = r.out.split('\n');
    expect(where).toBe('10.96.0.1:443');
    expect(JSON.parse(body)).toMatchObject({ kind: 'Pod', metadata: { name: 'client-worker' } });
    // The token is the pod's service account, as `kubectl auth whoami` with it says.
    const whoami = await kubectl('admin', `exec client-worker -- sh -c 'curl -s --cacert /var/run/secrets/kubernetes.io/serviceaccount/ca.crt -H "Authorization: Bearer $(cat /var/run/secrets/kubernetes.io/serviceaccount/token)" -H "Content-Type: application/json" -d "{}" https://kubernetes.default.svc/apis/authentication.k8s.io/v1/selfsubjectreviews'`);
    expect(JSON.parse(whoami.out).status.userInfo).toMatchObject({ username: 'system:serviceaccount:default:default', groups: ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated'] });
    expect((await kubectl('admin', '-n kube-system exec deploy/coredns -- head -1 /etc/coredns/Corefile')).out).toBe('.:53 {');
  });

  it('answers unknown objects as the API server does', async () => {
    const r = await kubectl('admin', 'get pod nosuchpod');
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('Error from server (NotFound): pods "nosuchpod" not found');
  });

  it('creates nothing in the host\'s network namespaces or /run', () => {
    expect(hostNetns()).toBe(hostBefore);
    const hostRun = existsSync('/run/netns') ? readdirSync('/run/netns') : [];
    expect(hostRun.filter((n) => /^(control-plane|worker|pod_)/.test(n))).toEqual([]);
  });

  it('runs side by side with another lab, each with its own state and its own API', async () => {
    const other = await netnsProvider.create(baseTopology(), { id: newLabId(), scenario: 'test', seed: 2 });
    try {
      await other.exec('worker', ['ip', 'route', 'del', '10.244.0.0/24']);
      const there = await other.exec('default/client-worker', ['curl', '-sS', '-m1', `http://${other.facts.pods.find((p) => p.app === 'web' && p.node === 'control-plane')!.ip}:8080/hostname`], { timeoutMs: 10_000 });
      expect(there.code).not.toBe(0);
      const mine = lab.facts.pods.find((p) => p.app === 'web' && p.node === 'control-plane')!;
      expect((await sh('default/client-worker', `curl -sS -m2 http://${mine.ip}:8080/hostname`)).out).toBe(mine.target.split('/')[1]);
      await other.exec('admin', ['kubectl', 'create', 'namespace', 'only-there']);
      expect((await kubectl('admin', 'get namespace only-there')).code).toBe(1);
      expect((await netnsProvider.list()).filter((l) => l.state === 'alive')).toHaveLength(2);
    } finally {
      await other.destroy();
    }
  });

  it('the API server\'s proxy reaches a Service\'s endpoint and a pod, as kubectl cluster-info\'s URLs and kubectl proxy do', async () => {
    expect(webPods()).toContain((await kubectl('admin', 'get --raw /api/v1/namespaces/default/services/web:http/proxy/hostname')).out);
    const web = webPods()[0];
    expect((await kubectl('admin', `get --raw /api/v1/namespaces/default/pods/${web}:8080/proxy/hostname`)).out).toBe(web);
    const refused = await kubectl('admin', `get --raw /api/v1/namespaces/default/pods/${web}:9/proxy/`);
    expect(refused.stderr.trim()).toMatch(/^Error from server \(ServiceUnavailable\): error trying to reach service: dial tcp 10\.244\.\d\.\d+:9: connect: connection refused$/);
    expect((await kubectl('admin', 'get --raw /api/v1/namespaces/default/services/web/proxy/')).stderr.trim()).toBe('Error from server (ServiceUnavailable): no service port "" found for service "web"');
    const proxied = await sh('admin', `kubectl proxy --port 8001 >/dev/null 2>&1 & p=$!
      until curl -s -o /dev/null localhost:8001/version || ! kill -0 $p 2>/dev/null; do sleep 0.05; done
      curl -sS localhost:8001/api/v1/namespaces/default/services/web:80/proxy/hostname; kill $p`);
    expect(webPods()).toContain(proxied.out);
  });

  it('kubectl drain evicts a node\'s pods: their Deployments bring them back on the other node, and the Service follows', async () => {
    const other = await netnsProvider.create(baseTopology(), { id: newLabId(), scenario: 'test', seed: 5 });
    try {
      const run = async (target: string, script: string) => (await other.exec(target, ['bash', '-c', script], { timeoutMs: 120_000 })).stdout.trim();
      const drained = await run('admin', 'kubectl drain worker --ignore-daemonsets --force --timeout=90s 2>&1');
      expect(drained).toMatch(/pod\/web-\S+ evicted/);
      expect(drained.split('\n').at(-1)).toBe('node/worker drained');
      expect(await run('admin', 'kubectl rollout status deploy/web --timeout=60s >/dev/null && kubectl get pods -l app=web -o jsonpath=\'{range .items[*]}{.spec.nodeName}{"\\n"}{end}\' | sort -u')).toBe('control-plane');
      expect(await run('default/client-control-plane', 'curl -sS -m5 http://web/hostname')).toMatch(/^web-/);
      expect(await run('admin', 'kubectl get node worker --no-headers | awk \'{print $2}\'')).toBe('Ready,SchedulingDisabled');
    } finally {
      await other.destroy();
    }
  });

  it('ends a port-forward from the host with its lab: stopping the lab\'s API does not wait for kubectl', async () => {
    const other = await netnsProvider.create(baseTopology(), { id: newLabId(), scenario: 'test', seed: 4 });
    const dir = mkdtempSync(join(tmpdir(), 'netdojo-pf-'));
    let child: ReturnType<typeof execa> | undefined;
    try {
      writeFileSync(join(dir, 'kubeconfig'), await netnsProvider.kubeconfig(other.facts.id));
      const web = other.facts.pods.find((p) => p.app === 'web')!.target.split('/')[1];
      child = execa('kubectl', ['--kubeconfig', join(dir, 'kubeconfig'), 'port-forward', `pod/${web}`, ':8080'], { reject: false, buffer: false, env: { HOME: dir } });
      let out = '';
      let err = '';
      child.stderr!.on('data', (d: Buffer) => { err += d; });
      const waiters: (() => void)[] = [];
      child.stdout!.on('data', (d: Buffer) => { out += d; for (const w of waiters.splice(0)) w(); });
      /** Resolves with kubectl's first output that matches. */
      const printed = (pattern: RegExp) => new Promise<RegExpExecArray>((resolve, reject) => {
        const check = () => { const m = pattern.exec(out); if (m) resolve(m); else waiters.push(check); };
        check();
        void child!.then(() => reject(new Error(`kubectl port-forward exited before printing ${pattern}: ${out}${err}`)));
      });
      const local = Number((await printed(/127\.0\.0\.1:(\d+) ->/))[1]);
      // A request left half-sent keeps its relay in the pod waiting.
      const held = connect(local, '127.0.0.1');
      held.on('error', () => {});
      held.write('GET /hostname HTTP/1.1\r\n');
      await printed(/Handling connection/);
      // The cluster host stops the lab's API (it answers within its deadline, or this throws) and
      // ends the port-forward's connection, which kubectl sees.
      await unhostLab(other.facts.id);
      const done = await child;
      expect(done.exitCode).toBe(1);
      expect(err).toContain('lost connection to pod');
      held.destroy();
    } finally {
      child?.kill('SIGKILL');
      await other.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reattaches from the record, as another process would, with a kubeconfig for the host', async () => {
    const again = await netnsProvider.open(lab.facts.id);
    expect((await again.exec('worker', ['hostname'])).stdout.trim()).toBe('worker');
    const config = await netnsProvider.kubeconfig(lab.facts.id);
    expect(config).toMatch(/server: https:\/\/127\.0\.0\.1:\d+\n/);
    expect(config).toContain(`current-context: kind-netdojo-${lab.facts.id}`);
    const r = await again.exec('nowhere', ['true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no target "nowhere"/);
  });

  it('disappears with its holder: kill -9 leaves nothing running, and reap removes the rest', async () => {
    const victim = await netnsProvider.create(baseTopology(), { id: newLabId(), scenario: 'test', seed: 3 });
    const dir = labDir(victim.facts.id);
    const holder = (victim.record.handle as { sandbox: { holderPid: number } }).sandbox.holderPid;
    process.kill(holder, 'SIGKILL');
    const usesDir = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).some((p) => {
      try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir); } catch { return false; }
    });
    // The kernel tears the sandbox down once its PID 1 is gone; wait for that, bounded.
    const deadline = Date.now() + 10_000;
    while (((await netnsProvider.list()).find((l) => l.id === victim.facts.id)?.state !== 'dead' || usesDir()) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(usesDir()).toBe(false);
    expect((await netnsProvider.list()).find((l) => l.id === victim.facts.id)?.state).toBe('dead');
    expect(await netnsProvider.reap()).toContain(victim.facts.id);
    expect(existsSync(dir)).toBe(false);
    expect(hostNetns()).toBe(hostBefore);
    // Its cgroup, where cgroups limit labs here, went with the rest.
    const probe = await probeHost();
    if (probe.ok) expect(await existingLabCgroup(probe.host, victim.facts.id)).toEqual([]);
  });
});
