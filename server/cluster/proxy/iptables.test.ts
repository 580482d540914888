import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { labsUnavailable } from '../../../test/support/env.ts';
import type { KubeObject } from '../object.ts';
import { proxyServices } from './controller.ts';
import { ensureJumpsScript, extChain, fwChain, renderRules, sepChain, svcChain, svlChain, type ProxyEndpoint, type ProxyService } from './iptables.ts';

// kube-proxy's iptables layout, per Service type and traffic policy, on one node of two.

const worker = { name: 'worker', ip: '172.18.0.3', clusterCIDR: '10.244.0.0/16' };
const ep = (ip: string, node: string, more: Partial<ProxyEndpoint> = {}): ProxyEndpoint => ({ ip, port: 8080, ready: true, serving: true, terminating: false, node, ...more });
const web = (over: Partial<ProxyService> = {}, endpoints = [ep('10.244.0.4', 'control-plane'), ep('10.244.1.4', 'worker')], nodePort?: number): ProxyService => ({
  namespace: 'default', name: 'web', clusterIP: '10.96.124.51', ...over,
  ports: [{ name: '', port: 80, protocol: 'TCP', nodePort, endpoints }],
});
const lines = (rules: string, chain: string) => rules.split('\n').filter((l) => l.startsWith(`-A ${chain} `));
const port = { name: '', protocol: 'TCP' as const };

describe("kube-proxy's iptables rules", () => {
  it('name chains as kube-proxy does: the hashes a kind node shows', () => {
    expect(svcChain({ namespace: 'kube-system', name: 'kube-dns' }, { name: 'dns', protocol: 'UDP' })).toBe('KUBE-SVC-TCOU7JCQXEZGVUNU');
    expect(svcChain({ namespace: 'default', name: 'kubernetes' }, { name: 'https', protocol: 'TCP' })).toBe('KUBE-SVC-NPX46M4PTMTKRN6Y');
  });

  it('send a ClusterIP to every ready endpoint at random, masquerading traffic from outside the pod network', () => {
    const { rules } = renderRules([web()], worker);
    const svc = svcChain(web(), port);
    expect(lines(rules, 'KUBE-SERVICES')[0]).toBe(`-A KUBE-SERVICES -d 10.96.124.51/32 -p tcp -m comment --comment "default/web cluster IP" -m tcp --dport 80 -j ${svc}`);
    expect(lines(rules, svc)).toEqual([
      `-A ${svc} ! -s 10.244.0.0/16 -d 10.96.124.51/32 -p tcp -m comment --comment "default/web cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ`,
      `-A ${svc} -m comment --comment "default/web -> 10.244.0.4:8080" -m statistic --mode random --probability 0.50000000000 -j ${sepChain(web(), port, '10.244.0.4:8080')}`,
      `-A ${svc} -m comment --comment "default/web -> 10.244.1.4:8080" -j ${sepChain(web(), port, '10.244.1.4:8080')}`,
    ]);
    expect(lines(rules, sepChain(web(), port, '10.244.1.4:8080'))).toEqual([
      `-A ${sepChain(web(), port, '10.244.1.4:8080')} -s 10.244.1.4/32 -m comment --comment "default/web" -j KUBE-MARK-MASQ`,
      `-A ${sepChain(web(), port, '10.244.1.4:8080')} -p tcp -m comment --comment "default/web" -m tcp -j DNAT --to-destination 10.244.1.4:8080`,
    ]);
    expect(rules).not.toContain('KUBE-EXT-');
  });

  it('reject what goes to a Service without endpoints, at its ClusterIP and its NodePort', () => {
    const { rules } = renderRules([web({}, [], 30080)], worker);
    expect(lines(rules, 'KUBE-SERVICES').filter((l) => l.includes('REJECT'))).toEqual([
      '-A KUBE-SERVICES -d 10.96.124.51/32 -p tcp -m comment --comment "default/web has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable',
    ]);
    expect(lines(rules, 'KUBE-EXTERNAL-SERVICES')).toEqual([
      '-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "default/web has no endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 30080 -j REJECT --reject-with icmp-port-unreachable',
    ]);
    expect(lines(rules, 'KUBE-NODEPORTS')).toEqual([]);
  });

  it('masquerade NodePort and load-balancer traffic under externalTrafficPolicy Cluster', () => {
    const svc = web({ loadBalancerIPs: ['172.18.255.200'] }, undefined, 30080);
    const { rules } = renderRules([svc], worker);
    const ext = extChain(svc, port);
    expect(lines(rules, 'KUBE-NODEPORTS')).toEqual([`-A KUBE-NODEPORTS -p tcp -m comment --comment "default/web" -m tcp --dport 30080 -j ${ext}`]);
    expect(lines(rules, 'KUBE-SERVICES')).toContain(`-A KUBE-SERVICES -d 172.18.255.200/32 -p tcp -m comment --comment "default/web loadbalancer IP" -m tcp --dport 80 -j ${ext}`);
    expect(lines(rules, ext)).toEqual([
      `-A ${ext} -m comment --comment "masquerade traffic for default/web external destinations" -j KUBE-MARK-MASQ`,
      `-A ${ext} -j ${svcChain(svc, port)}`,
    ]);
    // The NodePort rule comes after every Service's own rules, behind the last rule of KUBE-SERVICES.
    expect(lines(rules, 'KUBE-SERVICES').at(-1)).toContain('-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS');
  });

  it('keep the client address under externalTrafficPolicy Local: this node\'s endpoints, or a DROP where it has none', () => {
    const svc = web({ externalTrafficLocal: true, loadBalancerIPs: ['172.18.255.200'] }, [ep('10.244.1.4', 'worker')], 30080);
    const ext = extChain(svc, port), svl = svlChain(svc, port), cluster = svcChain(svc, port);
    const here = renderRules([svc], worker).rules;
    expect(lines(here, ext)).toEqual([
      `-A ${ext} -s 10.244.0.0/16 -m comment --comment "pod traffic for default/web external destinations" -j ${cluster}`,
      `-A ${ext} -m comment --comment "masquerade LOCAL traffic for default/web external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
      `-A ${ext} -m comment --comment "route LOCAL traffic for default/web external destinations" -m addrtype --src-type LOCAL -j ${cluster}`,
      `-A ${ext} -j ${svl}`,
    ]);
    expect(lines(here, svl)).toEqual([`-A ${svl} -m comment --comment "default/web -> 10.244.1.4:8080" -j ${sepChain(svc, port, '10.244.1.4:8080')}`]);
    expect(lines(here, 'KUBE-EXTERNAL-SERVICES')).toEqual([]);

    const elsewhere = renderRules([svc], { ...worker, name: 'control-plane' }).rules;
    expect(lines(elsewhere, ext).at(-1)).toContain('route LOCAL traffic');
    expect(lines(elsewhere, 'KUBE-EXTERNAL-SERVICES')).toEqual([
      '-A KUBE-EXTERNAL-SERVICES -d 172.18.255.200/32 -p tcp -m comment --comment "default/web has no local endpoints" -m tcp --dport 80 -j DROP',
      '-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "default/web has no local endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 30080 -j DROP',
    ]);
    // Pods still reach the ClusterIP through every endpoint.
    expect(lines(elsewhere, cluster).some((l) => l.includes('10.244.1.4:8080'))).toBe(true);
  });

  it('keep ClusterIP traffic on the node under internalTrafficPolicy Local, and drop it where the node has no endpoint', () => {
    const svc = web({ internalTrafficLocal: true });
    const here = renderRules([svc], worker).rules;
    expect(lines(here, 'KUBE-SERVICES')[0]).toContain(`-j ${svlChain(svc, port)}`);
    expect(lines(here, svlChain(svc, port)).filter((l) => l.includes('->'))).toEqual([
      `-A ${svlChain(svc, port)} -m comment --comment "default/web -> 10.244.1.4:8080" -j ${sepChain(svc, port, '10.244.1.4:8080')}`,
    ]);
    expect(here).not.toContain(`:${svcChain(svc, port)} `);
    const none = renderRules([web({ internalTrafficLocal: true }, [ep('10.244.0.4', 'control-plane')])], worker).rules;
    expect(lines(none, 'KUBE-SERVICES').filter((l) => l.includes('DROP'))).toEqual([
      '-A KUBE-SERVICES -d 10.96.124.51/32 -p tcp -m comment --comment "default/web has no local endpoints" -m tcp --dport 80 -j DROP',
    ]);
  });

  it('pin a client to its endpoint under sessionAffinity ClientIP with the recent match', () => {
    const svc = web({ affinitySeconds: 10800 });
    const { rules } = renderRules([svc], worker);
    const sep = sepChain(svc, port, '10.244.0.4:8080');
    expect(lines(rules, svcChain(svc, port))).toContain(`-A ${svcChain(svc, port)} -m comment --comment "default/web -> 10.244.0.4:8080" -m recent --rcheck --seconds 10800 --reap --name ${sep} --mask 255.255.255.255 --rsource -j ${sep}`);
    expect(lines(rules, sep)[1]).toBe(`-A ${sep} -p tcp -m comment --comment "default/web" -m recent --set --name ${sep} --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.244.0.4:8080`);
  });

  it('under ClientIP affinity, look up every endpoint\'s client list before the random pick, for the Service\'s timeoutSeconds (10800 when unset)', () => {
    const service = (spec: object): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'default', name: 'web' }, spec: { clusterIP: '10.96.124.51', ports: [{ port: 80 }], ...spec } });
    const slice: KubeObject = {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { namespace: 'default', name: 'web-abcde', labels: { 'kubernetes.io/service-name': 'web' } },
      ports: [{ name: '', port: 8080, protocol: 'TCP' }],
      endpoints: ['10.244.0.4', '10.244.0.7', '10.244.1.4'].map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
    };
    const seconds = (spec: object) => proxyServices([service(spec)], [slice])[0].affinitySeconds;
    expect(seconds({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 1800 } } })).toBe(1800);
    expect(seconds({ sessionAffinity: 'ClientIP' })).toBe(10800);
    expect(seconds({ sessionAffinity: 'None' })).toBeUndefined();

    const [svc] = proxyServices([service({ sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 1800 } } })], [slice]);
    const chain = svcChain(svc, port);
    const sep = (ip: string) => sepChain(svc, port, `${ip}:8080`);
    const recent = (ip: string) => `-A ${chain} -m comment --comment "default/web -> ${ip}:8080" -m recent --rcheck --seconds 1800 --reap --name ${sep(ip)} --mask 255.255.255.255 --rsource -j ${sep(ip)}`;
    expect(lines(renderRules([svc], worker).rules, chain)).toEqual([
      `-A ${chain} ! -s 10.244.0.0/16 -d 10.96.124.51/32 -p tcp -m comment --comment "default/web cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ`,
      recent('10.244.0.4'), recent('10.244.0.7'), recent('10.244.1.4'),
      `-A ${chain} -m comment --comment "default/web -> 10.244.0.4:8080" -m statistic --mode random --probability 0.33333333333 -j ${sep('10.244.0.4')}`,
      `-A ${chain} -m comment --comment "default/web -> 10.244.0.7:8080" -m statistic --mode random --probability 0.50000000000 -j ${sep('10.244.0.7')}`,
      `-A ${chain} -m comment --comment "default/web -> 10.244.1.4:8080" -j ${sep('10.244.1.4')}`,
    ]);
  });

  it('let only loadBalancerSourceRanges through a load-balancer address: the rest is never DNATed and is dropped', () => {
    const svc = web({ loadBalancerIPs: ['172.18.255.200'], sourceRanges: ['192.168.1.0/24', '172.18.0.0/16'] }, undefined, 30080);
    const { rules } = renderRules([svc], worker);
    const fw = fwChain(svc, port), ext = extChain(svc, port);
    expect(lines(rules, 'KUBE-SERVICES')).toContain(`-A KUBE-SERVICES -d 172.18.255.200/32 -p tcp -m comment --comment "default/web loadbalancer IP" -m tcp --dport 80 -j ${fw}`);
    expect(lines(rules, fw)).toEqual([
      `-A ${fw} -s 192.168.1.0/24 -m comment --comment "default/web loadbalancer IP" -j ${ext}`,
      `-A ${fw} -s 172.18.0.0/16 -m comment --comment "default/web loadbalancer IP" -j ${ext}`,
      // The node is in a permitted range: traffic it sends from the address itself is let through.
      `-A ${fw} -s 172.18.255.200/32 -m comment --comment "default/web loadbalancer IP" -j ${ext}`,
    ]);
    expect(lines(rules, 'KUBE-PROXY-FIREWALL')).toEqual([`-A KUBE-PROXY-FIREWALL -d 172.18.255.200/32 -p tcp -m comment --comment "default/web traffic not accepted by ${fw}" -m tcp --dport 80 -j DROP`]);
    // NodePorts are not subject to the source ranges.
    expect(lines(rules, 'KUBE-NODEPORTS')[0]).toContain(`-j ${ext}`);
  });

  it('fall back to terminating endpoints that still serve when none is ready', () => {
    const svc = web({}, [ep('10.244.0.4', 'control-plane', { ready: false, serving: true, terminating: true }), ep('10.244.1.9', 'worker', { ready: false, serving: false, terminating: true })]);
    const { rules } = renderRules([svc], worker);
    expect(rules).toContain('--to-destination 10.244.0.4:8080');
    expect(rules).not.toContain('10.244.1.9');
  });

  it('delete the chains a sync no longer needs', () => {
    const svc = web({}, undefined, 30080);
    const first = renderRules([svc], worker);
    const second = renderRules([web({}, [ep('10.244.0.4', 'control-plane')])], worker, first.chains);
    expect(second.rules).toContain(`-X ${sepChain(svc, port, '10.244.1.4:8080')}`);
    expect(second.rules).toContain(`-X ${extChain(svc, port)}`);
    expect(second.rules).not.toContain(`-X ${svcChain(svc, port)}`);
  });

  const why = labsUnavailable();
  it.skipIf(why)(`load into a real network namespace${why ? ` (skipped: ${why})` : ''}`, () => {
    const all = [
      web({ loadBalancerIPs: ['172.18.255.200'], externalTrafficLocal: true, affinitySeconds: 60, sourceRanges: ['192.168.1.0/24'] }, undefined, 30080),
      { ...web({ internalTrafficLocal: true }, []), name: 'empty', clusterIP: '10.96.0.20' },
    ];
    const first = renderRules(all, worker, new Set(), true);
    const second = renderRules([web()], worker, first.chains);
    const script = ['set -e', `iptables-restore -w --noflush <<'EOF'\n${first.rules}EOF`, ensureJumpsScript(), `iptables-restore -w --noflush <<'EOF'\n${second.rules}EOF`, 'iptables-save'].join('\n');
    const r = spawnSync('unshare', ['--user', '--map-root-user', '--net', 'sh', '-c', script], { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES');
    expect(r.stdout).not.toContain('KUBE-EXT-');
    expect(r.stdout.split('\n').filter((l) => l.startsWith('-A FORWARD')).map((l) => l.replace(/.*-j /, ''))).toEqual(['KUBE-PROXY-FIREWALL', 'KUBE-FORWARD', 'KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES']);
  });
});
