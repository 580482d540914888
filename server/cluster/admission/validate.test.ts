import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { KindName } from '../kinds.ts';
import type { KubeObject } from '../object.ts';
import { applyDefaults } from './defaults.ts';
import { base64ErrorOffset, invalidError, secretDecodeError, validate } from './validate.ts';

const fixture = (name: string): KubeObject => JSON.parse(readFileSync(new URL(`../../../test/fixtures/admission/${name}`, import.meta.url), 'utf8'));
const inDefault = (o: KubeObject): KubeObject => ({ ...o, metadata: { ...o.metadata, namespace: 'default' } });
const deployment = () => inDefault(fixture('kubectl-create-deployment-web.json'));
const pod = () => inDefault(fixture('kubectl-run-x.json'));

/** Applies an edit to a fresh object, defaults it as the server would, and lists `field: message`. */
function errorsOf(kind: KindName, base: KubeObject, edit: (o: any) => void = () => {}): string[] {
  const obj = structuredClone(base);
  edit(obj);
  return validate(kind, applyDefaults(kind, obj)).map((e) => `${e.field}: ${e.message}`);
}

const RFC1123_SUBDOMAIN = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS1035 = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const RFC1123_LABEL = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

const service = (spec: object): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { selector: { app: 'web' }, ports: [{ port: 80 }], ...spec } });
const netpol = (spec: object): KubeObject => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'np', namespace: 'default' }, spec: { podSelector: {}, ...spec } });
const ingress = (path: object): KubeObject => ({
  apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'web', namespace: 'default' },
  spec: { rules: [{ host: 'web.example.com', http: { paths: [{ path: '/', backend: { service: { name: 'web', port: { number: 80 } } }, ...path }] } }] },
});

describe('the common mistakes, with the real messages', () => {
  it.each<[string, KindName, () => KubeObject, (o: any) => void, string[]]>([
    ['a capitalised pod name', 'Pod', pod, (o) => { o.metadata.name = 'Web'; }, [`metadata.name: Invalid value: "Web": ${RFC1123_SUBDOMAIN}`]],
    ['a capitalised service name (DNS-1035)', 'Service', () => service({}), (o) => { o.metadata.name = 'Web'; }, [`metadata.name: Invalid value: "Web": ${DNS1035}`]],
    ['a service name starting with a digit', 'Service', () => service({}), (o) => { o.metadata.name = '1web'; }, [`metadata.name: Invalid value: "1web": ${DNS1035}`]],
    ['a namespace name with a dot', 'Namespace', () => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team.a' } }), () => {}, ['metadata.name: Invalid value: "team.a": must not contain dots']],
    ['a selector that does not match the template', 'Deployment', deployment, (o) => { o.spec.template.metadata.labels = { app: 'x' }; },
      ['spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: `selector` does not match template `labels`']],
    ['a deployment without a selector', 'Deployment', deployment, (o) => { delete o.spec.selector; },
      ['spec.selector: Required value', 'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`']],
    ['an empty selector', 'Deployment', deployment, (o) => { o.spec.selector = {}; },
      ['spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment']],
    ['a missing image', 'Pod', pod, (o) => { delete o.spec.containers[0].image; }, ['spec.containers[0].image: Required value']],
    ['a missing image in a template', 'Deployment', deployment, (o) => { delete o.spec.template.spec.containers[0].image; }, ['spec.template.spec.containers[0].image: Required value']],
    ['container port 70000', 'Pod', pod, (o) => { o.spec.containers[0].ports = [{ containerPort: 70000 }]; },
      ['spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive']],
    ['service port 70000', 'Service', () => service({ ports: [{ port: 70000 }] }), () => {},
      ['spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive', 'spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive']],
    ['a duplicate container port name', 'Pod', pod, (o) => { o.spec.containers[0].ports = [{ name: 'http', containerPort: 80 }, { name: 'http', containerPort: 8080 }]; },
      ['spec.containers[0].ports[1].name: Duplicate value: "http"']],
    ['a port name that is too long', 'Pod', pod, (o) => { o.spec.containers[0].ports = [{ name: 'http-alternative-port', containerPort: 80 }]; },
      ['spec.containers[0].ports[0].name: Invalid value: "http-alternative-port": must be no more than 15 characters']],
    ['an unknown restartPolicy', 'Pod', pod, (o) => { o.spec.restartPolicy = 'Sometimes'; },
      ['spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"']],
    ['restartPolicy Never in a deployment', 'Deployment', deployment, (o) => { o.spec.template.spec.restartPolicy = 'Never'; },
      ['spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']],
    ['an invalid label value', 'Pod', pod, (o) => { o.metadata.labels = { app: 'web server' }; },
      ["metadata.labels: Invalid value: \"web server\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]],
    ['an invalid label key', 'Pod', pod, (o) => { o.metadata.labels = { 'app/tier/x': 'a' }; },
      ["metadata.labels: Invalid value: \"app/tier/x\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]],
    ['a bad pull policy', 'Pod', pod, (o) => { o.spec.containers[0].imagePullPolicy = 'IfNeeded'; },
      ['spec.containers[0].imagePullPolicy: Unsupported value: "IfNeeded": supported values: "Always", "IfNotPresent", "Never"']],
    ['a mount of a volume that does not exist', 'Pod', pod, (o) => { o.spec.containers[0].volumeMounts = [{ name: 'data', mountPath: '/data' }]; },
      ['spec.containers[0].volumeMounts[0].name: Not found: "data"']],
    ['a capitalised container name', 'Pod', pod, (o) => { o.spec.containers[0].name = 'Web'; }, [`spec.containers[0].name: Invalid value: "Web": ${RFC1123_LABEL}`]],
    ['a probe without a handler', 'Pod', pod, (o) => { o.spec.containers[0].readinessProbe = { periodSeconds: 5 }; },
      ['spec.containers[0].readinessProbe: Required value: must specify a handler type']],
    ['a targetPort name with upper case', 'Service', () => service({ ports: [{ port: 80, targetPort: 'Http' }] }), () => {},
      ['spec.ports[0].targetPort: Invalid value: "Http": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)']],
    ['two unnamed service ports', 'Service', () => service({ ports: [{ port: 80 }, { port: 443 }] }), () => {},
      ['spec.ports[0].name: Required value', 'spec.ports[1].name: Required value']],
    ['a lowercase service type', 'Service', () => service({ type: 'nodeport' }), () => {},
      ['spec.type: Unsupported value: "nodeport": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"']],
    ['a nodePort outside the range', 'Service', () => service({ type: 'NodePort', ports: [{ port: 80, nodePort: 8080 }] }), () => {},
      ['spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767']],
    ['a malformed clusterIP', 'Service', () => service({ clusterIP: '10.96.0.300' }), () => {},
      ['spec.clusterIPs[0]: Invalid value: "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']],
    ['a clusterIP outside the service range', 'Service', () => service({ clusterIP: '10.0.0.10' }), () => {},
      ['spec.clusterIPs: Invalid value: []string{"10.0.0.10"}: failed to allocate IP 10.0.0.10: the provided IP (10.0.0.10) is not in the valid range. The range of valid IPs is 10.96.0.0/16']],
    ['endPort without port', 'NetworkPolicy', () => netpol({ ingress: [{ ports: [{ endPort: 9000 }] }] }), () => {},
      ['spec.ingress[0].ports[0].endPort: Invalid value: 9000: may not be specified when `port` is not specified']],
    ['endPort with a named port', 'NetworkPolicy', () => netpol({ egress: [{ ports: [{ port: 'dns', endPort: 9000 }] }] }), () => {},
      ['spec.egress[0].ports[0].endPort: Invalid value: 9000: may not be specified when `port` is non-numeric']],
    ['endPort below port', 'NetworkPolicy', () => netpol({ ingress: [{ ports: [{ port: 8080, endPort: 80 }] }] }), () => {},
      ['spec.ingress[0].ports[0].endPort: Invalid value: 80: must be greater than or equal to `port`']],
    ['an ipBlock except outside its cidr', 'NetworkPolicy', () => netpol({ ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.1.0.0/24'] } }] }] }), () => {},
      ['spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.1.0.0/24": must be a strict subset of `cidr`']],
    ['an ipBlock except equal to its cidr', 'NetworkPolicy', () => netpol({ ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.0.0.0/16'] } }] }] }), () => {},
      ['spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.0.0.0/16": must be a strict subset of `cidr`']],
    ['an ipBlock cidr without a prefix', 'NetworkPolicy', () => netpol({ egress: [{ to: [{ ipBlock: { cidr: '10.0.0.1' } }] }] }), () => {},
      ['spec.egress[0].to[0].ipBlock.cidr: Invalid value: "10.0.0.1": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)']],
    ['an ipBlock next to a podSelector in one peer', 'NetworkPolicy', () => netpol({ ingress: [{ from: [{ podSelector: {}, ipBlock: { cidr: '10.0.0.0/8' } }] }] }), () => {},
      ['spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer']],
    ['a selector expression without values', 'NetworkPolicy', () => netpol({ podSelector: { matchExpressions: [{ key: 'app', operator: 'In' }] } }), () => {},
      ["spec.podSelector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"]],
    ['an Ingress path without pathType', 'Ingress', () => ingress({}), () => {}, ['spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified']],
    ['an Ingress path type in lower case', 'Ingress', () => ingress({ pathType: 'prefix' }), () => {},
      ['spec.rules[0].http.paths[0].pathType: Unsupported value: "prefix": supported values: "Exact", "ImplementationSpecific", "Prefix"']],
    ['an Ingress backend with no port', 'Ingress', () => ingress({ pathType: 'Prefix', backend: { service: { name: 'web' } } }), () => {},
      ['spec.rules[0].http.paths[0].backend: Required value: port name or number is required']],
    ['an Ingress backend with both port name and number', 'Ingress', () => ingress({ pathType: 'Prefix', backend: { service: { name: 'web', port: { name: 'http', number: 80 } } } }), () => {},
      ['spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both port name & port number']],
    ['an EndpointSlice without addressType', 'EndpointSlice', () => ({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-abc', namespace: 'default' }, endpoints: [] }), () => {},
      ['addressType: Required value']],
    ['a ConfigMap key with a slash', 'ConfigMap', () => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'default' }, data: { 'conf/app.ini': 'x' } }), () => {},
      ["data[conf/app.ini]: Invalid value: \"conf/app.ini\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"]],
    ['a TLS Secret without its key', 'Secret', () => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tls', namespace: 'default' }, type: 'kubernetes.io/tls', data: { 'tls.crt': 'Y2VydA==' } }), () => {},
      ['data[tls.key]: Required value']],
    ['a rolling update that can never progress', 'Deployment', deployment, (o) => { o.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 0 } }; },
      ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0']],
    ['rollingUpdate with a Recreate strategy', 'Deployment', deployment, (o) => { o.spec.strategy = { type: 'Recreate', rollingUpdate: { maxSurge: 1 } }; },
      ["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]],
    ['negative replicas', 'Deployment', deployment, (o) => { o.spec.replicas = -1; }, ['spec.replicas: Invalid value: -1: must be greater than or equal to 0']],
  ])('%s', (_what, kind, make, edit, expected) => {
    expect(errorsOf(kind, make(), edit)).toEqual(expected);
  });

  it('accepts what kubectl create deployment and kubectl run send', () => {
    expect(errorsOf('Deployment', deployment())).toEqual([]);
    expect(errorsOf('Pod', pod())).toEqual([]);
  });

  it('accepts well-formed objects of every other kind', () => {
    const ok: [KindName, KubeObject][] = [
      ['Namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } }],
      ['Node', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'worker' }, spec: { podCIDR: '10.244.1.0/24', podCIDRs: ['10.244.1.0/24'] } }],
      ['Service', service({ type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: 'http', nodePort: 30080 }] })],
      ['Endpoints', { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'web', namespace: 'default' }, subsets: [{ addresses: [{ ip: '10.244.1.5' }], ports: [{ port: 80 }] }] }],
      ['ConfigMap', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'default' }, data: { 'app.ini': 'x' } }],
      ['Secret', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'default' }, stringData: { password: 'hunter2' } }],
      ['ServiceAccount', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: 'default' } }],
      ['Event', { apiVersion: 'v1', kind: 'Event', metadata: { name: 'x.1', namespace: 'default' }, involvedObject: { kind: 'Pod', name: 'x', namespace: 'default' }, reason: 'Started' }],
      ['ReplicaSet', { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'web-abc', namespace: 'default' }, spec: deployment().spec as object }],
      ['DaemonSet', { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent', namespace: 'default' }, spec: { selector: { matchLabels: { app: 'agent' } }, template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'a', image: 'busybox:1.36' }] } } } }],
      ['StatefulSet', { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: 'default' }, spec: { serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image: 'postgres:16' }] } } } }],
      ['EndpointSlice', { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'web-abc', namespace: 'default' }, addressType: 'IPv4', endpoints: [{ addresses: ['10.244.1.5'] }], ports: [{ port: 80 }] }],
      ['NetworkPolicy', netpol({ egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.96.0.0/16'] } }], ports: [{ port: 53, protocol: 'UDP' }, { port: 30000, endPort: 32767 }] }] })],
      ['Ingress', ingress({ pathType: 'Prefix' })],
      ['IngressClass', { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'nginx' }, spec: { controller: 'k8s.io/ingress-nginx' } }],
    ];
    for (const [kind, obj] of ok) expect(errorsOf(kind, obj), kind).toEqual([]);
  });
});

describe('updates', () => {
  const stored = (kind: KindName, obj: KubeObject) => applyDefaults(kind, obj);

  it('keeps a Deployment selector immutable', () => {
    const old = stored('Deployment', deployment());
    const next = structuredClone(old) as any;
    next.spec.selector.matchLabels = { app: 'web2' };
    next.spec.template.metadata.labels = { app: 'web2' };
    expect(validate('Deployment', next, old).map((e) => `${e.field}: ${e.message}`)).toEqual([
      'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable',
    ]);
  });

  it('keeps a Service clusterIP once set', () => {
    const old = stored('Service', service({ clusterIP: '10.96.0.20' }));
    const next = structuredClone(old) as any;
    next.spec.clusterIP = '10.96.0.21';
    next.spec.clusterIPs = ['10.96.0.21'];
    expect(validate('Service', next, old).map((e) => `${e.field}: ${e.message}`)).toEqual(['spec.clusterIPs[0]: Invalid value: []string{"10.96.0.21"}: may not change once set']);
  });

  it('lets a Pod change its image but nothing else of its spec', () => {
    const old = stored('Pod', pod());
    const newImage = structuredClone(old) as any;
    newImage.spec.containers[0].image = 'busybox:1.36';
    expect(validate('Pod', newImage, old)).toEqual([]);
    const newPort = structuredClone(old) as any;
    newPort.spec.containers[0].ports = [{ containerPort: 80, protocol: 'TCP' }];
    const [err] = validate('Pod', newPort, old);
    expect(err.field).toBe('spec');
    expect(err.message).toMatch(/^Forbidden: pod updates may not change fields other than `spec.containers\[\*\].image`,`spec.initContainers\[\*\].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` \(only additions to existing tolerations\),`spec.terminationGracePeriodSeconds` \(allow it to be set to 1 if it was previously negative\)\n/);
    expect(err.message).toContain('containers');
  });

  it('forbids adding a container to a running Pod', () => {
    const old = stored('Pod', pod());
    const next = structuredClone(old) as any;
    next.spec.containers.push({ ...next.spec.containers[0], name: 'second' });
    expect(validate('Pod', next, old).map((e) => `${e.field}: ${e.message}`)).toEqual(['spec.containers: Forbidden: pod updates may not add or remove containers']);
  });
});

describe('invalidError', () => {
  it('words the Status as kube-apiserver does, group included, kind bare in details', () => {
    const errs = validate('Deployment', applyDefaults('Deployment', { ...deployment(), spec: { ...(deployment().spec as object), replicas: -1, selector: { matchLabels: { app: 'x' } } } }));
    const status = invalidError('Deployment', 'web', errs).toStatus();
    expect(status).toEqual({
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Invalid', code: 422,
      message: 'Deployment.apps "web" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`]',
      details: {
        name: 'web', group: 'apps', kind: 'Deployment',
        causes: [
          { reason: 'FieldValueInvalid', message: 'Invalid value: -1: must be greater than or equal to 0', field: 'spec.replicas' },
          { reason: 'FieldValueInvalid', message: 'Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`', field: 'spec.template.metadata.labels' },
        ],
      },
    });
  });

  it('leaves the group out for core kinds and prints one error without brackets', () => {
    const status = invalidError('Pod', 'x', [{ type: 'FieldValueRequired', field: 'spec.containers[0].image', message: 'Required value' }]).toStatus();
    expect(status.message).toBe('Pod "x" is invalid: spec.containers[0].image: Required value');
    expect(status.details).toEqual({ name: 'x', kind: 'Pod', causes: [{ reason: 'FieldValueRequired', message: 'Required value', field: 'spec.containers[0].image' }] });
  });
});

describe('Secret data must be base64', () => {
  it.each([
    ['aGVsbG8=', undefined],
    ['aGVs\nbG8=', undefined],
    ['', undefined],
    ['hello', 4],
    ['abc', 0],
    ['hunter2!', 7],
    ['aGVsbG8', 4],
    ['aGVsbG8=x', 8],
  ])('%j fails at byte %s', (value, offset) => {
    expect(base64ErrorOffset(value)).toBe(offset);
  });

  it('answers 400 with the decoder message', () => {
    const err = secretDecodeError({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { password: 'hello' } });
    expect(err?.toStatus()).toMatchObject({ code: 400, reason: 'BadRequest', message: 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 4' });
  });
});
