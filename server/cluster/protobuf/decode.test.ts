import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../object.ts';
import { decodeKubeProtobuf, isKubeProtobuf } from './decode.ts';
import { concat, entry, envelope, fixed32, fixed64, int, len, varint } from './test-encoder.ts';

const FIXTURES = new URL('../../../test/fixtures/protobuf/', import.meta.url);
const fixture = (file: string) => readFileSync(new URL(file, FIXTURES));
const decode = (apiVersion: string, kind: string, raw: Uint8Array) => decodeKubeProtobuf(Buffer.from(envelope(apiVersion, kind, raw)));

/** The ApiError a body is refused with. */
function refusal(body: Uint8Array): ApiError {
  try {
    decodeKubeProtobuf(Buffer.from(body));
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('the body was accepted');
}

// Field numbers used below (from messages.ts): ObjectMeta name 1, generateName 2, generation 7,
// creationTimestamp 8, labels 11, ownerReferences 13; ConfigMap metadata 1, data 2, binaryData 3,
// immutable 4; Deployment spec 2; DeploymentSpec replicas 1, template 3, minReadySeconds 5, paused 7;
// PodTemplateSpec spec 2; PodSpec volumes 1, containers 2, securityContext 14; Container name 1,
// image 2, command 3, ports 6, resources 8, readinessProbe 11.
const meta = (...fields: Uint8Array[]) => len(1, ...fields);
const podTemplate = (...podSpecFields: Uint8Array[]) => len(2, len(3, len(2, ...podSpecFields)));

describe('isKubeProtobuf', () => {
  it('recognises the media type with or without parameters, in any case', () => {
    expect(isKubeProtobuf('application/vnd.kubernetes.protobuf')).toBe(true);
    expect(isKubeProtobuf('Application/VND.Kubernetes.Protobuf; charset=binary')).toBe(true);
    expect(isKubeProtobuf('application/json')).toBe(false);
    expect(isKubeProtobuf('application/vnd.kubernetes.protobuf-extra')).toBe(false);
    expect(isKubeProtobuf(undefined)).toBe(false);
  });
});

describe('decodeKubeProtobuf', () => {
  it.each(readdirSync(FIXTURES).filter((f) => f.endsWith('.pb')))('decodes what kubectl 1.33 sent for %s as it meant it', (file) => {
    expect(decodeKubeProtobuf(fixture(file))).toEqual(JSON.parse(fixture(file.replace(/\.pb$/, '.json')).toString('utf8')));
  });

  it('takes apiVersion and kind from the envelope and decodes maps, bytes and pointers', () => {
    const raw = concat(
      meta(len(1, 'cfg'), len(3, 'lab'), entry(11, 'tier', len(2, 'db')), entry(11, 'app', len(2, 'web'))),
      entry(2, 'b', len(2, 'two')), entry(2, 'a', len(2, 'one')), entry(2, 'a', len(2, 'uno')),
      entry(3, 'blob', len(2, [0xff, 0x00, 0x41])),
      int(4, false),
    );
    expect(JSON.stringify(decode('v1', 'ConfigMap', raw))).toBe(JSON.stringify({
      kind: 'ConfigMap',
      apiVersion: 'v1',
      metadata: { name: 'cfg', namespace: 'lab', labels: { app: 'web', tier: 'db' } },
      // immutable is a *bool: an explicit false is kept. Keys follow Go's declaration order.
      immutable: false,
      // Map keys sorted, as encoding/json writes them; the last entry for a key wins.
      data: { a: 'uno', b: 'two' },
      binaryData: { blob: '/wBB' },
    }));
  });

  it('leaves out what the wire leaves out, and zero omitempty values gogo wrote anyway', () => {
    // gogo writes every non-pointer field: an empty generateName, generation 0, an empty Time.
    const raw = concat(meta(len(1, 'web'), len(2, ''), int(7, 0), len(8)), len(2, int(5, 0), int(7, false)));
    expect(decode('apps/v1', 'Deployment', raw)).toEqual({
      kind: 'Deployment', apiVersion: 'apps/v1', metadata: { name: 'web', creationTimestamp: null }, spec: {},
    });
  });

  it('keeps a present zero of a pointer field or of a field without omitempty', () => {
    const deployment = decode('apps/v1', 'Deployment', len(2, int(1, 0)));
    expect(deployment).toEqual({ kind: 'Deployment', apiVersion: 'apps/v1', spec: { replicas: 0 } });
    // ServicePort.port has no omitempty; targetPort is an IntOrString struct, always written.
    const service = decode('v1', 'Service', len(2, len(1, int(3, 0), len(4, int(1, 0), int(2, 0)))));
    expect(service).toEqual({ kind: 'Service', apiVersion: 'v1', spec: { ports: [{ port: 0, targetPort: 0 }] } });
  });

  it('writes keys in Go declaration order, whatever the wire order', () => {
    const owner = len(13, len(1, 'ReplicaSet'), len(3, 'web-1'), len(4, 'u1'), len(5, 'apps/v1'), int(6, true));
    const pod = decode('v1', 'Pod', meta(owner, len(1, 'web-1-x')));
    expect(JSON.stringify(pod)).toBe('{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-1-x","ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-1","uid":"u1","controller":true}]}}');
  });

  it('decodes repeated messages and strings, packed and unpacked repeated numbers', () => {
    const containers = concat(
      len(2, len(1, 'a'), len(2, 'nginx'), len(3, 'sleep'), len(3, '60'), len(6, int(3, 80)), len(6, int(3, 443))),
      len(2, len(1, 'b')),
    );
    const groups = len(14, int(4, 1), len(4, varint(2), varint(3)), int(4, 4));
    const spec = (decode('apps/v1', 'Deployment', podTemplate(containers, groups)) as { spec: { template: { spec: unknown } } }).spec.template.spec;
    expect(spec).toEqual({
      containers: [{ name: 'a', image: 'nginx', command: ['sleep', '60'], ports: [{ containerPort: 80 }, { containerPort: 443 }] }, { name: 'b' }],
      securityContext: { supplementalGroups: [1, 2, 3, 4] },
    });
  });

  it('lifts embedded structs into the parent: Volume sources, Probe handlers', () => {
    const volume = len(1, len(1, 'cache'), len(2, len(2, len(1, 'Memory'))));
    const probe = len(11, len(1, len(2, len(1, '/healthz'), len(2, int(1, 1), len(3, 'http')))), int(4, 5));
    const spec = (decode('apps/v1', 'Deployment', podTemplate(volume, len(2, len(1, 'app'), probe)))) as { spec: { template: { spec: unknown } } };
    expect(spec.spec.template.spec).toEqual({
      volumes: [{ name: 'cache', emptyDir: { medium: 'Memory' } }],
      containers: [{ name: 'app', readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 5 } }],
    });
  });

  it('decodes Time, MicroTime, Quantity and IntOrString to their JSON forms', () => {
    const event = decode('v1', 'Event', concat(
      meta(len(1, 'e'), len(8, int(1, 1704067200), int(2, 999_999_999))),
      len(6, int(1, 0)),
      len(10, int(1, 1704067200), int(2, 123_456_789)),
      len(7, int(1, -62135596800n)),
    ));
    expect(event).toMatchObject({
      // Time keeps whole seconds (the apiserver drops nanos); MicroTime keeps microseconds.
      metadata: { name: 'e', creationTimestamp: '2024-01-01T00:00:00Z' },
      firstTimestamp: '1970-01-01T00:00:00Z',
      eventTime: '2024-01-01T00:00:00.123456Z',
      lastTimestamp: null, // Go's zero time
    });
    const resources = len(8, entry(1, 'memory', len(2, len(1, '1Gi'))), entry(1, 'cpu', len(2, len(1, '500m'))), entry(2, 'cpu', len(2)));
    const container = (decode('apps/v1', 'Deployment', podTemplate(len(2, len(1, 'a'), resources))) as { spec: { template: { spec: { containers: unknown[] } } } }).spec.template.spec.containers[0];
    expect(container).toEqual({ name: 'a', resources: { limits: { cpu: '500m', memory: '1Gi' }, requests: { cpu: '0' } } });
  });

  it('decodes a negative int32 sent as ten bytes', () => {
    expect(decode('apps/v1', 'Deployment', len(2, int(5, -1)))).toEqual({ kind: 'Deployment', apiVersion: 'apps/v1', spec: { minReadySeconds: -1 } });
  });

  it('merges a message field that occurs twice and lets the last scalar win', () => {
    const raw = concat(len(2, int(1, 2), int(5, 10)), len(2, int(7, true), int(5, 30)));
    expect(decode('apps/v1', 'Deployment', raw)).toEqual({ kind: 'Deployment', apiVersion: 'apps/v1', spec: { replicas: 2, minReadySeconds: 30, paused: true } });
  });

  it('skips fields it does not know, of every wire type', () => {
    const raw = concat(int(99, 5), meta(len(1, 'ns'), fixed32(50), fixed64(51), len(52, len(1, 'x'))), len(1000, 'junk'));
    expect(decode('v1', 'Namespace', raw)).toEqual({ kind: 'Namespace', apiVersion: 'v1', metadata: { name: 'ns' } });
  });

  it('accepts DeleteOptions in any served group version, and the subresource kinds', () => {
    expect(decode('apps/v1', 'DeleteOptions', len(4, 'Foreground'))).toEqual({ kind: 'DeleteOptions', apiVersion: 'apps/v1', propagationPolicy: 'Foreground' });
    expect(decode('autoscaling/v1', 'Scale', len(2, int(1, 3)))).toEqual({ kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 3 } });
    expect(decode('policy/v1', 'Eviction', concat(meta(len(1, 'p')), len(2, int(1, 0))))).toEqual({
      kind: 'Eviction', apiVersion: 'policy/v1', metadata: { name: 'p' }, deleteOptions: { gracePeriodSeconds: 0 },
    });
  });
});

describe('decodeKubeProtobuf refuses', () => {
  const expectRefusal = (body: Uint8Array, message: RegExp) => {
    const e = refusal(body);
    expect([e.code, e.reason]).toEqual([400, 'BadRequest']);
    expect(e.message).toMatch(message);
  };

  it('a body without the magic prefix', () => {
    expectRefusal(Buffer.from('{"kind":"Pod"}'), /does not appear to be a protobuf message/);
    expectRefusal(Buffer.from('k8s'), /does not appear to be a protobuf message/);
  });

  it('an envelope without kind or apiVersion, or of a kind not served', () => {
    expectRefusal(Buffer.from('k8s\0'), /Kind' is missing/);
    expectRefusal(concat('k8s\0', len(1, len(2, 'Pod'))), /apiVersion' is missing/);
    expectRefusal(envelope('batch/v1', 'Job', []), /no kind "Job" is registered for version "batch\/v1"/);
    expectRefusal(envelope('apps/v2', 'Deployment', []), /no kind "Deployment" is registered for version "apps\/v2"/);
    expectRefusal(envelope('v1', 'PodSpec', []), /no kind "PodSpec"/);
  });

  it('a truncated envelope', () => {
    const body = envelope('v1', 'Pod', meta(len(1, 'p')));
    expectRefusal(body.subarray(0, body.length - 2), /runtime.Unknown.*length \d+ runs past the end/);
  });

  it('a field of the wrong wire type, naming its path', () => {
    expectRefusal(envelope('v1', 'Pod', int(1, 5)), /v1 Pod from protobuf: metadata: wrong wire type varint, expected length-delimited/);
    expectRefusal(envelope('apps/v1', 'Deployment', podTemplate(len(2, int(2, 1)))), /spec\.template\.spec\.containers\[0\]\.image: wrong wire type varint/);
    expectRefusal(envelope('apps/v1', 'Deployment', len(2, len(1, 'x'))), /spec\.replicas: wrong wire type length-delimited, expected varint/);
    expectRefusal(envelope('v1', 'Pod', meta(len(8, len(1, 'x')))), /metadata\.creationTimestamp: Time\.seconds: wrong wire type length-delimited/);
  });

  it('a truncated nested message, naming where', () => {
    const spec = concat([0x12, 0x03], int(1, 3), [0x18]);
    expectRefusal(envelope('apps/v1', 'Deployment', spec), /Deployment from protobuf: spec: truncated varint at byte 3/);
  });

  it('values JSON cannot carry faithfully', () => {
    expectRefusal(envelope('v1', 'Pod', len(2, int(4, 2n ** 60n))), /spec\.terminationGracePeriodSeconds: 1152921504606846976 is too large/);
    expectRefusal(envelope('v1', 'Service', len(2, len(1, len(4, int(1, 2))))), /spec\.ports\[0\]\.targetPort: IntOrString: impossible type 2/);
    expectRefusal(envelope('v1', 'Pod', meta(len(8, int(1, 10n ** 12n)))), /metadata\.creationTimestamp: .*outside years 0000-9999/);
    const managed = len(17, len(7, len(1, '{"f:metadata":')));
    expectRefusal(envelope('v1', 'Pod', meta(managed)), /metadata\.managedFields\[0\]\.fieldsV1: FieldsV1.Raw is not JSON/);
  });

  it('hostile input without crashing: deep nesting, huge lengths, random corruption', () => {
    // 100 000 nested unknown fields: skipped as opaque bytes, never recursed into.
    const prefixes: Uint8Array[] = [];
    for (let i = 0, size = 0; i < 100_000; i++) {
      const prefix = concat([15 << 3 | 2], varint(size));
      prefixes.push(prefix);
      size += prefix.length;
    }
    const nested = concat(...prefixes.reverse());
    expect(decode('v1', 'Namespace', meta(nested))).toEqual({ kind: 'Namespace', apiVersion: 'v1', metadata: {} });
    expectRefusal(concat('k8s\0', [0x0a], varint(2n ** 62n)), /length \d+ runs past the end/);

    const valid = fixture('deployment.pb');
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 1000; i++) {
      const body = Buffer.from(valid);
      for (let n = 1 + Math.floor(random() * 3); n > 0; n--) body[4 + Math.floor(random() * (body.length - 4))] = Math.floor(random() * 256);
      const cut = random() < 0.3 ? body.subarray(0, 4 + Math.floor(random() * (body.length - 4))) : body;
      try {
        decodeKubeProtobuf(cut);
      } catch (e) {
        expect(e).toBeInstanceOf(ApiError);
        expect((e as ApiError).code).toBe(400);
      }
    }
  });
});
