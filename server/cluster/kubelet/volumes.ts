import { mkdir, readdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, normalize } from 'node:path';
import type { ClusterApi } from '../api.ts';
import type { KubeObject } from '../object.ts';
import type { Mount } from './runtime.ts';

// A pod's volumes as the kubelet materialises them: configMap, secret, projected (the service
// account token, the CA and the namespace, as kube-api-access-* carries them), downwardAPI
// labels/annotations, emptyDir, and hostPath inside the node's own file system (each node of the
// replica has a directory of its own, so /etc/cni/net.d on the worker is not the host's).
// A missing ConfigMap or Secret is the kubelet's CreateContainerConfigError / FailedMount.

export class VolumeError extends Error {}

interface KeyToPath { key: string; path: string; mode?: number }
interface Volume {
  name: string;
  configMap?: { name: string; items?: KeyToPath[]; optional?: boolean };
  secret?: { secretName: string; items?: KeyToPath[]; optional?: boolean };
  emptyDir?: object;
  hostPath?: { path: string; type?: string };
  downwardAPI?: { items?: { path: string; fieldRef?: { fieldPath: string } }[] };
  projected?: { sources?: {
    serviceAccountToken?: { path: string };
    configMap?: { name: string; items?: KeyToPath[]; optional?: boolean };
    secret?: { name: string; items?: KeyToPath[]; optional?: boolean };
    downwardAPI?: { items?: { path: string; fieldRef?: { fieldPath: string } }[] };
  }[] };
}

export interface VolumeContext {
  api: ClusterApi;
  pod: KubeObject;
  /** The pod's own directory for its volumes. */
  podDir: string;
  /** The node's root file system in the replica. */
  nodeRoot: string;
  token: string;
  caCert: string;
}

const safeJoin = (base: string, rel: string) => {
  const p = normalize(join(base, rel));
  if (!p.startsWith(base + '/') && p !== base) throw new VolumeError(`path "${rel}" must not leave the volume`);
  return p;
};

/**
 * The kubelet's atomic writer: the volume directory stays (a container's bind mount of it keeps
 * seeing it), its files live in a timestamped directory that `..data` points to, and each name is a
 * link through `..data`, so an update is one rename: a reader sees the old files or the new, never
 * a mix. `ls -la` in a pod shows what it shows on a real node.
 */
async function writeFiles(dir: string, files: Record<string, string | Buffer>): Promise<void> {
  await mkdir(dir, { recursive: true });
  const stamp = `..${new Date().toISOString().replace(/[-:]/g, '_').replace('T', '_').replace(/\..*$/, '')}.${Math.random().toString().slice(2, 11)}`;
  const data = join(dir, stamp);
  await mkdir(data);
  for (const [rel, content] of Object.entries(files)) {
    const p = safeJoin(data, rel);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, content);
  }
  const previous = await readlink(join(dir, '..data')).catch(() => undefined);
  await symlink(stamp, join(dir, '..data_tmp'));
  await rename(join(dir, '..data_tmp'), join(dir, '..data'));
  const top = new Set(Object.keys(files).map((rel) => rel.split('/')[0]));
  for (const name of top) await symlink(join('..data', name), join(dir, name)).catch(() => undefined);
  for (const entry of await readdir(dir)) {
    if (entry === '..data' || entry === stamp) continue;
    if (entry.startsWith('..') ? entry === previous || entry.startsWith('..2') : !top.has(entry)) await rm(join(dir, entry), { recursive: true, force: true });
  }
}

function pick(data: Record<string, string | Buffer>, items: KeyToPath[] | undefined, what: string): Record<string, string | Buffer> {
  if (!items?.length) return data;
  const out: Record<string, string | Buffer> = {};
  for (const it of items) {
    if (!(it.key in data)) throw new VolumeError(`configmap references non-existent config key: ${it.key} (${what})`);
    out[it.path] = data[it.key];
  }
  return out;
}

function configMapData(ctx: VolumeContext, name: string, optional: boolean | undefined): Record<string, string | Buffer> | undefined {
  const cm = ctx.api.tryGet('ConfigMap', ctx.pod.metadata.namespace, name);
  if (!cm) {
    if (optional) return {};
    throw new VolumeError(`configmap "${name}" not found`);
  }
  const data: Record<string, string | Buffer> = { ...((cm.data ?? {}) as Record<string, string>) };
  for (const [k, v] of Object.entries((cm.binaryData ?? {}) as Record<string, string>)) data[k] = Buffer.from(v, 'base64');
  return data;
}

function secretData(ctx: VolumeContext, name: string, optional: boolean | undefined): Record<string, string | Buffer> {
  const s = ctx.api.tryGet('Secret', ctx.pod.metadata.namespace, name);
  if (!s) {
    if (optional) return {};
    throw new VolumeError(`secret "${name}" not found`);
  }
  return Object.fromEntries(Object.entries((s.data ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
}

function fieldValue(pod: KubeObject, path: string): string {
  const m = pod.metadata;
  if (path === 'metadata.labels') return Object.entries(m.labels ?? {}).map(([k, v]) => `${k}="${v}"`).join('\n');
  if (path === 'metadata.annotations') return Object.entries(m.annotations ?? {}).map(([k, v]) => `${k}="${v}"`).join('\n');
  if (path === 'metadata.name') return m.name ?? '';
  if (path === 'metadata.namespace') return m.namespace ?? '';
  if (path === 'metadata.uid') return m.uid ?? '';
  throw new VolumeError(`unsupported fieldPath: ${path}`);
}

/** Writes every volume of the pod and returns each volume's host directory by name. */
export async function materializeVolumes(ctx: VolumeContext): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const volumes = (((ctx.pod.spec ?? {}) as { volumes?: Volume[] }).volumes ?? []);
  for (const v of volumes) {
    const dir = join(ctx.podDir, 'volumes', v.name);
    if (v.configMap) await writeFiles(dir, pick(configMapData(ctx, v.configMap.name, v.configMap.optional)!, v.configMap.items, v.name));
    else if (v.secret) await writeFiles(dir, pick(secretData(ctx, v.secret.secretName, v.secret.optional), v.secret.items, v.name));
    else if (v.emptyDir) await mkdir(dir, { recursive: true });
    else if (v.hostPath) {
      const p = safeJoin(ctx.nodeRoot, v.hostPath.path);
      if (v.hostPath.type === 'File' || v.hostPath.type === 'FileOrCreate') { await mkdir(dirname(p), { recursive: true }); await writeFile(p, '', { flag: 'a' }); }
      else await mkdir(p, { recursive: true });
      out.set(v.name, p);
      continue;
    } else if (v.downwardAPI) {
      await writeFiles(dir, Object.fromEntries((v.downwardAPI.items ?? []).map((it) => [it.path, fieldValue(ctx.pod, it.fieldRef?.fieldPath ?? '')])));
    } else if (v.projected) {
      const files: Record<string, string | Buffer> = {};
      for (const s of v.projected.sources ?? []) {
        if (s.serviceAccountToken) files[s.serviceAccountToken.path] = ctx.token;
        if (s.configMap) Object.assign(files, pick(configMapData(ctx, s.configMap.name, s.configMap.optional)!, s.configMap.items, v.name));
        if (s.secret) Object.assign(files, pick(secretData(ctx, s.secret.name, s.secret.optional), s.secret.items, v.name));
        if (s.downwardAPI) for (const it of s.downwardAPI.items ?? []) files[it.path] = fieldValue(ctx.pod, it.fieldRef?.fieldPath ?? '');
      }
      await writeFiles(dir, files);
    } else {
      throw new VolumeError(`volume "${v.name}": this lab supports configMap, secret, projected, downwardAPI, emptyDir and hostPath volumes`);
    }
    out.set(v.name, dir);
  }
  return out;
}

interface VolumeMount { name: string; mountPath: string; subPath?: string; readOnly?: boolean }

/** A container's mounts from its volumeMounts and the pod's materialised volumes. */
export function containerMounts(container: { name: string; volumeMounts?: VolumeMount[] }, volumes: Map<string, string>): Mount[] {
  return (container.volumeMounts ?? []).map((vm) => {
    const src = volumes.get(vm.name);
    if (!src) throw new VolumeError(`volumeMount "${vm.name}" of container "${container.name}" names no volume of the pod`);
    return { source: vm.subPath ? safeJoin(src, vm.subPath) : src, target: vm.mountPath, readOnly: Boolean(vm.readOnly) };
  });
}

/** The ConfigMaps and Secrets a pod reads, so their changes reach its volumes. */
export function referencedConfig(pod: KubeObject): { configMaps: string[]; secrets: string[] } {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  for (const v of (((pod.spec ?? {}) as { volumes?: Volume[] }).volumes ?? [])) {
    if (v.configMap) configMaps.add(v.configMap.name);
    if (v.secret) secrets.add(v.secret.secretName);
    for (const s of v.projected?.sources ?? []) {
      if (s.configMap) configMaps.add(s.configMap.name);
      if (s.secret) secrets.add(s.secret.name);
    }
  }
  return { configMaps: [...configMaps], secrets: [...secrets] };
}
