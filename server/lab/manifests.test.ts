import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { PROBE_IMAGE, WEB_PY_IN_IMAGE } from '../providers/kind/image.ts';
import { readManifest } from './manifests.ts';
import { ADMIN_PORT, baseTopology, WEB_CLUSTER_IP, WEB_PORT } from './topology.ts';

// The base workloads are applied as they are on both providers: a kind lab through kubectl, a netns
// lab through its own API. Their structure is checked here; that they run is the labs' tests' job.

const docs = parseAllDocuments(readManifest('workloads.yaml')).map((d) => d.toJS() as Record<string, any>);
const byKind = (k: string) => docs.filter((d) => d.kind === k);
const topo = baseTopology();

describe('base workloads (manifests/workloads.yaml)', () => {
  it('every object has apiVersion, kind, a DNS-1123 name and the default namespace', () => {
    expect(docs.length).toBe(4);
    for (const d of docs) {
      expect(d.apiVersion).toMatch(/^(v1|apps\/v1)$/);
      expect(d.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(d.metadata.namespace).toBe('default');
    }
  });

  it('web: a Deployment with one backend per node that names itself after its pod', () => {
    const [web] = byKind('Deployment');
    expect(web.metadata.name).toBe('web');
    expect(web.spec.replicas).toBe(topo.nodes.length);
    expect(web.spec.template.metadata.labels).toMatchObject(web.spec.selector.matchLabels);
    const pod = web.spec.template.spec;
    const anti = pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0];
    expect(anti.topologyKey).toBe('kubernetes.io/hostname');
    expect(pod.tolerations).toContainEqual({ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' });
    const [c] = pod.containers;
    expect(c.image).toBe(PROBE_IMAGE);
    expect(c.imagePullPolicy).toBe('IfNotPresent');
    expect(c.command).toEqual(['python3', WEB_PY_IN_IMAGE, '0.0.0.0', String(WEB_PORT), '$(POD_NAME)', String(ADMIN_PORT)]);
    expect(c.env).toContainEqual({ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/healthz', port: WEB_PORT });
  });

  it('a client pod on each node, chosen by the node label both providers set', () => {
    const pods = byKind('Pod');
    expect(pods.map((p) => p.metadata.name)).toEqual(topo.nodes.map((n) => `client-${n.name}`));
    for (const [i, p] of pods.entries()) {
      expect(p.spec.nodeSelector).toEqual({ 'netdojo.io/node': topo.nodes[i].name });
      expect(p.spec.tolerations).toEqual([{ operator: 'Exists' }]);
      expect(p.spec.containers[0]).toMatchObject({ image: PROBE_IMAGE, command: ['sleep', 'infinity'] });
      expect(p.spec.containers[0].securityContext.capabilities.add).toEqual(['NET_RAW', 'NET_ADMIN']);
    }
  });

  it('the web Service maps port 80 to the backends on 8080 at the fixed ClusterIP', () => {
    const [svc] = byKind('Service');
    expect(svc.spec.clusterIP).toBe(WEB_CLUSTER_IP);
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: WEB_PORT, protocol: 'TCP' }]);
  });
});
