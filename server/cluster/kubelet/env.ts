import type { ClusterApi } from '../api.ts';
import { expandVars } from '../images.ts';
import type { KubeObject } from '../object.ts';

// A container's environment as the kubelet builds it: the Service variables of every Service in
// the pod's namespace (enableServiceLinks, Docker-links style, plus KUBERNETES_SERVICE_* for the
// master Service), then envFrom, then env with valueFrom (fieldRef, resourceFieldRef,
// configMapKeyRef, secretKeyRef), each able to use the $(VAR) of those before it.

export class EnvError extends Error {}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    resourceFieldRef?: { resource: string };
  };
}

interface EnvFrom { prefix?: string; configMapRef?: { name: string; optional?: boolean }; secretRef?: { name: string; optional?: boolean } }

interface ServicePort { name?: string; port: number; protocol?: string }

const envName = (s: string) => s.toUpperCase().replace(/-/g, '_');

function serviceEnv(svc: KubeObject): Record<string, string> {
  const spec = (svc.spec ?? {}) as { clusterIP?: string; ports?: ServicePort[] };
  if (!spec.clusterIP || spec.clusterIP === 'None' || !spec.ports?.length) return {};
  const base = envName(svc.metadata.name!);
  const ip = spec.clusterIP;
  const first = spec.ports[0];
  const out: Record<string, string> = {
    [`${base}_SERVICE_HOST`]: ip,
    [`${base}_SERVICE_PORT`]: String(first.port),
    [`${base}_PORT`]: `${(first.protocol ?? 'TCP').toLowerCase()}://${ip}:${first.port}`,
  };
  for (const p of spec.ports) {
    const proto = (p.protocol ?? 'TCP');
    if (p.name) out[`${base}_SERVICE_PORT_${envName(p.name)}`] = String(p.port);
    const prefix = `${base}_PORT_${p.port}_${proto}`;
    out[prefix] = `${proto.toLowerCase()}://${ip}:${p.port}`;
    out[`${prefix}_PROTO`] = proto.toLowerCase();
    out[`${prefix}_PORT`] = String(p.port);
    out[`${prefix}_ADDR`] = ip;
  }
  return out;
}

function fieldRef(pod: KubeObject, path: string, nodeIP: string): string {
  const spec = (pod.spec ?? {}) as { nodeName?: string; serviceAccountName?: string };
  const status = (pod.status ?? {}) as { podIP?: string };
  const label = /^metadata\.labels\['(.+)'\]$/.exec(path);
  if (label) return pod.metadata.labels?.[label[1]] ?? '';
  const ann = /^metadata\.annotations\['(.+)'\]$/.exec(path);
  if (ann) return pod.metadata.annotations?.[ann[1]] ?? '';
  switch (path) {
    case 'metadata.name': return pod.metadata.name ?? '';
    case 'metadata.namespace': return pod.metadata.namespace ?? '';
    case 'metadata.uid': return pod.metadata.uid ?? '';
    case 'spec.nodeName': return spec.nodeName ?? '';
    case 'spec.serviceAccountName': return spec.serviceAccountName ?? '';
    case 'status.hostIP': case 'status.hostIPs': return nodeIP;
    case 'status.podIP': case 'status.podIPs': return status.podIP ?? '';
    default: throw new EnvError(`unsupported fieldPath: ${path}`);
  }
}

export function containerEnv(api: ClusterApi, pod: KubeObject, container: { env?: EnvVar[]; envFrom?: EnvFrom[] }, nodeIP: string): Record<string, string> {
  const ns = pod.metadata.namespace;
  const spec = (pod.spec ?? {}) as { enableServiceLinks?: boolean };
  const env: Record<string, string> = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOSTNAME: pod.metadata.name ?? '' };
  // The master Service's variables are always there; the others only with service links on.
  const master = api.tryGet('Service', 'default', 'kubernetes');
  if (master) {
    const m = serviceEnv(master);
    for (const [k, v] of Object.entries(m)) if (k.startsWith('KUBERNETES_')) env[k] = v;
  }
  if (spec.enableServiceLinks !== false) {
    for (const svc of api.list('Service', ns).items) Object.assign(env, serviceEnv(svc));
  }
  const cmData = (name: string, optional?: boolean) => {
    const cm = api.tryGet('ConfigMap', ns, name);
    if (!cm && !optional) throw new EnvError(`configmap "${name}" not found`);
    return (cm?.data ?? {}) as Record<string, string>;
  };
  const secretData = (name: string, optional?: boolean) => {
    const s = api.tryGet('Secret', ns, name);
    if (!s && !optional) throw new EnvError(`secret "${name}" not found`);
    return Object.fromEntries(Object.entries((s?.data ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  };
  for (const from of container.envFrom ?? []) {
    const data = from.configMapRef ? cmData(from.configMapRef.name, from.configMapRef.optional) : from.secretRef ? secretData(from.secretRef.name, from.secretRef.optional) : {};
    for (const [k, v] of Object.entries(data)) env[`${from.prefix ?? ''}${k}`] = v;
  }
  for (const e of container.env ?? []) {
    const vf = e.valueFrom;
    if (!vf) { env[e.name] = expandVars(e.value ?? '', env); continue; }
    if (vf.fieldRef) env[e.name] = fieldRef(pod, vf.fieldRef.fieldPath, nodeIP);
    else if (vf.configMapKeyRef) {
      const d = cmData(vf.configMapKeyRef.name, vf.configMapKeyRef.optional);
      if (!(vf.configMapKeyRef.key in d)) {
        if (vf.configMapKeyRef.optional) continue;
        throw new EnvError(`couldn't find key ${vf.configMapKeyRef.key} in ConfigMap ${ns}/${vf.configMapKeyRef.name}`);
      }
      env[e.name] = d[vf.configMapKeyRef.key];
    } else if (vf.secretKeyRef) {
      const d = secretData(vf.secretKeyRef.name, vf.secretKeyRef.optional);
      if (!(vf.secretKeyRef.key in d)) {
        if (vf.secretKeyRef.optional) continue;
        throw new EnvError(`couldn't find key ${vf.secretKeyRef.key} in Secret ${ns}/${vf.secretKeyRef.name}`);
      }
      env[e.name] = d[vf.secretKeyRef.key];
    } else if (vf.resourceFieldRef) env[e.name] = '0';
  }
  return env;
}
