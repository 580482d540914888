import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../object.ts';
import { addServiceAccountVolume, applyDefaults, imageTag, randomNameSuffix } from './defaults.ts';

const fixture = (name: string): KubeObject => JSON.parse(readFileSync(new URL(`../../../test/fixtures/admission/${name}`, import.meta.url), 'utf8'));
const spec = (o: KubeObject) => o.spec as any;

/** What every container of a pod or template looks like after defaulting `image`. */
const defaultedContainer = (name: string, image: string, imagePullPolicy: string) => ({
  name, image, resources: {}, imagePullPolicy, terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File',
});
const templateSpecDefaults = { dnsPolicy: 'ClusterFirst', restartPolicy: 'Always', securityContext: {}, terminationGracePeriodSeconds: 30, schedulerName: 'default-scheduler' };

describe('what `kubectl create deployment web --image=nginx` is stored as', () => {
  const stored = applyDefaults('Deployment', fixture('kubectl-create-deployment-web.json'));

  it('gets the apps/v1 Deployment defaults', () => {
    expect(spec(stored)).toMatchObject({
      replicas: 1,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    });
  });

  it('gets the PodSpec defaults in its template, but none of the Pod-only ones', () => {
    expect(spec(stored).template.spec).toEqual({ ...templateSpecDefaults, containers: [defaultedContainer('nginx', 'nginx', 'Always')] });
  });

  it('leaves the input untouched', () => {
    expect(spec(fixture('kubectl-create-deployment-web.json')).strategy).toEqual({});
  });
});

describe('what `kubectl run x --image=busybox` is stored as', () => {
  const stored = applyDefaults('Pod', fixture('kubectl-run-x.json'));

  it('gets PodSpec, Pod and admission defaults', () => {
    expect(spec(stored)).toEqual({
      ...templateSpecDefaults,
      containers: [defaultedContainer('x', 'busybox', 'Always')],
      enableServiceLinks: true,
      priority: 0,
      preemptionPolicy: 'PreemptLowerPriority',
      serviceAccountName: 'default',
      serviceAccount: 'default',
      tolerations: [
        { effect: 'NoExecute', key: 'node.kubernetes.io/not-ready', operator: 'Exists', tolerationSeconds: 300 },
        { effect: 'NoExecute', key: 'node.kubernetes.io/unreachable', operator: 'Exists', tolerationSeconds: 300 },
      ],
    });
  });

  it('is stable when defaulted again (as on every update)', () => {
    expect(applyDefaults('Pod', stored)).toEqual(stored);
  });

  it('gets the ServiceAccount token volume and mount from the admission step', () => {
    const admitted = addServiceAccountVolume(structuredClone(stored), undefined, 'q2x7z');
    expect(spec(admitted).containers[0].volumeMounts).toEqual([{ mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', name: 'kube-api-access-q2x7z', readOnly: true }]);
    expect(spec(admitted).volumes).toEqual([{
      name: 'kube-api-access-q2x7z',
      projected: {
        defaultMode: 420,
        sources: [
          { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
          { configMap: { items: [{ key: 'ca.crt', path: 'ca.crt' }], name: 'kube-root-ca.crt' } },
          { downwardAPI: { items: [{ fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' }, path: 'namespace' }] } },
        ],
      },
    }]);
  });
});

describe('the ServiceAccount admission step', () => {
  const base = () => applyDefaults('Pod', fixture('kubectl-run-x.json'));

  it('adds nothing when the pod or its ServiceAccount opts out', () => {
    const optOut = base();
    spec(optOut).automountServiceAccountToken = false;
    expect(spec(addServiceAccountVolume(optOut)).volumes).toBeUndefined();
    const sa = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' }, automountServiceAccountToken: false };
    expect(spec(addServiceAccountVolume(base(), sa)).volumes).toBeUndefined();
  });

  it('lets a pod setting win over its ServiceAccount', () => {
    const optIn = base();
    spec(optIn).automountServiceAccountToken = true;
    const sa = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' }, automountServiceAccountToken: false };
    expect(spec(addServiceAccountVolume(optIn, sa, 'bbbbb')).volumes[0].name).toBe('kube-api-access-bbbbb');
  });

  it('skips containers that already mount the token path and covers init containers', () => {
    const pod = base();
    spec(pod).initContainers = [{ name: 'init', image: 'busybox' }];
    spec(pod).volumes = [{ name: 'own', emptyDir: {} }];
    spec(pod).containers[0].volumeMounts = [{ name: 'own', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }];
    const admitted = addServiceAccountVolume(pod, undefined, 'ccccc');
    expect(spec(admitted).containers[0].volumeMounts).toHaveLength(1);
    expect(spec(admitted).initContainers[0].volumeMounts).toEqual([{ mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', name: 'kube-api-access-ccccc', readOnly: true }]);
    expect(spec(admitted).volumes.map((v: any) => v.name)).toEqual(['own', 'kube-api-access-ccccc']);
  });

  it('draws suffixes from the consonants-and-digits alphabet', () => {
    expect(randomNameSuffix()).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });
});

describe('image pull policy', () => {
  it.each([
    ['nginx', 'latest'], ['nginx:latest', 'latest'], ['nginx:1.27', '1.27'], ['registry.k8s.io/e2e-test-images/agnhost:2.52', '2.52'],
    ['localhost:5000/app', 'latest'], ['nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31', ''], ['Nginx', ''],
  ])('%s has tag %j', (image, tag) => expect(imageTag(image)).toBe(tag));

  it('is Always for latest and IfNotPresent for a pinned tag', () => {
    const pod = applyDefaults('Pod', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'a', image: 'nginx:1.27' }, { name: 'b', image: 'nginx:latest' }, { name: 'c', image: 'nginx', imagePullPolicy: 'Never' }] } });
    expect(spec(pod).containers.map((c: any) => c.imagePullPolicy)).toEqual(['IfNotPresent', 'Always', 'Never']);
  });
});

describe('container details', () => {
  it('defaults ports, probes, env field refs, volumes and limits-as-requests', () => {
    const pod = applyDefaults('Pod', {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' },
      spec: {
        volumes: [{ name: 'scratch' }, { name: 'cfg', configMap: { name: 'cfg' } }],
        containers: [{
          name: 'web', image: 'nginx:1.27', ports: [{ containerPort: 80 }],
          env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
          readinessProbe: { httpGet: { port: 80 } },
          resources: { limits: { cpu: '500m' } },
        }],
      },
    });
    const c = spec(pod).containers[0];
    expect(c.ports).toEqual([{ containerPort: 80, protocol: 'TCP' }]);
    expect(c.readinessProbe).toEqual({ httpGet: { port: 80, path: '/', scheme: 'HTTP' }, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 });
    expect(c.env[0].valueFrom.fieldRef).toEqual({ fieldPath: 'status.podIP', apiVersion: 'v1' });
    expect(c.resources).toEqual({ limits: { cpu: '500m' }, requests: { cpu: '500m' } });
    expect(spec(pod).volumes).toEqual([{ name: 'scratch', emptyDir: {} }, { name: 'cfg', configMap: { name: 'cfg', defaultMode: 420 } }]);
  });
});

describe('Service defaults', () => {
  const svc = (s: object) => applyDefaults('Service', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }], ...s } });

  it('fills a ClusterIP Service as kubectl expose would see it stored', () => {
    expect(spec(svc({}))).toEqual({
      selector: { app: 'web' }, ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }], type: 'ClusterIP', sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster', ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4'],
    });
  });

  it('adds externalTrafficPolicy for NodePort and LoadBalancer only', () => {
    expect(spec(svc({ type: 'NodePort' })).externalTrafficPolicy).toBe('Cluster');
    expect(spec(svc({ type: 'LoadBalancer' }))).toMatchObject({ externalTrafficPolicy: 'Cluster', allocateLoadBalancerNodePorts: true });
    expect(spec(svc({})).externalTrafficPolicy).toBeUndefined();
  });

  it('keeps clusterIP and clusterIPs in step and treats selectorless headless Services as dual-stack requests', () => {
    expect(spec(svc({ clusterIP: '10.96.0.50' })).clusterIPs).toEqual(['10.96.0.50']);
    const headless = applyDefaults('Service', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'h' }, spec: { clusterIP: 'None', ports: [{ port: 80 }] } });
    expect(spec(headless)).toMatchObject({ clusterIPs: ['None'], ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] });
  });

  it('gives ExternalName Services no IP families', () => {
    const ext = applyDefaults('Service', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'db' }, spec: { type: 'ExternalName', externalName: 'db.example.com' } });
    expect(spec(ext)).toEqual({ type: 'ExternalName', externalName: 'db.example.com', sessionAffinity: 'None' });
  });

  it('defaults ClientIP affinity to three hours', () => {
    expect(spec(svc({ sessionAffinity: 'ClientIP' })).sessionAffinityConfig).toEqual({ clientIP: { timeoutSeconds: 10800 } });
  });
});

describe('NetworkPolicy policyTypes', () => {
  const np = (s: object) => spec(applyDefaults('NetworkPolicy', { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'np' }, spec: { podSelector: {}, ...s } }));

  it.each([
    ['no rules at all (default deny ingress)', {}, ['Ingress']],
    ['ingress rules only', { ingress: [{}] }, ['Ingress']],
    ['egress rules only: ingress is denied too', { egress: [{ ports: [{ port: 53 }] }] }, ['Ingress', 'Egress']],
    ['an explicit list', { policyTypes: ['Egress'], egress: [] }, ['Egress']],
  ])('%s', (_what, s, types) => expect(np(s).policyTypes).toEqual(types));

  it('defaults rule ports to TCP', () => {
    expect(np({ egress: [{ ports: [{ port: 53 }, { port: 53, protocol: 'UDP' }] }] }).egress[0].ports).toEqual([{ port: 53, protocol: 'TCP' }, { port: 53, protocol: 'UDP' }]);
  });
});

describe('workload defaults beyond Deployments', () => {
  const template = { metadata: { labels: { app: 'a' } }, spec: { containers: [{ name: 'a', image: 'busybox:1.36' }] } };

  it('DaemonSet', () => {
    expect(spec(applyDefaults('DaemonSet', { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'a' }, spec: { template } }))).toMatchObject({
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }, revisionHistoryLimit: 10,
    });
  });

  it('StatefulSet', () => {
    const sts = spec(applyDefaults('StatefulSet', { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'a' }, spec: { template, volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: {} }] } }));
    expect(sts).toMatchObject({
      replicas: 1, podManagementPolicy: 'OrderedReady', revisionHistoryLimit: 10,
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition: 0 } },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
    });
    expect(sts.volumeClaimTemplates[0]).toEqual({ metadata: { name: 'data' }, spec: { volumeMode: 'Filesystem' }, status: { phase: 'Pending' } });
    expect(sts.template.spec.containers[0].imagePullPolicy).toBe('IfNotPresent');
  });

  it('ReplicaSet', () => {
    expect(spec(applyDefaults('ReplicaSet', { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'a' }, spec: { template } })).replicas).toBe(1);
  });
});

describe('the other kinds', () => {
  it('Namespace: name label, kubernetes finalizer, Active', () => {
    const ns = applyDefaults('Namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a', labels: { 'kubernetes.io/metadata.name': 'wrong', env: 'dev' } } });
    expect(ns).toEqual({
      apiVersion: 'v1', kind: 'Namespace',
      metadata: { name: 'team-a', labels: { 'kubernetes.io/metadata.name': 'team-a', env: 'dev' } },
      spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' },
    });
  });

  it('Secret: Opaque, stringData merged into data and dropped', () => {
    const s = applyDefaults('Secret', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { user: 'YWRt\naW4=', password: 'b2xk' }, stringData: { password: 'hunter2' } });
    expect(s).toEqual({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, type: 'Opaque', data: { user: 'YWRtaW4=', password: 'aHVudGVyMg==' } });
  });

  it('EndpointSlice and Endpoints ports', () => {
    const slice = applyDefaults('EndpointSlice', { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'e' }, addressType: 'IPv4', endpoints: [], ports: [{ port: 80 }] });
    expect(slice.ports).toEqual([{ port: 80, name: '', protocol: 'TCP' }]);
    const ep = applyDefaults('Endpoints', { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'e' }, subsets: [{ addresses: [{ ip: '10.244.1.2' }], ports: [{ port: 80 }] }] });
    expect((ep.subsets as any)[0].ports).toEqual([{ port: 80, protocol: 'TCP' }]);
  });

  it('IngressClass parameters scope', () => {
    const ic = applyDefaults('IngressClass', { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'nginx' }, spec: { controller: 'k8s.io/ingress-nginx', parameters: { kind: 'Config', name: 'c' } } });
    expect(spec(ic).parameters.scope).toBe('Cluster');
  });
});
