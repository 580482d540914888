import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlMinors } from '../../test/support/env.ts';
import { untilPrints } from '../../test/support/until.ts';
import { startTestCluster, type TestCluster } from './testing/cluster.ts';

// The lab's API server against the real kubectl, every minor from 1.30 that this machine has: the
// machine's kubectl picks its minor from /version, so each cluster here serves one minor. No data
// plane: these are the API's own behaviours (tables, apply, patch, scale, delete, errors, watch).

const minors = [...kubectlMinors().keys()].filter((m) => Number(m.split('.')[1]) >= 30);
const why = minors.length ? undefined : 'kubectl 1.30 or later is not installed';
if (why) console.warn(`skipping kubectl tests: ${why}`);

const pkiDir = mkdtempSync(join(tmpdir(), 'netdojo-pki-'));
afterAll(() => rmSync(pkiDir, { recursive: true, force: true }));

describe.skipIf(why).each(minors)('kubectl %s', (minor) => {
  let t: TestCluster;
  beforeAll(async () => { t = await startTestCluster({ minor: minor.split('.')[1], pkiDir }); });
  afterAll(async () => { await t?.close(); });
  const k = async (args: string, stdin?: string) => {
    const r = await t.kubectl(args.split(' '), stdin);
    return { ...r, out: r.stdout.trim(), err: r.stderr.trim() };
  };

  it('runs the matching client and reads the cluster as kind shows it', async () => {
    expect(JSON.parse((await k('version -o json')).out).serverVersion.minor).toBe(minor.split('.')[1]);
    const nodes = (await k('get nodes')).out.split('\n');
    expect(nodes[0].split(/\s{2,}/)).toEqual(['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION']);
    expect(nodes.slice(1).map((l) => l.split(/\s+/).slice(0, 3).join(' '))).toEqual(['control-plane Ready control-plane', 'worker Ready <none>']);
    const svc = (await k('get svc -A')).out;
    expect(svc).toMatch(/kube-system\s+kube-dns\s+ClusterIP\s+10\.96\.0\.10\s+<none>\s+53\/UDP,53\/TCP,9153\/TCP/);
    expect((await k('get ns --show-labels')).out).toMatch(/kube-system\s+Active\s+\S+\s+kubernetes\.io\/metadata\.name=kube-system/);
    const all = (await k('get all -n kube-system')).out;
    expect(all).toContain('deployment.apps/coredns');
    expect(all).toContain('daemonset.apps/kube-proxy');
    expect((await k('api-resources --no-headers')).out).toMatch(/^networkpolicies\s+netpol\s+networking\.k8s\.io\/v1\s+true\s+NetworkPolicy$/m);
  });

  it('creates, applies, patches, scales and deletes as the API server does', async () => {
    const cm = 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings, namespace: default }\ndata: { a: "1" }\n';
    expect((await k('apply -f -', cm)).out).toBe('configmap/settings created');
    expect((await k('apply -f -', cm)).out).toBe('configmap/settings unchanged');
    expect((await k('apply -f -', cm.replace('"1"', '"2"'))).out).toBe('configmap/settings configured');
    expect((await k('get cm settings -o jsonpath={.data.a}')).out).toBe('2');
    expect((await k('label cm settings tier=backend')).out).toBe('configmap/settings labeled');
    expect((await k('get cm -l tier=backend -o name')).out).toBe('configmap/settings');
    expect((await k('get cm -l tier!=backend -o name')).out).not.toContain('settings');
    expect((await k('patch cm settings --type=json -p [{"op":"add","path":"/data/b","value":"x"}]')).out).toBe('configmap/settings patched');
    expect((await k('patch cm settings --type=merge -p {"data":{"a":null}}')).out).toBe('configmap/settings patched');
    expect((await k('get cm settings -o jsonpath={.data}')).out).toBe('{"b":"x"}');
    expect((await k('-n kube-system scale deploy/coredns --replicas=3')).out).toBe('deployment.apps/coredns scaled');
    expect((await k('-n kube-system get deploy coredns -o jsonpath={.spec.replicas}')).out).toBe('3');
    expect((await k('-n kube-system rollout restart deploy/coredns')).out).toBe('deployment.apps/coredns restarted');
    expect((await k('-n kube-system get deploy coredns -o jsonpath={.spec.template.metadata.annotations}')).out).toContain('kubectl.kubernetes.io/restartedAt');
    expect((await k('delete cm settings')).out).toBe('configmap "settings" deleted');
    const gone = await k('get cm settings');
    expect(gone.exitCode).toBe(1);
    expect(gone.err).toBe('Error from server (NotFound): configmaps "settings" not found');
  });

  it('rejects what the API server rejects, with its words', async () => {
    const bad = await k('apply -f -', 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: bad, namespace: default }\nspec:\n  selector: { matchLabels: { app: a } }\n  template:\n    metadata: { labels: { app: b } }\n    spec: { containers: [{ name: c, image: busybox }] }\n');
    expect(bad.exitCode).toBe(1);
    expect(bad.err).toContain('The Deployment "bad" is invalid');
    expect(bad.err).toContain('spec.template.metadata.labels: Invalid value: map[string]string{"app":"b"}: `selector` does not match template `labels`');
    const exists = await k('create namespace kube-system');
    expect(exists.err).toBe('Error from server (AlreadyExists): namespaces "kube-system" already exists');
  });

  it('allocates node ports for NodePort and LoadBalancer Services and drops them when the type changes back', async () => {
    expect((await k('create service loadbalancer front --tcp=80:8080')).out).toBe('service/front created');
    expect((await k('patch svc front -p {"spec":{"externalTrafficPolicy":"Local"}}')).out).toBe('service/front patched');
    const lb = JSON.parse((await k('get svc front -o json')).out) as { spec: { ports: { nodePort: number }[]; healthCheckNodePort: number; allocateLoadBalancerNodePorts: boolean } };
    expect(lb.spec.ports[0].nodePort).toBeGreaterThanOrEqual(30000);
    expect(lb.spec.healthCheckNodePort).toBeGreaterThanOrEqual(30000);
    expect(lb.spec.healthCheckNodePort).not.toBe(lb.spec.ports[0].nodePort);
    expect(lb.spec.allocateLoadBalancerNodePorts).toBe(true);
    expect((await k('patch svc front -p {"spec":{"type":"ClusterIP"}}')).out).toBe('service/front patched');
    const back = JSON.parse((await k('get svc front -o json')).out) as { spec: Record<string, unknown> & { ports: Record<string, unknown>[] } };
    expect(back.spec.ports[0].nodePort).toBeUndefined();
    expect(back.spec).not.toHaveProperty('healthCheckNodePort');
    expect(back.spec).not.toHaveProperty('allocateLoadBalancerNodePorts');
    expect(back.spec).not.toHaveProperty('externalTrafficPolicy');
    expect((await k('get svc front --no-headers')).out).toMatch(/^front\s+ClusterIP\s+10\.96\.\d+\.\d+\s+<none>\s+80\/TCP\s/);
    expect((await k('delete svc front')).out).toBe('service "front" deleted');
  });

  it('explains the served kinds from the OpenAPI schemas', async () => {
    const r = await k('explain pod.spec.dnsPolicy');
    expect(r.exitCode, r.err).toBe(0);
    expect(r.out).toMatch(/FIELD:\s+dnsPolicy <string>/);
  });

  it('evicts pods as kubectl drain asks, a server dry run changing nothing, a real one starting the pod\'s graceful end', async () => {
    const pod = 'apiVersion: v1\nkind: Pod\nmetadata: { name: evictme, namespace: default, labels: { app: evictme } }\nspec: { nodeName: worker, containers: [{ name: c, image: busybox }] }\n';
    expect((await k('apply -f -', pod)).out).toBe('pod/evictme created');
    const dry = await k('drain worker --pod-selector=app=evictme --force --dry-run=server');
    expect(dry.out.split('\n')).toEqual(['node/worker cordoned (server dry run)', 'evicting pod default/evictme (server dry run)', 'node/worker drained (server dry run)']);
    expect((await k('get pod evictme -o jsonpath={.metadata.deletionTimestamp}')).out).toBe('');
    // No kubelet here to end the pod: the eviction leaves it Terminating, as the API server does.
    const eviction = JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'evictme', namespace: 'default' } });
    expect(JSON.parse((await k('create --raw /api/v1/namespaces/default/pods/evictme/eviction -f -', eviction)).out)).toMatchObject({ kind: 'Status', status: 'Success' });
    expect((await k('get pod evictme -o jsonpath={.metadata.deletionTimestamp}')).out).toMatch(/^\d{4}-\d\d-\d\dT/);
    const other = JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'someone-else' } });
    expect((await k('create --raw /api/v1/namespaces/default/pods/evictme/eviction -f -', other)).err).toBe('Error from server (BadRequest): name in URL does not match name in Eviction object');
    await k('delete pod evictme --grace-period=0 --force');
  });

  it('says who the caller is and what it may do, as kind answers its admin (1.32+ ask in protobuf)', async () => {
    expect((await k('auth whoami')).out.split('\n').map((l) => l.split(/\s{2,}/))).toEqual([
      ['ATTRIBUTE', 'VALUE'], ['Username', 'kubernetes-admin'], ['Groups', '[kubeadm:cluster-admins system:authenticated]'],
    ]);
    expect((await k('auth can-i create deployments.apps --subresource=scale -n kube-system')).out).toBe('yes');
    expect((await k('auth can-i get /healthz')).out).toBe('yes');
    const rules = (await k('auth can-i --list')).out.split('\n');
    expect(rules[0].split(/\s{2,}/)).toEqual(['Resources', 'Non-Resource URLs', 'Resource Names', 'Verbs']);
    expect(rules[1].split(/\s+/)).toEqual(['*.*', '[]', '[]', '[*]']);
    expect(rules).toContainEqual(expect.stringMatching(/^selfsubjectaccessreviews\.authorization\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]$/));
    // A token of a service account, as `kubectl create token` asks for one, stands for it.
    const token = (await untilPrints(async () => (await k('create token default')).out, /^eyJ/, 'create token default')).trim();
    expect((await k(`--token ${token} auth whoami`)).out).toContain('system:serviceaccount:default:default');
    expect((await k('create token default --duration=5m')).err).toBe('error: failed to create token: TokenRequest.authentication.k8s.io "default" is invalid: spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes');
    // Reviews are created, never read back.
    expect((await k('get --raw /apis/authorization.k8s.io/v1/selfsubjectaccessreviews')).err).toBe('Error from server (MethodNotAllowed): the server does not allow this method on the requested resource');
  });
});
