import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreV1Event, V1ContainerPort, V1Deployment, V1ObjectMeta, V1PodSpec } from '@kubernetes/client-node';
import { serveDocs } from './discovery.ts';
import { KINDS, KIND_NAMES, groupVersion } from './kinds.ts';
import { KindRegistry } from './registry.ts';
import { openApiV2Document, openApiV3Document, openApiV3Index, readAttributeTypeMap } from './openapi.ts';
import { ObjectStore } from './store.ts';
import { established, widgetDefinition } from './testing/crd.ts';
import { kubectlBinDir, kubectlRunner, startDocsServer, type DocsServer, type KubectlRunner } from './testing/docs-server.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON documents, navigated freely
type Schema = Record<string, any>;
interface Operation { parameters?: { name: string; in: string }[]; 'x-kubernetes-group-version-kind': { group: string; version: string; kind: string }; 'x-kubernetes-action': string }

const docPath = (gv: { group: string; version: string }) => (gv.group ? `apis/${gv.group}/${gv.version}` : `api/${gv.version}`);
const BUILTIN = new KindRegistry();
const doc = (path: string) => JSON.parse(openApiV3Document(path, BUILTIN)!) as { openapi: string; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } };
const ALL_DOCS = BUILTIN.groupVersions().map((gv) => ({ gv, path: docPath(gv) }));

/** Every $ref anywhere in a JSON value (JSONSchemaProps also has a property named $ref: not a reference). */
function refsIn(value: unknown, into: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refsIn(v, into));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) (k === '$ref' && typeof v === 'string' ? into.push(v) : refsIn(v, into));
  return into;
}

describe('reading client-node models', () => {
  it('reads the same attributeTypeMap as the class carries', () => {
    for (const cls of [V1ContainerPort, V1PodSpec, V1ObjectMeta, CoreV1Event, V1Deployment]) {
      expect(readAttributeTypeMap(cls.name)).toEqual(cls.attributeTypeMap);
    }
  });
});

describe('/openapi/v3', () => {
  it('lists every served group version with a URL carrying the hash of its document', () => {
    const index = JSON.parse(openApiV3Index(BUILTIN)) as { paths: Record<string, { serverRelativeURL: string }> };
    expect(Object.keys(index.paths).sort()).toEqual(ALL_DOCS.map((d) => d.path).sort());
    for (const { path } of ALL_DOCS) {
      const hash = createHash('sha512').update(openApiV3Document(path, BUILTIN)!).digest('hex').toUpperCase();
      expect(index.paths[path].serverRelativeURL).toBe(`/openapi/v3/${path}?hash=${hash}`);
    }
  });

  it('is served as JSON through serveDocs, with the hash query ignored', () => {
    const version = { major: '1', minor: '33', gitVersion: 'v1.33.1' };
    const res = serveDocs('/openapi/v3/apis/apps/v1', new URLSearchParams('hash=X'), 'application/json', version, BUILTIN);
    expect(res).toMatchObject({ status: 200, contentType: 'application/json' });
    expect(res!.body).toBe(openApiV3Document('apis/apps/v1', BUILTIN));
    expect(openApiV3Document('apis/apps/v2', BUILTIN)).toBeUndefined();
  });
});

describe.each(ALL_DOCS)('the $path document', ({ gv, path }) => {
  const d = doc(path);
  const kinds = KIND_NAMES.filter((n) => KINDS[n].group === gv.group && KINDS[n].version === gv.version).map((n) => KINDS[n]);

  it('is OpenAPI 3.0 whose every $ref resolves to one of its schemas', () => {
    expect(d.openapi).toMatch(/^3\.0\./);
    const missing = refsIn(d).filter((r) => !d.components.schemas[r.replace('#/components/schemas/', '')]);
    expect(missing).toEqual([]);
  });

  it('has a schema carrying the GVK of each kind and of its list', () => {
    for (const k of kinds) {
      for (const kind of [k.kind, `${k.kind}List`]) {
        const withGvk = Object.entries(d.components.schemas).filter(([, s]) => (s['x-kubernetes-group-version-kind'] ?? []).some((g: Schema) => g.kind === kind && g.group === k.group));
        expect(withGvk.map(([name]) => name)).toEqual([`io.k8s.api.${k.group ? k.group.split('.')[0] : 'core'}.${k.version}.${kind}`]);
        expect(withGvk[0][1]['x-kubernetes-group-version-kind']).toEqual([{ group: k.group, kind, version: k.version }]);
      }
    }
  });

  it('declares fieldValidation on every PATCH of a served kind (kubectl checks the first it meets)', () => {
    const isServedKind = (g: Operation['x-kubernetes-group-version-kind']) => KIND_NAMES.some((n) => KINDS[n].group === g.group && KINDS[n].kind === g.kind);
    const patches = Object.values(d.paths).flatMap((p) => (p.patch && isServedKind(p.patch['x-kubernetes-group-version-kind']) ? [p.patch] : []));
    expect(patches.length).toBeGreaterThanOrEqual(kinds.filter((k) => k.verbs.includes('patch')).length);
    for (const op of patches) expect(op.parameters?.map((p) => p.name)).toContain('fieldValidation');
    for (const k of kinds.filter((x) => x.verbs.includes('patch'))) {
      const base = `/${path}${k.namespaced ? '/namespaces/{namespace}' : ''}/${k.plural}`;
      expect(d.paths[`${base}/{name}`].patch['x-kubernetes-group-version-kind']).toEqual({ group: k.group, version: k.version, kind: k.kind });
      expect(d.paths[base].get['x-kubernetes-action']).toBe('list');
    }
  });
});

describe('schemas', () => {
  const core = doc('api/v1').components.schemas;
  const apps = doc('apis/apps/v1').components.schemas;

  it('are named as upstream names them, whichever group refers to them', () => {
    expect(Object.keys(core)).toEqual(expect.arrayContaining([
      'io.k8s.api.core.v1.Pod', 'io.k8s.api.core.v1.PodSpec', 'io.k8s.api.core.v1.EndpointPort', 'io.k8s.api.core.v1.Event',
      'io.k8s.api.policy.v1.Eviction', 'io.k8s.api.authentication.v1.TokenRequest',
      'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', 'io.k8s.apimachinery.pkg.apis.meta.v1.Time', 'io.k8s.apimachinery.pkg.util.intstr.IntOrString',
    ]));
    expect(Object.keys(apps)).toEqual(expect.arrayContaining(['io.k8s.api.apps.v1.DeploymentSpec', 'io.k8s.api.core.v1.PodTemplateSpec', 'io.k8s.api.core.v1.Container', 'io.k8s.api.autoscaling.v1.Scale']));
    expect(Object.keys(apps).filter((n) => /^io\.k8s\.api\.apps\.v1\.(Pod|Container|Volume|Probe|PersistentVolumeClaim)/.test(n))).toEqual([]);
    expect(Object.keys(doc('apis/discovery.k8s.io/v1').components.schemas)).toEqual(expect.arrayContaining(['io.k8s.api.discovery.v1.EndpointPort', 'io.k8s.api.core.v1.ObjectReference']));
    expect(Object.keys(doc('apis/networking.k8s.io/v1').components.schemas)).toEqual(expect.arrayContaining(['io.k8s.api.core.v1.TypedLocalObjectReference', 'io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector']));
  });

  it('carry types, formats, required fields and the upstream descriptions', () => {
    const port = core['io.k8s.api.core.v1.ContainerPort'];
    expect(port.description).toBe('ContainerPort represents a network port in a single container.');
    expect(port.required).toEqual(['containerPort']);
    expect(port.properties.containerPort).toMatchObject({ type: 'integer', format: 'int32' });
    expect(port.properties.protocol.description).toBe('Protocol for port. Must be UDP, TCP, or SCTP. Defaults to "TCP".');
    const container = core['io.k8s.api.core.v1.Container'];
    expect(container.properties.ports).toMatchObject({ type: 'array', items: { $ref: '#/components/schemas/io.k8s.api.core.v1.ContainerPort' } });
    expect(container.properties.env.description).toMatch(/^List of environment variables/);
    expect(core['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'].properties.labels).toMatchObject({ type: 'object', additionalProperties: { type: 'string' } });
    expect(core['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta'].properties.creationTimestamp.allOf).toEqual([{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Time' }]);
    // A reference whose description client-node lost is described by the referenced type.
    expect(core['io.k8s.api.core.v1.Pod'].properties.spec).toEqual({ $ref: '#/components/schemas/io.k8s.api.core.v1.PodSpec', description: core['io.k8s.api.core.v1.PodSpec'].description });
  });
});

const binDir = kubectlBinDir();
// 1.28 reads /openapi/v2 (protobuf) first, then renders explain from v3.
const MINORS = ['1.28', '1.29', '1.30', '1.31', '1.32', '1.33'];

describe.skipIf(!binDir)('the real kubectl', () => {
  let server: DocsServer;
  let kubectl: KubectlRunner;
  beforeAll(async () => {
    server = await startDocsServer({ major: '1', minor: '33', gitVersion: 'v1.33.1' });
    kubectl = kubectlRunner(binDir!, server.url);
  });
  afterAll(async () => {
    kubectl.cleanup();
    await server.close();
  });

  describe.each(MINORS)('kubectl %s', (minor) => {
    it('explain pods.spec.containers.ports prints the field docs', async () => {
      const { exitCode, stdout, stderr } = await kubectl.run(minor, ['explain', 'pods.spec.containers.ports']);
      expect(stderr).toBe('');
      expect(exitCode).toBe(0);
      expect(stdout).toMatch(/KIND:\s+Pod\nVERSION:\s+v1/);
      expect(stdout).toContain('FIELD: ports <[]ContainerPort>');
      expect(stdout).toContain('ContainerPort represents a network port in a single container.');
      expect(stdout).toMatch(/containerPort\t<integer> -required-\n\s+Number of port to expose on the pod's IP address/);
      expect(stdout).toMatch(/protocol\t<string>\n\s+Protocol for port. Must be UDP, TCP, or SCTP. Defaults to "TCP"./);
    });

    it('explain deployment --recursive walks the whole schema', async () => {
      const { exitCode, stdout } = await kubectl.run(minor, ['explain', 'deployment', '--recursive']);
      expect(exitCode).toBe(0);
      expect(stdout).toMatch(/GROUP:\s+apps\nKIND:\s+Deployment\nVERSION:\s+v1/);
      expect(stdout).toMatch(/^ {4}template\t<PodTemplateSpec> -required-$/m);
      expect(stdout).toMatch(/^ {8}containers\t<\[\]Container> -required-$/m);
      expect(stdout).toMatch(/^ {10}ports\t<\[\]ContainerPort>$/m);
      expect(stdout).toMatch(/^ {8}maxSurge\t<IntOrString>$/m);
    });

    it('explain of a cluster-scoped kind in a named group', async () => {
      const { exitCode, stdout } = await kubectl.run(minor, ['explain', 'ingressclass.spec']);
      expect(exitCode).toBe(0);
      expect(stdout).toMatch(/GROUP:\s+networking.k8s.io\nKIND:\s+IngressClass/);
      expect(stdout).toContain('controller\t<string>');
    });

    it('create finds fieldValidation in the OpenAPI documents and asks the server for strict validation', async () => {
      const manifest = 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-all}\nspec: {podSelector: {}}\n';
      const { exitCode, stdout, stderr } = await kubectl.run(minor, ['create', '-f', '-'], manifest);
      expect(stderr).toBe('');
      expect(exitCode).toBe(0);
      expect(stdout).toContain('networkpolicy.networking.k8s.io/deny-all created');
      expect(server.requests).toContainEqual(expect.objectContaining({ method: 'POST', url: expect.stringMatching(/^\/apis\/networking.k8s.io\/v1\/namespaces\/default\/networkpolicies\?.*fieldValidation=Strict/) }));
    });
  });

  it('every served kind explains', async () => {
    const results = await Promise.all(KIND_NAMES.map((name) => kubectl.run('1.33', ['explain', `${KINDS[name].plural}.metadata.name`, `--api-version=${groupVersion(KINDS[name])}`])));
    KIND_NAMES.forEach((name, i) => {
      expect(results[i].exitCode, name).toBe(0);
      expect(results[i].stdout, name).toContain(`KIND:       ${KINDS[name].kind}`);
    });
  });
});

describe('the documents of custom kinds', () => {
  const kinds = new KindRegistry();
  const store = new ObjectStore(kinds);
  kinds.follow(store);
  store.put('CustomResourceDefinition', established(widgetDefinition()));
  const custom = (path: string) => JSON.parse(openApiV3Document(path, kinds)!) as { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } };

  it('are listed for every served version, beside the built-in ones', () => {
    const index = JSON.parse(openApiV3Index(kinds)) as { paths: Record<string, unknown> };
    expect(Object.keys(index.paths)).toEqual(expect.arrayContaining(['api/v1', 'apis/example.com/v1', 'apis/example.com/v1beta1']));
  });

  it('carry the kind\'s paths, PATCH declaring fieldValidation, and its schema under upstream\'s name', () => {
    const d = custom('apis/example.com/v1');
    const patch = d.paths['/apis/example.com/v1/namespaces/{namespace}/widgets/{name}'].patch;
    expect(patch['x-kubernetes-group-version-kind']).toEqual({ group: 'example.com', version: 'v1', kind: 'Widget' });
    expect(patch.parameters?.map((p) => p.name)).toContain('fieldValidation');
    expect(d.paths['/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/status'].put).toBeDefined();
    expect(d.paths['/apis/example.com/v1/widgets'].get['x-kubernetes-action']).toBe('list');
    const widget = d.components.schemas['com.example.v1.Widget'];
    expect(widget['x-kubernetes-group-version-kind']).toEqual([{ group: 'example.com', kind: 'Widget', version: 'v1' }]);
    expect(widget.properties.spec.properties.size).toMatchObject({ type: 'integer', description: 'How big the widget is.' });
    expect(widget.properties.metadata.allOf).toEqual([{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' }]);
    expect(d.components.schemas['com.example.v1.WidgetList']['x-kubernetes-group-version-kind']).toEqual([{ group: 'example.com', kind: 'WidgetList', version: 'v1' }]);
    const missing = refsIn(d).filter((r) => !d.components.schemas[r.replace('#/components/schemas/', '')]);
    expect(missing).toEqual([]);
  });

  it('change with the definition: its hash in the index too', () => {
    const hashOf = () => (JSON.parse(openApiV3Index(kinds)) as { paths: Record<string, { serverRelativeURL: string }> }).paths['apis/example.com/v1'].serverRelativeURL;
    const before = hashOf();
    const apps = openApiV3Document('apis/apps/v1', kinds);
    store.put('CustomResourceDefinition', established(widgetDefinition((c) => { c.spec.versions[1].schema!.openAPIV3Schema.description = 'A widget.'; })));
    expect(hashOf()).not.toBe(before);
    expect(custom('apis/example.com/v1').components.schemas['com.example.v1.Widget'].description).toBe('A widget.');
    expect(openApiV3Document('apis/apps/v1', kinds)).toBe(apps);
  });

  it('are in OpenAPI v2 too, for kubectl 1.28\'s check of fieldValidation', () => {
    expect(openApiV2Document(kinds).toString('latin1')).toContain('/apis/example.com/v1/namespaces/{namespace}/widgets/{name}');
    expect(openApiV2Document(BUILTIN).toString('latin1')).not.toContain('widgets');
  });
});
