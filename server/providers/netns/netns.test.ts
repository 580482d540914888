import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostNetns, labsUnavailable, tempHome } from '../../../test/support/env.ts';
import { labDir, newLabId } from '../../lab/naming.ts';
import { baseTopology, podTarget } from '../../lab/topology.ts';
import { labHelper } from './helper.ts';
import { kubeProxyRules, svcChain } from './kubeproxy.ts';
import { netnsProvider, type NetnsLab } from './index.ts';

describe('kube-proxy rules', () => {
  const topo = baseTopology();
  const all = new Set(topo.pods.map(podTarget));
  const dns = topo.services.find((s) => s.name === 'kube-dns')!;

  it('name chains with kube-proxy\'s own hashes (as seen on every real cluster)', () => {
    expect(svcChain(dns, dns.ports[0])).toBe('KUBE-SVC-TCOU7JCQXEZGVUNU');
    expect(svcChain(dns, dns.ports[1])).toBe('KUBE-SVC-ERIFXISQEP7F7OF4');
  });

  it('load-balance over every running endpoint and DNAT to it', () => {
    const rules = kubeProxyRules(topo, all);
    expect(rules).toContain('-A KUBE-SVC-TCOU7JCQXEZGVUNU -m comment --comment "kube-system/kube-dns:dns -> 10.244.0.2:53" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-');
    expect(rules).toMatch(/-p udp -m comment --comment "kube-system\/kube-dns:dns" -m udp -j DNAT --to-destination 10\.244\.0\.3:53/);
    expect(rules).not.toContain('has no endpoints');
  });

  it('reject traffic to a Service without endpoints, as kube-proxy does', () => {
    const running = new Set([...all].filter((t) => !t.startsWith('kube-system/coredns')));
    const rules = kubeProxyRules(topo, running);
    expect(rules).toContain('-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m comment --comment "kube-system/kube-dns:dns has no endpoints" -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable');
    expect(rules).toContain('-X KUBE-SVC-TCOU7JCQXEZGVUNU');
  });
});

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
    const r = await lab.exec(target, ['bash', '-c', script], { timeoutMs: 20_000 });
    return { ...r, out: r.stdout.trim() };
  };

  it('reports the facts of a 2-node kind cluster', () => {
    expect(lab.facts.nodes).toEqual([
      { name: 'control-plane', role: 'control-plane', ip: '172.18.0.2', podCIDR: '10.244.0.0/24' },
      { name: 'worker', role: 'worker', ip: '172.18.0.3', podCIDR: '10.244.1.0/24' },
    ]);
    expect(lab.facts.services.map((s) => [s.target, s.clusterIP])).toEqual([['kube-system/kube-dns', '10.96.0.10'], ['default/web', '10.96.124.51']]);
    expect(lab.targets()).toContain('default/client-worker');
  });

  it('resolves cluster names over UDP and TCP, through the search path too', async () => {
    expect((await sh('default/client-worker', 'dig +short +time=2 +tries=1 web.default.svc.cluster.local')).out).toBe('10.96.124.51');
    expect((await sh('default/client-worker', 'dig +short +tcp +time=2 +tries=1 @10.96.0.10 kube-dns.kube-system.svc.cluster.local')).out).toBe('10.96.0.10');
    expect((await sh('client-control-plane', 'getent hosts web')).out).toMatch(/^10\.96\.124\.51\s+web\.default\.svc\.cluster\.local/);
  });

  it('load-balances the web Service over a backend on each node, which report who they are', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20 && seen.size < 2; i++) seen.add((await sh('default/client-worker', 'curl -sS -m2 http://web/hostname')).out);
    expect([...seen].sort()).toEqual(['web-0', 'web-1']);
    const big = await sh('default/client-control-plane', 'curl -sS -m5 -o /dev/null -w "%{size_download}" http://10.244.1.2:8080/bytes/1048576');
    expect(big.out).toBe('1048576');
  });

  it('gives each pod its own hostname, kind-like resolv.conf and hosts, without touching the host\'s', async () => {
    const r = await sh('default/client-worker', 'hostname; cat /etc/resolv.conf; grep client-worker /etc/hosts');
    expect(r.out).toBe('client-worker\nsearch default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n10.244.1.3\tclient-worker');
    expect(readFileSync('/etc/resolv.conf', 'utf8')).not.toContain('10.96.0.10');
    expect((await sh('worker', 'hostname; ip route')).out).toContain('10.244.0.0/24 via 172.18.0.2 dev eth0');
  });

  it('creates nothing in the host\'s network namespaces or /run', () => {
    expect(hostNetns()).toBe(hostBefore);
    const hostRun = existsSync('/run/netns') ? readdirSync('/run/netns') : [];
    expect(hostRun.filter((n) => /^(control-plane|worker|pod_)/.test(n))).toEqual([]);
  });

  it('runs side by side with another lab, each with its own state', async () => {
    const other = await netnsProvider.create(baseTopology(), { id: newLabId(), scenario: 'test', seed: 2 });
    try {
      await other.exec('worker', ['ip', 'route', 'del', '10.244.0.0/24']);
      const there = await other.exec('default/client-worker', ['curl', '-sS', '-m1', 'http://10.244.0.4:8080/hostname'], { timeoutMs: 10_000 });
      expect(there.code).not.toBe(0);
      expect((await sh('default/client-worker', 'curl -sS -m2 http://10.244.0.4:8080/hostname')).out).toBe('web-0');
      expect((await netnsProvider.list()).filter((l) => l.state === 'alive')).toHaveLength(2);
    } finally {
      await other.destroy();
    }
  });

  it('scales CoreDNS like kubectl: no endpoints rejects queries, scaling back restores them', async () => {
    const out: string[] = [];
    await labHelper(lab, ['scale', 'kube-system/coredns', '--replicas=0'], (s) => out.push(s));
    const refused = await sh('default/client-control-plane', 'dig +time=2 +tries=1 @10.96.0.10 web.default.svc.cluster.local');
    expect(refused.stdout).toContain('connection refused');
    await labHelper(lab, ['pods', '-n', 'kube-system'], (s) => out.push(s));
    expect(out.at(-1)).toMatch(/coredns-0\s+Terminated \(scaled down\)/);
    await labHelper(lab, ['endpoints'], (s) => out.push(s));
    expect(out.at(-1)).toMatch(/kube-dns\s+<none>/);
    await labHelper(lab, ['scale', 'coredns', '--replicas=2'], (s) => out.push(s));
    expect((await sh('default/client-control-plane', 'dig +short +time=2 +tries=1 @10.96.0.10 web.default.svc.cluster.local')).out).toBe('10.96.124.51');
    await expect(labHelper(lab, ['scale', 'coredns', '--replicas=5'], () => undefined)).rejects.toThrow(/from 0 to 2/);
  });

  it('reattaches from the record, as another process would', async () => {
    const again = await netnsProvider.open(lab.facts.id);
    expect((await again.exec('worker', ['hostname'])).stdout.trim()).toBe('worker');
    await expect(netnsProvider.open(lab.facts.id).then((l) => l.exec('nowhere', ['true']))).rejects.toThrow(/unknown target "nowhere"/);
  });

  it('disappears with its holder: kill -9 leaves nothing running, and reap removes the rest', async () => {
    const victim = await netnsProvider.create(baseTopology(), { id: newLabId(), scenario: 'test', seed: 3 });
    const dir = labDir(victim.facts.id);
    const holder = (victim.record.handle as { holderPid: number }).holderPid;
    process.kill(holder, 'SIGKILL');
    const usesDir = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).some((p) => {
      try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir); } catch { return false; }
    });
    // The kernel tears the sandbox down once its PID 1 is gone; wait for that, bounded.
    const until = Date.now() + 10_000;
    while (((await netnsProvider.list()).find((l) => l.id === victim.facts.id)?.state !== 'dead' || usesDir()) && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(usesDir()).toBe(false);
    expect((await netnsProvider.list()).find((l) => l.id === victim.facts.id)?.state).toBe('dead');
    expect(await netnsProvider.reap()).toContain(victim.facts.id);
    expect(existsSync(dir)).toBe(false);
    expect(hostNetns()).toBe(hostBefore);
  });
});
