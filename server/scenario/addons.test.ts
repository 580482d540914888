import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { baseTopology } from '../lab/topology.ts';
import type { LabFacts } from '../lab/types.ts';
import { parseYamlDocs } from '../providers/kind/render.ts';
import { loadScenario, ScenarioError } from './load.ts';
import { renderScenario } from './render.ts';

// A scenario asks for shared add-ons by name; rendering installs them first, per provider.

const dir = mkdtempSync(join(tmpdir(), 'netdojo-addons-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const topo = baseTopology();
const facts: LabFacts = {
  id: 'ltest0001', scenario: 'x', provider: 'netns', seed: 1, nodes: topo.nodes, dns: topo.dns,
  pods: [{ target: 'default/client-worker', node: 'worker', ip: '10.244.1.2', app: 'client' }], services: [],
};
const targets = ['control-plane', 'worker', 'default/client-worker'];

function write(id: string, addons: string): void {
  mkdirSync(join(dir, id), { recursive: true });
  writeFileSync(join(dir, id, 'scenario.yaml'), [
    `id: ${id}`, 'title: T', 'summary: S', 'difficulty: beginner', 'minutes: 5', 'tags: [x]', 'concepts: [x]', 'track: services', 'competencies: [service-types]', 'learned: L',
    `addons: ${addons}`, 'manifests: [app.yaml]',
    "break: [{ on: admin, run: 'true' }]", "solution: [{ on: admin, run: 'true' }]",
    "checks: [{ id: c, title: C, kind: state, from: admin, run: 'true', broken: WRONG_ANSWER }]", 'hints: [h]',
  ].join('\n'));
  writeFileSync(join(dir, id, 'app.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: app }\n');
  writeFileSync(join(dir, id, 'brief.md'), 'b');
}

describe('scenario add-ons', () => {
  it('an unknown add-on is named with the file, the field, its line and the add-ons there are', async () => {
    write('unknown-addon', '[ingress-nginx, traefik]');
    const err = await loadScenario('unknown-addon', dir).catch((e) => e);
    expect(err).toBeInstanceOf(ScenarioError);
    expect(err.message).toContain(join(dir, 'unknown-addon', 'scenario.yaml'));
    expect(err.message).toMatch(/addons\[1\] \(line 11\): unknown add-on "traefik"; expected one of: ingress-nginx/);
  });

  it('installs ingress-nginx before the scenario\'s own objects and waits for its controller; kind also gets its RBAC', async () => {
    write('with-ingress', '[ingress-nginx]');
    const loaded = await loadScenario('with-ingress', dir);
    const steps = (provider: 'netns' | 'kind') => renderScenario(loaded, { ...facts, provider }, 1, provider, targets).setup;
    expect(steps('netns').map((s) => s.name)).toEqual(['Applying ingress-nginx.yaml', 'Waiting for ingress-nginx', 'Applying app.yaml']);
    expect(steps('kind').map((s) => s.name)).toEqual(['Applying ingress-nginx.yaml', 'Applying ingress-nginx-rbac.yaml', 'Waiting for ingress-nginx', 'Applying app.yaml']);
    expect(steps('netns')[1]).toMatchObject({ on: 'admin', run: expect.stringMatching(/^kubectl -n ingress-nginx rollout status deployment\/ingress-nginx-controller/) });
    // The manifest goes to kubectl as written: $(POD_NAMESPACE) is the kubelet's to expand.
    const applied = steps('netns')[0].run;
    expect(applied).toMatch(/^kubectl apply -f - <<'NETDOJO_MANIFEST'\n/);
    expect(applied).toContain('--publish-service=$(POD_NAMESPACE)/ingress-nginx-controller');
  });

  it('the add-on\'s objects are what ingress-nginx installs on kind: its namespace, controller, Service, IngressClass and RBAC', async () => {
    write('kinds', '[ingress-nginx]');
    const [manifest, rbac] = renderScenario(await loadScenario('kinds', dir), { ...facts, provider: 'kind' }, 1, 'kind', targets).setup;
    const objects = (step: typeof manifest) => parseYamlDocs(step.run.split('\n').slice(1, -2).join('\n')) as { kind: string; metadata: { name: string }; spec?: any }[];
    expect(objects(manifest).map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Namespace/ingress-nginx', 'ServiceAccount/ingress-nginx', 'ConfigMap/ingress-nginx-controller', 'Service/ingress-nginx-controller',
      'Deployment/ingress-nginx-controller', 'IngressClass/nginx',
    ]);
    const [, , , svc, deploy, ingressClass] = objects(manifest);
    expect(svc.spec).toMatchObject({ type: 'LoadBalancer', ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] });
    expect(deploy.spec.template.metadata.labels).toMatchObject({ 'app.kubernetes.io/name': 'ingress-nginx', 'app.kubernetes.io/component': 'controller' });
    expect(deploy.spec.template.spec.containers[0].image).toMatch(/^registry\.k8s\.io\/ingress-nginx\/controller:v\d+\.\d+\.\d+$/);
    expect(ingressClass.spec).toEqual({ controller: 'k8s.io/ingress-nginx' });
    expect(objects(rbac).map((o) => o.kind)).toEqual(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']);
  });

  it('gateway-api brings the ingress-nginx it needs first, once, and its GatewayClass names that controller', async () => {
    write('with-gateway', '[gateway-api, ingress-nginx]');
    const setup = renderScenario(await loadScenario('with-gateway', dir), facts, 1, 'netns', targets).setup;
    expect(setup.map((s) => s.name)).toEqual(['Applying ingress-nginx.yaml', 'Waiting for ingress-nginx', 'Applying gateway-api-crds.yaml',
      'Applying gateway-class-nginx.yaml', 'Waiting for gateway-api', 'Applying app.yaml']);
    expect(setup[4].run).toBe('kubectl wait --for=condition=Accepted gatewayclass/nginx --timeout=60s');
    const objects = (run: string) => parseYamlDocs(run.split('\n').slice(1, -2).join('\n')) as { kind: string; spec?: any }[];
    const controller = objects(setup[0].run).find((o) => o.kind === 'Deployment')!.spec.template.spec.containers[0].args
      .find((a: string) => a.startsWith('--controller-class='))!.split('=')[1];
    expect(objects(setup[3].run)).toEqual([expect.objectContaining({ kind: 'GatewayClass', spec: expect.objectContaining({ controllerName: controller }) })]);
    // On kind nothing accepts the class (the real ingress-nginx does not implement the Gateway API): its CRDs are waited for.
    const kind = renderScenario(await loadScenario('with-gateway', dir), { ...facts, provider: 'kind' }, 1, 'kind', targets).setup;
    expect(kind.find((s) => s.name === 'Waiting for gateway-api')!.run).toMatch(/^kubectl wait --for=condition=Established crd\/gateways\.gateway\.networking\.k8s\.io /);
  });
});
