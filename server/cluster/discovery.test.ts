import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDocs, type DocResponse, type ServerVersion } from './discovery.ts';
import { KINDS, KIND_NAMES, groupVersion } from './kinds.ts';
import { KindRegistry } from './registry.ts';
import { ObjectStore } from './store.ts';
import { established, widgetDefinition } from './testing/crd.ts';
import { kubectlBinDir, kubectlRunner, startDocsServer, type DocsServer, type KubectlRunner } from './testing/docs-server.ts';

const VERSION: ServerVersion = { major: '1', minor: '33', gitVersion: 'v1.33.1' };
// What kubectl sends for /api and /apis (REFERENCE.md §6).
const ACCEPT_1_30 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';
const ACCEPT_1_28 = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';

const get = (path: string, accept?: string) => serveDocs(path, new URLSearchParams(), accept, VERSION, new KindRegistry());
const body = (res: DocResponse | undefined) => JSON.parse(String(res!.body));

interface AggregatedResource { resource: string; responseKind: { group: string; version: string; kind: string }; scope: string; singularResource: string; verbs: string[]; shortNames?: string[]; categories?: string[]; subresources?: { subresource: string; responseKind: { group: string; version: string; kind: string }; verbs: string[] }[] }
interface AggregatedList { kind: string; apiVersion: string; items: { metadata: { name?: string }; versions: { version: string; resources: AggregatedResource[]; freshness: string }[] }[] }

describe('/version', () => {
  it('serves the full version.Info with the given version', () => {
    const res = get('/version');
    expect(res).toMatchObject({ status: 200, contentType: 'application/json' });
    const info = body(res);
    expect(info).toMatchObject({ major: '1', minor: '33', gitVersion: 'v1.33.1', gitTreeState: 'clean', compiler: 'gc' });
    expect(Object.keys(info).sort()).toEqual(['buildDate', 'compiler', 'gitCommit', 'gitTreeState', 'gitVersion', 'goVersion', 'major', 'minor', 'platform']);
    expect(info.platform).toMatch(/^linux\/(amd64|arm64)$/);
  });
});

describe('aggregated discovery', () => {
  const aggregated = (path: string, accept: string) => body(get(path, accept)) as AggregatedList;

  it('answers v2 to kubectl 1.30+, with the exact Content-Type client-go parses', () => {
    expect(get('/apis', ACCEPT_1_30)?.contentType).toBe('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    expect(get('/api', ACCEPT_1_30)?.contentType).toBe('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    expect(aggregated('/apis', ACCEPT_1_30)).toMatchObject({ kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2' });
  });

  it('answers v2beta1 to kubectl 1.28/1.29', () => {
    expect(get('/api', ACCEPT_1_28)?.contentType).toBe('application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList');
    expect(aggregated('/api', ACCEPT_1_28).apiVersion).toBe('apidiscovery.k8s.io/v2beta1');
  });

  it('puts the core group (unnamed) at /api and every other group at /apis', () => {
    const core = aggregated('/api', ACCEPT_1_30);
    expect(core.items).toHaveLength(1);
    expect(core.items[0].metadata.name).toBeUndefined();
    expect(aggregated('/apis', ACCEPT_1_30).items.map((i) => i.metadata.name)).toEqual(['apps', 'discovery.k8s.io', 'networking.k8s.io', 'apiextensions.k8s.io']);
  });

  it('lists every kind with scope, names, verbs, categories and subresources', () => {
    const resources = [...aggregated('/api', ACCEPT_1_30).items, ...aggregated('/apis', ACCEPT_1_30).items]
      .flatMap((g) => g.versions.flatMap((v) => v.resources.map((r) => ({ gv: groupVersion({ group: g.metadata.name ?? '', version: v.version }), ...r }))));
    expect(resources.map((r) => r.resource).sort()).toEqual(KIND_NAMES.map((n) => KINDS[n].plural).sort());
    for (const name of KIND_NAMES) {
      const info = KINDS[name];
      const r = resources.find((x) => x.resource === info.plural)!;
      expect(r).toMatchObject({ gv: groupVersion(info), responseKind: { group: info.group, version: info.version, kind: info.kind }, scope: info.namespaced ? 'Namespaced' : 'Cluster', singularResource: info.singular, verbs: info.verbs });
      expect(r.shortNames ?? []).toEqual(info.shortNames);
      expect(r.categories ?? []).toEqual(info.categories);
      expect((r.subresources ?? []).map((s) => s.subresource)).toEqual(info.subresources.map((s) => s.name));
    }
    const deployments = resources.find((r) => r.resource === 'deployments')!;
    expect(deployments.subresources!.find((s) => s.subresource === 'scale')).toEqual({ subresource: 'scale', responseKind: { group: 'autoscaling', version: 'v1', kind: 'Scale' }, verbs: ['get', 'patch', 'update'] });
    expect(deployments.subresources!.find((s) => s.subresource === 'status')!.responseKind).toEqual({ group: 'apps', version: 'v1', kind: 'Deployment' });
    expect(resources.find((r) => r.resource === 'pods')!.categories).toEqual(['all']);
  });
});

describe('legacy discovery', () => {
  it('serves APIVersions at /api and APIGroupList at /apis for plain JSON', () => {
    expect(get('/api', 'application/json, */*')).toMatchObject({ status: 200, contentType: 'application/json' });
    expect(body(get('/api', 'application/json'))).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const groups = body(get('/apis'));
    expect(groups.kind).toBe('APIGroupList');
    expect(groups.groups.find((g: { name: string }) => g.name === 'apps')).toEqual({ name: 'apps', versions: [{ groupVersion: 'apps/v1', version: 'v1' }], preferredVersion: { groupVersion: 'apps/v1', version: 'v1' } });
  });

  it('serves APIGroup at /apis/<group>', () => {
    expect(body(get('/apis/networking.k8s.io'))).toMatchObject({ kind: 'APIGroup', name: 'networking.k8s.io', preferredVersion: { groupVersion: 'networking.k8s.io/v1' } });
  });

  it('serves APIResourceList with subresource entries, the scale one speaking autoscaling/v1 Scale', () => {
    const apps = body(get('/apis/apps/v1'));
    expect(apps).toMatchObject({ kind: 'APIResourceList', groupVersion: 'apps/v1' });
    expect(apps.resources.find((r: { name: string }) => r.name === 'deployments')).toMatchObject({ singularName: 'deployment', namespaced: true, kind: 'Deployment', shortNames: ['deploy'], categories: ['all'] });
    expect(apps.resources.find((r: { name: string }) => r.name === 'deployments/scale')).toEqual({ name: 'deployments/scale', singularName: '', namespaced: true, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] });
    const core = body(get('/api/v1'));
    expect(core.resources.find((r: { name: string }) => r.name === 'pods/log')).toEqual({ name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] });
    expect(core.resources.find((r: { name: string }) => r.name === 'namespaces')).toMatchObject({ namespaced: false, shortNames: ['ns'] });
    const names = [...core.resources, ...apps.resources, ...body(get('/apis/discovery.k8s.io/v1')).resources, ...body(get('/apis/networking.k8s.io/v1')).resources, ...body(get('/apis/apiextensions.k8s.io/v1')).resources]
      .map((r: { name: string }) => r.name).filter((n: string) => !n.includes('/'));
    expect(names.sort()).toEqual(KIND_NAMES.map((n) => KINDS[n].plural).sort());
  });
});

describe('what is not a document', () => {
  it('leaves other paths to the caller and unserved group versions too', () => {
    for (const path of ['/healthz', '/api/v2', '/apis/batch', '/apis/apps/v2', '/apis/apps/v1/deployments', '/api/v1/pods']) expect(get(path)).toBeUndefined();
  });

  it('answers /openapi/v2 only in protobuf (what kubectl 1.28 asks for), 404 otherwise', () => {
    const v2 = get('/openapi/v2', 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf');
    expect(v2).toMatchObject({ status: 200, contentType: 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf' });
    expect(Buffer.isBuffer(v2!.body)).toBe(true);
    expect(get('/openapi/v2', 'application/json')?.status).toBe(404);
    expect(get('/openapi/v3/apis/batch/v1')?.status).toBe(404);
  });

  it('answers 406 NotAcceptable when the client accepts nothing it can send', () => {
    const res = get('/api/v1', 'application/vnd.kubernetes.protobuf');
    expect(res?.status).toBe(406);
    expect(body(res)).toMatchObject({ kind: 'Status', reason: 'NotAcceptable', code: 406 });
  });
});

const binDir = kubectlBinDir();
const MINORS = ['1.28', '1.29', '1.30', '1.31', '1.32', '1.33'];

describe.skipIf(!binDir)('the real kubectl', () => {
  const web = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default', uid: 'u1', resourceVersion: '7' }, spec: { replicas: 1 } };
  const servers: DocsServer[] = [];
  const runners: KubectlRunner[] = [];
  const runnerFor = new Map<string, { server: DocsServer; kubectl: KubectlRunner }>();

  beforeAll(async () => {
    // One server per minor, serving that minor's version: no skew warnings, and what the dispatcher would pick.
    for (const minor of MINORS) {
      const server = await startDocsServer({ major: '1', minor: minor.split('.')[1], gitVersion: `v${minor}.0` }, { '/apis/apps/v1/namespaces/default/deployments/web': web });
      const kubectl = kubectlRunner(binDir!, server.url);
      servers.push(server);
      runners.push(kubectl);
      runnerFor.set(minor, { server, kubectl });
    }
  });
  afterAll(async () => {
    runners.forEach((r) => r.cleanup());
    await Promise.all(servers.map((s) => s.close()));
  });

  describe.each(MINORS)('kubectl %s', (minor) => {
    const kubectl = () => runnerFor.get(minor)!.kubectl;

    it('api-resources lists every kind with its short names, APIVERSION, scope and KIND', async () => {
      const { exitCode, stdout, stderr } = await kubectl().run(minor, ['api-resources', '--no-headers']);
      expect(stderr).toBe('');
      expect(exitCode).toBe(0);
      const rows = stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
      expect(rows).toHaveLength(KIND_NAMES.length);
      for (const name of KIND_NAMES) {
        const info = KINDS[name];
        expect(rows).toContainEqual([info.plural, ...(info.shortNames.length ? [info.shortNames.join(',')] : []), groupVersion(info), String(info.namespaced), info.kind]);
      }
    });

    it('api-versions lists the served group versions', async () => {
      const { stdout } = await kubectl().run(minor, ['api-versions']);
      expect(stdout.trim().split('\n')).toEqual(['apiextensions.k8s.io/v1', 'apps/v1', 'discovery.k8s.io/v1', 'networking.k8s.io/v1', 'v1']);
    });

    it('version -o json shows the served version', async () => {
      const { exitCode, stdout } = await kubectl().run(minor, ['version', '-o', 'json']);
      expect(exitCode).toBe(0);
      expect(JSON.parse(stdout).serverVersion).toMatchObject({ major: '1', minor: minor.split('.')[1], gitVersion: `v${minor}.0`, platform: expect.stringMatching(/^linux\//) });
    });

    it('scale finds the autoscaling/v1 Scale subresource and patches it', async () => {
      const { exitCode, stdout, stderr } = await kubectl().run(minor, ['scale', 'deployment/web', '--replicas=3']);
      expect(stderr).toBe('');
      expect(exitCode).toBe(0);
      expect(stdout).toContain('deployment.apps/web scaled');
      expect(runnerFor.get(minor)!.server.requests).toContainEqual(expect.objectContaining({ method: 'PATCH', url: expect.stringMatching(/^\/apis\/apps\/v1\/namespaces\/default\/deployments\/web\/scale/) }));
    });

    it('uses aggregated discovery (one request for /api, one for /apis)', async () => {
      const { server } = runnerFor.get(minor)!;
      const before = server.requests.length;
      await kubectl().run(minor, ['get', '--raw', '/version']); // a command that does not need discovery
      await kubectl().run(minor, ['api-resources']);
      const discovery = server.requests.slice(before).filter((r) => /^\/apis?(\/|\?|$)/.test(r.url)).map((r) => r.url.split('?')[0]);
      expect(discovery.sort()).toEqual(['/api', '/apis']);
    });
  });
});

describe('discovery of custom kinds', () => {
  const kinds = new KindRegistry();
  const store = new ObjectStore(kinds);
  kinds.follow(store);
  store.put('CustomResourceDefinition', established(widgetDefinition()));
  const doc = (path: string, accept?: string) => body(serveDocs(path, new URLSearchParams(), accept, VERSION, kinds));

  it('lists an established definition\'s group with its preferred version first, in both forms', () => {
    const group = (doc('/apis', ACCEPT_1_30) as AggregatedList).items.find((i) => i.metadata.name === 'example.com')!;
    expect(group.versions.map((v) => v.version)).toEqual(['v1', 'v1beta1']);
    expect(group.versions[0].resources).toEqual([{
      resource: 'widgets', responseKind: { group: 'example.com', version: 'v1', kind: 'Widget' }, scope: 'Namespaced', singularResource: 'widget',
      verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['wd'], categories: ['all'],
      subresources: [{ subresource: 'status', responseKind: { group: 'example.com', version: 'v1', kind: 'Widget' }, verbs: ['get', 'patch', 'update'] }],
    }]);
    expect(doc('/apis/example.com')).toMatchObject({ kind: 'APIGroup', preferredVersion: { groupVersion: 'example.com/v1' } });
    expect(doc('/apis/example.com/v1beta1').resources.map((r: { name: string }) => r.name)).toEqual(['widgets', 'widgets/status']);
  });

  it('drops it once the definition is gone', () => {
    store.remove('CustomResourceDefinition', undefined, 'widgets.example.com');
    expect((doc('/apis', ACCEPT_1_30) as AggregatedList).items.map((i) => i.metadata.name)).not.toContain('example.com');
    expect(serveDocs('/apis/example.com/v1', new URLSearchParams(), undefined, VERSION, kinds)).toBeUndefined();
  });
});
