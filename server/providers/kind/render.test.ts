import { describe, expect, it } from 'vitest';
import { kindClusterName } from '../../lab/naming.ts';
import { baseTopology } from '../../lab/topology.ts';
import { parseYamlDocs, renderClusterConfig } from './render.ts';

// kubectl cannot validate offline (`apply --dry-run=client` still asks the API server for its
// OpenAPI schema and REST mappings), so the rendered YAML is parsed and its structure checked here.

const id = 'labtest1';
const cluster = kindClusterName(id);

describe('kind cluster config', () => {
  const docs = parseYamlDocs(renderClusterConfig(baseTopology(), { labId: id }));
  const cfg = docs[0];

  it('is one kind v1alpha4 Cluster named after the lab', () => {
    expect(docs).toHaveLength(1);
    expect(cfg.kind).toBe('Cluster');
    expect(cfg.apiVersion).toBe('kind.x-k8s.io/v1alpha4');
    expect(cfg.name).toBe(cluster);
    expect(cfg.name).toMatch(/^netdojo-/);
  });

  it("uses kind's default addressing, the same as the netns replica", () => {
    expect(cfg.networking).toMatchObject({ podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/16', ipFamily: 'ipv4', kubeProxyMode: 'iptables', apiServerAddress: '127.0.0.1' });
    expect(cfg.networking.disableDefaultCNI).toBeUndefined(); // kindnet stays: it enforces NetworkPolicy
  });

  it('has a control-plane and a worker, labelled with the lab', () => {
    expect(cfg.nodes.map((n: any) => n.role)).toEqual(['control-plane', 'worker']);
    for (const n of cfg.nodes) {
      expect(n.labels['netdojo.io/lab']).toBe(id);
      expect(n.image).toBeUndefined();
    }
    expect(Object.keys(cfg).sort()).toEqual(['apiVersion', 'kind', 'name', 'networking', 'nodes']);
  });

  it('takes a pinned node image and can disable the default CNI', () => {
    const c = parseYamlDocs(renderClusterConfig(baseTopology(), { labId: id, nodeImage: 'kindest/node:v1.34.0', disableDefaultCNI: true }))[0];
    expect(c.nodes.every((n: any) => n.image === 'kindest/node:v1.34.0')).toBe(true);
    expect(c.networking.disableDefaultCNI).toBe(true);
  });

  it('refuses node names kind would not give', () => {
    const t = baseTopology();
    t.nodes[1].name = 'node-b';
    expect(() => renderClusterConfig(t, { labId: id })).toThrow(/kind names this worker node "worker"/);
  });
});
