// The public face of PATCH: Content-Type → patch type, and applyPatch for each type. The bulk of the
// kubectl payloads (edit, apply, rollout restart, scale, label, patch --type ...) is replayed against
// real kubectl's results in patch/oracle.test.ts.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ApiError } from './object.ts';
import { applyPatch, patchTypeOf } from './patch.ts';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../../test/fixtures/patch/${name}`, import.meta.url), 'utf8'));

function failure(run: () => unknown): ApiError {
  try {
    run();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('the patch applied');
}

describe('patchTypeOf', () => {
  it.each([
    ['application/json-patch+json', 'json'],
    ['application/merge-patch+json', 'merge'],
    ['application/strategic-merge-patch+json; charset=utf-8', 'strategic'],
    ['Application/Apply-Patch+YAML', 'apply'],
    ['application/apply-patch+cbor', undefined],
    ['application/json', undefined],
    [undefined, undefined],
  ])('%s → %s', (contentType, type) => expect(patchTypeOf(contentType)).toBe(type));
});

describe('applyPatch', () => {
  it('answers 400 for a strategic merge patch that is not an object', () => {
    const error = failure(() => applyPatch('Service', fixture('service.json'), 'strategic', [{ op: 'add' }]));
    expect([error.code, error.reason, error.message]).toEqual([400, 'BadRequest', 'json: cannot unmarshal array into Go value of type map[string]interface {}']);
  });

  it('merges Service ports by port, keeping their live order', () => {
    const result = applyPatch('Service', fixture('service.json'), 'strategic', { spec: { ports: [{ port: 443, targetPort: 9443 }] } }) as { spec: { ports: object[] } };
    expect(result.spec.ports).toEqual([
      { name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 },
      { name: 'https', protocol: 'TCP', port: 443, targetPort: 9443 },
    ]);
  });
});

describe('server-side apply (approximated)', () => {
  const applied = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      replicas: 3,
      template: { spec: { containers: [{ name: 'web', image: 'nginx:1.27' }], tolerations: [{ operator: 'Exists' }] } },
    },
  };

  it('merges keyed lists by key, replaces atomic lists, keeps fields it does not mention', () => {
    const live = fixture('deployment.json');
    const result = applyPatch('Deployment', live, 'apply', applied) as typeof live;
    const [web, sidecar] = result.spec.template.spec.containers;
    expect([web.name, web.image, web.env, sidecar.name]).toEqual(['web', 'nginx:1.27', live.spec.template.spec.containers[0].env, 'sidecar']);
    expect(result.spec.template.spec.tolerations).toEqual([{ operator: 'Exists' }]);
    expect([result.spec.replicas, result.status]).toEqual([3, live.status]);
  });

  it('creates from nothing', () => {
    expect(applyPatch('Deployment', {}, 'apply', applied)).toEqual(applied);
  });

  it('rejects patch directives, which are no fields of an object', () => {
    const error = failure(() => applyPatch('Deployment', {}, 'apply', { spec: { template: { spec: { containers: [{ name: 'a', '$patch': 'delete' }] } } } }));
    expect([error.code, error.message]).toEqual([400, 'failed to create typed patch object: .spec.template.spec.containers[0].$patch: field not declared in schema']);
  });

  it('rejects a configuration that is not an object', () => {
    expect(failure(() => applyPatch('Pod', {}, 'apply', 'text')).message)
      .toBe('error decoding YAML: json: cannot unmarshal string into Go value of type map[string]interface {}');
  });
});
