import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { factsFrom, shortNodeName } from './facts.ts';

// What `kubectl get nodes|pods -A|services -A -o json` returns for a 2-node kind lab
// (test/fixtures/kind/cluster-readback.json), turned into the facts `up --json` reports.

const fx = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'kind', 'cluster-readback.json'), 'utf8'));
const facts = factsFrom({ id: 'labfix01', scenario: 'coredns-down', seed: 3, cluster: fx.cluster, nodes: fx.nodes.items, pods: fx.pods.items, services: fx.services.items });

describe('factsFrom', () => {
  it('names nodes as the learner knows them, control-plane first, with IP and podCIDR', () => {
    expect(facts.nodes).toEqual([
      { name: 'control-plane', role: 'control-plane', ip: '172.19.0.2', podCIDR: '10.244.0.0/24' },
      { name: 'worker', role: 'worker', ip: '172.19.0.3', podCIDR: '10.244.1.0/24' },
    ]);
  });

  it('lists CoreDNS, web and client pods (not host-network or terminating ones) with their real names', () => {
    expect(facts.pods.map((p) => [p.target, p.node, p.ip, p.app])).toEqual([
      ['kube-system/coredns-6f6b679f8f-2xk9q', 'control-plane', '10.244.0.2', 'coredns'],
      ['kube-system/coredns-6f6b679f8f-w8mqz', 'control-plane', '10.244.0.3', 'coredns'],
      ['default/web-7c9d8f6b5-qz7lm', 'control-plane', '10.244.0.4', 'web'],
      ['default/web-7c9d8f6b5-h2k4x', 'worker', '10.244.1.2', 'web'],
      ['default/client-control-plane', 'control-plane', '10.244.0.5', 'client'],
      ['default/client-worker', 'worker', '10.244.1.3', 'client'],
    ]);
  });

  it('reports kube-dns and the default namespace Services, not the API server', () => {
    expect(facts.services.map((s) => s.target)).toEqual(['default/web', 'kube-system/kube-dns']);
    expect(facts.services[0]).toEqual({ target: 'default/web', clusterIP: '10.96.124.51', ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] });
    expect(facts.dns).toEqual({ clusterIP: '10.96.0.10', domain: 'cluster.local' });
    expect(facts).toMatchObject({ id: 'labfix01', scenario: 'coredns-down', seed: 3, provider: 'kind' });
  });

  it('strips only its own cluster prefix from node names', () => {
    expect(shortNodeName('netdojo-a', 'netdojo-a-worker2')).toBe('worker2');
    expect(shortNodeName('netdojo-a', 'other-worker')).toBe('other-worker');
  });
});
