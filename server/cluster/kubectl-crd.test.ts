import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectlMinors } from '../../test/support/env.ts';
import { startTestCluster, type TestCluster } from './testing/cluster.ts';

// CustomResourceDefinitions with the real kubectl, every minor from 1.28 this machine has (1.28
// and 1.29 read aggregated discovery v2beta1 and, for apply, OpenAPI v2; later ones v2 and v3): the
// Gateway API's CRDs installed from manifests/, then a GatewayClass, a Gateway and an HTTPRoute
// applied, printed, explained, validated, watched, patched, and deleted with their definitions.

const minors = [...kubectlMinors().keys()].filter((m) => Number(m.split('.')[1]) >= 28);
const why = minors.length ? undefined : 'kubectl 1.28 or later is not installed';
if (why) console.warn(`skipping kubectl CRD tests: ${why}`);

const CRDS = join(import.meta.dirname, '..', '..', 'manifests', 'gateway-api-crds.yaml');

const GATEWAY = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: { name: netdojo }
spec: { controllerName: netdojo.dev/gateway-controller, description: the lab's own }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: web, namespace: default }
spec:
  gatewayClassName: netdojo
  listeners: [{ name: http, protocol: HTTP, port: 80 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: web, namespace: default }
spec:
  parentRefs: [{ name: web }]
  hostnames: [web.example.com]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /api }, headers: [{ name: x-env, value: canary }] }]
    backendRefs: [{ name: web, port: 80 }]
`;

const pkiDir = mkdtempSync(join(tmpdir(), 'netdojo-pki-'));
afterAll(() => rmSync(pkiDir, { recursive: true, force: true }));

/** A table's lines, each split into its cells (two or more spaces apart; an empty cell vanishes). */
const table = (out: string) => out.trim().split('\n').map((l) => l.trim().split(/\s{2,}/));

describe.skipIf(why).each(minors)('kubectl %s', (minor) => {
  let t: TestCluster;
  beforeAll(async () => {
    t = await startTestCluster({ minor: minor.split('.')[1], pkiDir });
    const crds = await k(['apply', '-f', CRDS]);
    expect(crds.exitCode, crds.err).toBe(0);
    const ready = await k(['wait', '--for=condition=Established', '--timeout=30s', '-f', CRDS]);
    expect(ready.exitCode, ready.err).toBe(0);
  });
  afterAll(async () => { await t?.close(); });
  const k = async (args: string[], stdin?: string) => {
    const r = await t.kubectl(args, stdin);
    return { ...r, out: r.stdout.trim(), err: r.stderr.trim() };
  };

  it('installs the definitions, established with their names accepted, and lists their kinds', async () => {
    expect(table((await k(['get', 'crd'])).out)).toEqual([
      ['NAME', 'CREATED AT'],
      ...['gatewayclasses', 'gateways', 'httproutes', 'referencegrants'].map((p) => [`${p}.gateway.networking.k8s.io`, expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)]),
    ]);
    const status = JSON.parse((await k(['get', 'crd', 'gateways.gateway.networking.k8s.io', '-o', 'jsonpath={.status}'])).out);
    expect(status.acceptedNames).toEqual({ kind: 'Gateway', listKind: 'GatewayList', plural: 'gateways', singular: 'gateway', shortNames: ['gtw'], categories: ['gateway-api'] });
    expect(status.storedVersions).toEqual(['v1']);
    expect(Object.fromEntries(status.conditions.map((c: { type: string; status: string }) => [c.type, c.status]))).toEqual({ NamesAccepted: 'True', Established: 'True', KubernetesAPIApprovalPolicyConformant: 'True' });
    expect(table((await k(['api-resources', '--api-group=gateway.networking.k8s.io'])).out)).toEqual([
      ['NAME', 'SHORTNAMES', 'APIVERSION', 'NAMESPACED', 'KIND'],
      ['gatewayclasses', 'gc', 'gateway.networking.k8s.io/v1', 'false', 'GatewayClass'],
      ['gateways', 'gtw', 'gateway.networking.k8s.io/v1', 'true', 'Gateway'],
      ['httproutes', 'gateway.networking.k8s.io/v1', 'true', 'HTTPRoute'],
      ['referencegrants', 'refgrant', 'gateway.networking.k8s.io/v1beta1', 'true', 'ReferenceGrant'],
    ]);
  });

  it('applies a GatewayClass, a Gateway and an HTTPRoute and prints them as a real cluster does', async () => {
    const applied = await k(['apply', '-f', '-'], GATEWAY);
    expect(applied.out, applied.err).toBe('gatewayclass.gateway.networking.k8s.io/netdojo created\ngateway.gateway.networking.k8s.io/web created\nhttproute.gateway.networking.k8s.io/web created');
    // The class has no lists: nothing to send again. (The Gateway's listeners are a list the server
    // defaulted into, which a merge patch replaces whole: "configured", as on a real cluster.)
    expect((await k(['apply', '-f', '-'], GATEWAY)).out).toContain('gatewayclass.gateway.networking.k8s.io/netdojo unchanged');
    const age = expect.stringMatching(/^\d+s$/);
    expect(table((await k(['get', 'gatewayclass'])).out)).toEqual([['NAME', 'CONTROLLER', 'ACCEPTED', 'AGE'], ['netdojo', 'netdojo.dev/gateway-controller', 'Unknown', age]]);
    expect(table((await k(['get', 'gc', '-o', 'wide'])).out)[0]).toEqual(['NAME', 'CONTROLLER', 'ACCEPTED', 'AGE', 'DESCRIPTION']);
    // No controller has programmed it: no address, the status the CRD defaults.
    expect(table((await k(['get', 'gtw'])).out)).toEqual([['NAME', 'CLASS', 'ADDRESS', 'PROGRAMMED', 'AGE'], ['web', 'netdojo', 'Unknown', age]]);
    expect(table((await k(['get', 'httproutes.gateway.networking.k8s.io', '-A'])).out)).toEqual([['NAMESPACE', 'NAME', 'HOSTNAMES', 'AGE'], ['default', 'web', '["web.example.com"]', age]]);
    const all = (await k(['get', 'gateway-api', '-A', '-o', 'name'])).out.split('\n').sort();
    expect(all).toEqual(['gateway.gateway.networking.k8s.io/web', 'gatewayclass.gateway.networking.k8s.io/netdojo', 'httproute.gateway.networking.k8s.io/web']);
    // Defaults from the schema, as the API server fills them in.
    const route = JSON.parse((await k(['get', 'httproute', 'web', '-o', 'json'])).out);
    expect(route.spec.parentRefs).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'web' }]);
    expect(route.spec.rules[0].backendRefs).toEqual([{ group: '', kind: 'Service', name: 'web', port: 80, weight: 1 }]);
    expect(route.spec.rules[0].matches[0].headers).toEqual([{ name: 'x-env', type: 'Exact', value: 'canary' }]);
    const described = (await k(['describe', 'gateway', 'web'])).out;
    expect(described).toMatch(/^Name:\s+web$/m);
    expect(described).toMatch(/Gateway Class Name:\s+netdojo/);
    expect(described).toMatch(/From:\s+Same/);
  });

  it('takes status through the status subresource only, and prints what a controller reports', async () => {
    const reported = await k(['patch', 'gateway.gateway.networking.k8s.io', 'web', '--subresource=status', '--type=merge', '-p',
      '{"spec":{"gatewayClassName":"ignored"},"status":{"addresses":[{"value":"172.18.0.200"}],"conditions":[{"type":"Programmed","status":"True","reason":"Programmed","message":"ok","lastTransitionTime":"2025-06-01T12:00:00Z"}]}}']);
    expect(reported.out, reported.err).toBe('gateway.gateway.networking.k8s.io/web patched');
    expect(table((await k(['get', 'gateway.gateway.networking.k8s.io', 'web'])).out)[1]).toEqual(['web', 'netdojo', '172.18.0.200', 'True', expect.stringMatching(/^\d+s$/)]);
    // The address got its defaulted type; the spec sent to /status was not taken.
    expect((await k(['get', 'gtw', 'web', '-o', 'jsonpath={.status.addresses[0].type} {.spec.gatewayClassName}'])).out).toBe('IPAddress netdojo');
    const invalid = await k(['patch', 'gtw', 'web', '--subresource=status', '--type=merge', '-p', '{"status":{"conditions":[{"type":"Programmed","status":"Maybe"}]}}']);
    expect(invalid.exitCode).toBe(1);
    expect(invalid.err).toContain('status.conditions[0].status: Unsupported value: "Maybe": supported values: "True", "False", "Unknown"');
    expect(invalid.err).toContain('status.conditions[0].reason: Required value');
    // A write to the object leaves the status as reported.
    await k(['annotate', 'gtw', 'web', 'note=kept']);
    expect((await k(['get', 'gtw', 'web', '-o', 'jsonpath={.status.addresses[0].value}'])).out).toBe('172.18.0.200');
  });

  it('serves the objects at every served version', async () => {
    expect((await k(['get', 'gateways.v1beta1.gateway.networking.k8s.io', 'web', '-o', 'jsonpath={.apiVersion}'])).out).toBe('gateway.networking.k8s.io/v1beta1');
    expect((await k(['get', 'gateways.v1.gateway.networking.k8s.io', 'web', '-o', 'jsonpath={.apiVersion}'])).out).toBe('gateway.networking.k8s.io/v1');
  });

  it('explains the kinds from their schemas', async () => {
    const r = await k(['explain', 'gateway.spec.listeners.port']);
    expect(r.exitCode, r.err).toBe(0);
    expect(r.out).toMatch(/KIND:\s+Gateway/);
    expect(r.out).toMatch(/FIELD:\s+port <integer>/);
    expect(r.out).toContain('Port is the network port.');
  });

  it('refuses what the schema refuses, naming the field', async () => {
    const unknown = await k(['apply', '-f', '-'], 'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: { name: typo, namespace: default }\nspec: { gatewayClassName: netdojo, listener: [] }\n');
    expect(unknown.exitCode).toBe(1);
    expect(unknown.err).toBe('Error from server (BadRequest): error when creating "STDIN": Gateway in version "v1" cannot be handled as a Gateway: strict decoding error: unknown field "spec.listener"');
    const bad = await k(['apply', '-f', '-'], 'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: { name: bad, namespace: default }\nspec:\n  listeners:\n  - { name: http, protocol: HTTP, port: 70000, allowedRoutes: { namespaces: { from: Anywhere } } }\n  - { name: http, protocol: HTTP, port: 81 }\n');
    expect(bad.exitCode).toBe(1);
    expect(bad.err).toContain('The Gateway "bad" is invalid');
    expect(bad.err).toContain('spec.gatewayClassName: Required value');
    expect(bad.err).toContain('spec.listeners[0].port: Invalid value: 70000: spec.listeners[0].port in body should be less than or equal to 65535');
    expect(bad.err).toContain('spec.listeners[0].allowedRoutes.namespaces.from: Unsupported value: "Anywhere": supported values: "All", "Selector", "Same"');
    expect(bad.err).toContain('spec.listeners[1]: Duplicate value: map[string]interface {}{"name":"http"}');
    expect(bad.err).toContain('spec.listeners: Invalid value: "array": Listener name must be unique within the Gateway');
    const route = await k(['apply', '-f', '-'], 'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: { name: relative, namespace: default }\nspec: { rules: [{ matches: [{ path: { type: Exact, value: api } }] }] }\n');
    expect(route.err).toBe('The HTTPRoute "relative" is invalid: spec.rules[0].matches[0].path: Invalid value: "object": value must be an absolute path and start with \'/\' when type one of [\'Exact\', \'PathPrefix\']');
    const immutable = await k(['patch', 'gc', 'netdojo', '--type=merge', '-p', '{"spec":{"controllerName":"example.com/other"}}']);
    expect(immutable.err).toBe('The GatewayClass "netdojo" is invalid: spec.controllerName: Invalid value: "string": Value is immutable');
    const warned = await k(['apply', '--validate=warn', '-f', '-'], 'apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: { name: warned }\nspec: { controllerName: example.com/c, colour: blue }\n');
    expect(warned.out).toBe('gatewayclass.gateway.networking.k8s.io/warned created');
    expect(warned.err).toBe('Warning: unknown field "spec.colour"');
  });

  it('patches with merge patches, and refuses strategic ones as the API server does for custom resources', async () => {
    const merged = await k(['patch', 'gtw', 'web', '--type=merge', '-p', '{"spec":{"listeners":[{"name":"http","protocol":"HTTP","port":8080}]}}']);
    expect(merged.out, merged.err).toBe('gateway.gateway.networking.k8s.io/web patched');
    expect((await k(['get', 'gtw', 'web', '-o', 'jsonpath={.spec.listeners[0].port} {.metadata.generation}'])).out).toBe('8080 2');
    const strategic = await k(['patch', 'gtw', 'web', '-p', '{"spec":{"gatewayClassName":"other"}}']);
    expect(strategic.exitCode).toBe(1);
    expect(strategic.err).toBe('error: application/strategic-merge-patch+json is not supported by gateway.networking.k8s.io/v1, Kind=Gateway: the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml');
  });

  it('watches by label selector: objects entering and leaving the selection', async () => {
    await k(['label', 'gtw', 'web', 'tier=edge']);
    const watch = t.kubectlProcess(['get', 'gateways', '-l', 'tier=edge', '--watch', '--output-watch-events', '--no-headers']);
    // "<EVENT> <NAME>" of each row printed so far.
    const seen: string[] = [];
    const waiters: (() => void)[] = [];
    let partial = '';
    watch.stdout!.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      seen.push(...lines.filter((l) => l.trim()).map((l) => l.trim().split(/\s+/).slice(0, 2).join(' ')));
      waiters.splice(0).forEach((w) => w());
    });
    const until = (row: string) => new Promise<void>((resolve, reject) => {
      const check = () => (seen.includes(row) ? resolve() : waiters.push(check));
      watch.once('exit', () => reject(new Error(`the watch ended before "${row}": ${seen.join(' | ')}`)));
      check();
    });
    try {
      // Once the list is printed, the watch resumes from it: nothing after it can be missed.
      await until('ADDED web');
      await k(['apply', '-f', '-'], 'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: { name: edge, namespace: default, labels: { tier: edge } }\nspec: { gatewayClassName: netdojo, listeners: [{ name: http, protocol: HTTP, port: 80 }] }\n');
      await k(['label', 'gtw', 'web', 'tier-']);
      await until('DELETED web');
      expect(seen).toEqual(['ADDED web', 'ADDED edge', 'DELETED web']);
    } finally {
      watch.kill();
    }
    expect((await k(['get', 'gtw', '-l', 'tier=edge', '-o', 'name'])).out).toBe('gateway.gateway.networking.k8s.io/edge');
  });

  it('deletes a namespace\'s custom resources with the namespace', async () => {
    await k(['create', 'namespace', 'team']);
    expect((await k(['apply', '-n', 'team', '-f', '-'], 'apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: { name: from-default }\nspec: { from: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default }], to: [{ group: "", kind: Service }] }\n')).out)
      .toBe('referencegrant.gateway.networking.k8s.io/from-default created');
    expect(table((await k(['get', 'refgrant', '-n', 'team'])).out)[0]).toEqual(['NAME', 'AGE']);
    const deleted = await k(['delete', 'namespace', 'team']);
    expect(deleted.out, deleted.err).toBe('namespace "team" deleted');
    expect(t.cluster.store.list('referencegrants.gateway.networking.k8s.io')).toEqual([]);
  });

  it('deletes a definition\'s objects with the definition, and stops serving its kind', async () => {
    const deleted = await k(['delete', 'crd', 'httproutes.gateway.networking.k8s.io']);
    expect(deleted.out, deleted.err).toBe('customresourcedefinition.apiextensions.k8s.io "httproutes.gateway.networking.k8s.io" deleted');
    expect(t.cluster.store.list('httproutes.gateway.networking.k8s.io')).toEqual([]);
    const resources = (await k(['api-resources', '--api-group=gateway.networking.k8s.io', '-o', 'name'])).out.split('\n');
    expect(resources).toEqual(['gatewayclasses.gateway.networking.k8s.io', 'gateways.gateway.networking.k8s.io', 'referencegrants.gateway.networking.k8s.io']);
    // And it can be installed again.
    expect((await k(['apply', '-f', CRDS])).out).toContain('customresourcedefinition.apiextensions.k8s.io/httproutes.gateway.networking.k8s.io created');
    expect(readFileSync(CRDS, 'utf8')).toContain('name: httproutes.gateway.networking.k8s.io');
  });
});
