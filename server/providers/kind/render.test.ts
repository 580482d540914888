import { describe, expect, it } from 'vitest';
import { kindClusterName } from '../../lab/naming.ts';
import { ADMIN_PORT, baseTopology, DNS_CLUSTER_IP, WEB_CLUSTER_IP, WEB_PORT } from '../../lab/topology.ts';
import { PROBE_IMAGE, WEB_PY_IN_IMAGE } from './image.ts';
import { kubeNodeName, parseYamlDocs, renderBaseManifests, renderClusterConfig } from './render.ts';

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

describe('base manifests', () => {
  const topo = baseTopology();
  const docs = parseYamlDocs(renderBaseManifests(topo, { labId: id }));
  const byKind = (k: string) => docs.filter((d) => d.kind === k);

  it('every object has apiVersion, kind, a DNS-1123 name and a namespace', () => {
    expect(docs.length).toBe(4);
    for (const d of docs) {
      expect(d.apiVersion).toMatch(/^(v1|apps\/v1)$/);
      expect(d.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(d.metadata.name.length).toBeLessThanOrEqual(63);
      expect(d.metadata.namespace).toBe('default');
    }
  });

  it('web: a Deployment with one backend per node that names itself after its pod', () => {
    const [web] = byKind('Deployment');
    expect(web.apiVersion).toBe('apps/v1');
    expect(web.metadata.name).toBe('web');
    expect(web.spec.replicas).toBe(topo.nodes.length);
    // The selector must match the template (the API server rejects it otherwise).
    expect(web.spec.template.metadata.labels).toMatchObject(web.spec.selector.matchLabels);
    const pod = web.spec.template.spec;
    const anti = pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0];
    expect(anti.topologyKey).toBe('kubernetes.io/hostname');
    expect(anti.labelSelector.matchLabels).toEqual({ app: 'web' });
    expect(pod.tolerations).toContainEqual({ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' });
    const [c] = pod.containers;
    expect(c.image).toBe(PROBE_IMAGE);
    expect(c.image).not.toMatch(/:latest$/);
    expect(c.imagePullPolicy).toBe('IfNotPresent');
    expect(c.command).toEqual(['python3', WEB_PY_IN_IMAGE, '0.0.0.0', String(WEB_PORT), '$(POD_NAME)', String(ADMIN_PORT)]);
    expect(c.env).toContainEqual({ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    expect(c.ports.map((p: any) => p.containerPort)).toEqual([WEB_PORT, ADMIN_PORT]);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/healthz', port: WEB_PORT });
  });

  it('client probe pods are pinned to each node by nodeName', () => {
    const pods = byKind('Pod');
    expect(pods.map((p) => p.metadata.name)).toEqual(['client-control-plane', 'client-worker']);
    for (const p of pods) {
      const node = p.metadata.labels['netdojo.io/node'];
      expect(p.spec.nodeName).toBe(kubeNodeName(cluster, node));
      expect(p.metadata.labels.app).toBe('client');
      const [c] = p.spec.containers;
      expect(c).toMatchObject({ image: PROBE_IMAGE, imagePullPolicy: 'IfNotPresent', command: ['sleep', 'infinity'] });
      expect(c.securityContext.capabilities.add).toEqual(['NET_RAW', 'NET_ADMIN']); // ping; ip route flush cache
      expect(p.spec.tolerations).toEqual([{ operator: 'Exists' }]); // runs on the control-plane too
    }
  });

  it('the web Service maps port 80 to the backends on 8080 at the fixed ClusterIP', () => {
    const [svc] = byKind('Service');
    expect(svc.metadata.name).toBe('web');
    expect(svc.spec.clusterIP).toBe(WEB_CLUSTER_IP);
    expect(svc.spec.selector).toEqual({ app: 'web' });
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: WEB_PORT, protocol: 'TCP' }]);
    // kube-dns is kind's own: not redeclared here, at the address every pod's resolv.conf names.
    expect(docs.some((d) => d.metadata.name === 'kube-dns')).toBe(false);
    expect(DNS_CLUSTER_IP).toBe('10.96.0.10');
  });
});
