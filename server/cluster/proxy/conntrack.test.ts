import { describe, expect, it } from 'vitest';
import { staleUdpFlows } from './conntrack.ts';
import type { ProxyEndpoint, ProxyService } from './iptables.ts';

const ep = (ip: string, over: Partial<ProxyEndpoint> = {}): ProxyEndpoint => ({ ip, port: 53, ready: true, ...over });
const dns = (endpoints: ProxyEndpoint[], over: Partial<ProxyService> = {}): ProxyService => ({
  namespace: 'kube-system', name: 'kube-dns', clusterIP: '10.96.0.10',
  ports: [
    { name: 'dns', port: 53, protocol: 'UDP', endpoints },
    { name: 'dns-tcp', port: 53, protocol: 'TCP', endpoints },
  ],
  ...over,
});

describe('staleUdpFlows', () => {
  it('clears nothing when the endpoints that serve stay the same', () => {
    expect(staleUdpFlows([dns([ep('10.244.0.2'), ep('10.244.1.3')])], [dns([ep('10.244.1.3'), ep('10.244.0.2')])])).toEqual([]);
  });

  it('clears the flows NATed to an endpoint that stopped serving, on every address of the Service', () => {
    const before = [dns([ep('10.244.0.2'), ep('10.244.1.3')], { externalIPs: ['172.18.0.200'] })];
    const after = [dns([ep('10.244.0.2'), ep('10.244.1.3', { ready: false, serving: false, terminating: true })], { externalIPs: ['172.18.0.200'] })];
    expect(staleUdpFlows(before, after)).toEqual([
      'conntrack -D -p udp --orig-dst 10.96.0.10 --reply-src 10.244.1.3',
      'conntrack -D -p udp --orig-dst 172.18.0.200 --reply-src 10.244.1.3',
    ]);
  });

  it('a terminating endpoint still serving keeps its flows; through a NodePort they are cleared by port', () => {
    const svc = (e: ProxyEndpoint[]): ProxyService => ({ namespace: 'default', name: 'syslog', clusterIP: '10.96.7.7', ports: [{ name: '', port: 514, protocol: 'UDP', nodePort: 30514, endpoints: e }] });
    expect(staleUdpFlows([svc([ep('10.244.1.9')])], [svc([ep('10.244.1.9', { ready: false, serving: true, terminating: true })])])).toEqual([]);
    expect(staleUdpFlows([svc([ep('10.244.1.9')])], [svc([])])).toEqual([
      'conntrack -D -p udp --orig-dst 10.96.7.7 --reply-src 10.244.1.9',
      'conntrack -D -p udp --orig-port-dst 30514 --reply-src 10.244.1.9',
    ]);
  });

  it('clears every flow to a UDP Service that goes from no endpoints to some (and so on a kube-proxy that just started)', () => {
    const expected = ['conntrack -D -p udp --orig-dst 10.96.0.10'];
    expect(staleUdpFlows([dns([])], [dns([ep('10.244.0.2')])])).toEqual(expected);
    expect(staleUdpFlows([], [dns([ep('10.244.0.2')])])).toEqual(expected);
    // Scaled up from one: it was active already.
    expect(staleUdpFlows([dns([ep('10.244.0.2')])], [dns([ep('10.244.0.2'), ep('10.244.1.3')])])).toEqual([]);
  });

  it('clears the flows to a deleted Service\'s ClusterIP, and leaves TCP alone', () => {
    expect(staleUdpFlows([dns([ep('10.244.0.2')])], [])).toEqual(['conntrack -D -p udp --orig-dst 10.96.0.10']);
    const tcpOnly = (e: ProxyEndpoint[]): ProxyService => ({ namespace: 'default', name: 'web', clusterIP: '10.96.1.1', ports: [{ name: '', port: 80, protocol: 'TCP', endpoints: e }] });
    expect(staleUdpFlows([tcpOnly([ep('10.244.0.5')])], [tcpOnly([])])).toEqual([]);
  });
});
