import { createHash } from 'node:crypto';
import { KIND_LAB_LABEL, PRODUCT, stateDir } from '../../lab/naming.ts';
import type { ExecOptions, ExecResult } from '../../lab/types.ts';
import { must, run } from '../../util/run.ts';

// The Docker engine through its CLI (the same client kind itself drives). Every object netdojo
// creates carries KIND_LAB_LABEL=<lab id>, so leftovers of a crashed server are found by label.

export const DOCKER = process.env.NETDOJO_DOCKER || 'docker';
/** kind to use: NETDOJO_KIND names another binary (read when used). */
export const kindBin = () => process.env.NETDOJO_KIND || 'kind';
/** Label kind puts on node containers (value: cluster name). */
export const KIND_CLUSTER_LABEL = 'io.x-k8s.kind.cluster';
export const KIND_ROLE_LABEL = 'io.x-k8s.kind.role';

export interface DockerStatus {
  ok: boolean;
  /** Why not, when not ok: the client is missing or the daemon is not reachable. */
  reason?: 'docker not installed' | 'docker daemon not reachable';
  detail?: string;
  serverVersion?: string;
  cgroupVersion?: string;
}

export async function dockerStatus(): Promise<DockerStatus> {
  const r = await run(DOCKER, ['info', '--format', '{{json .}}'], { timeoutMs: 15_000 });
  if (r.code === null && !r.timedOut && /ENOENT/.test(r.stderr)) return { ok: false, reason: 'docker not installed', detail: r.stderr.trim() };
  if (r.code !== 0) return { ok: false, reason: 'docker daemon not reachable', detail: (r.stderr || r.stdout).trim().split('\n').slice(-1)[0] };
  try {
    const info = JSON.parse(r.stdout) as { ServerVersion?: string; CgroupVersion?: string; ServerErrors?: string[] };
    if (!info.ServerVersion) return { ok: false, reason: 'docker daemon not reachable', detail: info.ServerErrors?.join('; ') };
    return { ok: true, serverVersion: info.ServerVersion, cgroupVersion: info.CgroupVersion };
  } catch {
    return { ok: false, reason: 'docker daemon not reachable', detail: r.stdout.slice(0, 200) };
  }
}

export interface NetworkInfo {
  name: string;
  id: string;
  mtu: number;
  subnets: string[];
  gateways: string[];
  labels: Record<string, string>;
}

/** A bridge network like kind's own `kind` network, with a chosen MTU (kind reuses a network that exists). */
export async function createNetwork(name: string, opts: { mtu: number; labels: Record<string, string> }): Promise<NetworkInfo> {
  const args = ['network', 'create', '--driver', 'bridge', '-o', `com.docker.network.driver.mtu=${opts.mtu}`,
    // kind's own network settings: masquerade on, inter-container traffic allowed.
    '-o', 'com.docker.network.bridge.enable_ip_masquerade=true', '-o', 'com.docker.network.bridge.enable_icc=true'];
  for (const [k, v] of Object.entries(opts.labels)) args.push('--label', `${k}=${v}`);
  await must(DOCKER, [...args, name], { timeoutMs: 60_000 });
  const info = await inspectNetwork(name);
  if (!info) throw new Error(`docker network ${name} was created but cannot be inspected`);
  return info;
}

export async function inspectNetwork(name: string): Promise<NetworkInfo | undefined> {
  const r = await run(DOCKER, ['network', 'inspect', name, '--format', '{{json .}}'], { timeoutMs: 30_000 });
  if (r.code !== 0) return undefined;
  const n = JSON.parse(r.stdout) as {
    Name: string; Id: string; Options?: Record<string, string>; Labels?: Record<string, string>;
    IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] };
  };
  return {
    name: n.Name,
    id: n.Id,
    mtu: Number(n.Options?.['com.docker.network.driver.mtu'] ?? 1500),
    subnets: (n.IPAM?.Config ?? []).map((c) => c.Subnet).filter((s): s is string => !!s),
    gateways: (n.IPAM?.Config ?? []).map((c) => c.Gateway).filter((s): s is string => !!s),
    labels: n.Labels ?? {},
  };
}

export async function removeNetwork(name: string): Promise<void> {
  const r = await run(DOCKER, ['network', 'rm', name], { timeoutMs: 60_000 });
  if (r.code !== 0 && !/not found|No such network/i.test(r.stderr)) throw new Error(`docker network rm ${name}: ${r.stderr.trim()}`);
}

/** Names of networks carrying a label (optionally with a value). */
export async function networksByLabel(label: string, value?: string): Promise<{ name: string; labels: Record<string, string> }[]> {
  const out = await must(DOCKER, ['network', 'ls', '--filter', `label=${value === undefined ? label : `${label}=${value}`}`, '--format', '{{.Name}}'], { timeoutMs: 30_000 });
  const names = out.split('\n').map((s) => s.trim()).filter(Boolean);
  const res: { name: string; labels: Record<string, string> }[] = [];
  for (const name of names) {
    const info = await inspectNetwork(name);
    if (info) res.push({ name, labels: info.labels });
  }
  return res;
}

export interface ContainerRow { name: string; labels: Record<string, string>; running: boolean }

export async function containersByLabel(label: string, value?: string): Promise<ContainerRow[]> {
  const out = await must(DOCKER, ['ps', '-a', '--filter', `label=${value === undefined ? label : `${label}=${value}`}`, '--format', '{{json .}}'], { timeoutMs: 30_000 });
  return out.split('\n').filter((l) => l.trim()).map((l) => {
    const row = JSON.parse(l) as { Names: string; Labels: string; State: string };
    const labels: Record<string, string> = {};
    for (const kv of row.Labels ? row.Labels.split(',') : []) {
      const i = kv.indexOf('=');
      if (i > 0) labels[kv.slice(0, i)] = kv.slice(i + 1);
    }
    return { name: row.Names, labels, running: row.State === 'running' };
  });
}

/**
 * Runs argv inside a container (a kind node) as root. `docker exec` does not stop the process when
 * the client dies, so the command runs under coreutils `timeout` inside the container as well as
 * being killed on the host side: nothing outlives the deadline.
 */
export async function containerExec(container: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const inner = opts.timeoutMs ? ['timeout', '-s', 'KILL', String(Math.max(1, Math.ceil(opts.timeoutMs / 1000))), ...argv] : argv;
  const r = await run(DOCKER, ['exec', ...(opts.stdin !== undefined ? ['-i'] : []), container, ...inner], {
    stdin: opts.stdin,
    // The host-side deadline is a little later so the in-container `timeout` normally fires first
    // and its exit status (137) reaches us; either way the result says timedOut.
    timeoutMs: opts.timeoutMs ? opts.timeoutMs + 2000 : undefined,
  });
  if (opts.timeoutMs && r.code === 137 && r.ms >= opts.timeoutMs - 50) return { ...r, code: null, timedOut: true };
  return r;
}

/** Local image present in the engine (not pulled: netdojo never pulls). */
export async function imageExists(ref: string): Promise<boolean> {
  const r = await run(DOCKER, ['image', 'inspect', ref, '--format', '{{.Id}}'], { timeoutMs: 30_000 });
  return r.code === 0;
}

/**
 * Which netdojo state directory a Docker object belongs to: two servers (or test runs) with
 * different NETDOJO_HOME share one Docker engine, and neither may reap the other's labs.
 */
export const HOME_LABEL = `io.${PRODUCT}.home`;
export const homeTag = () => createHash('sha256').update(stateDir()).digest('hex').slice(0, 12);

/** Labels for a Docker object of lab `id`: the lab and the state directory that owns it. */
export const labLabels = (id: string, extra: Record<string, string> = {}) => ({ [KIND_LAB_LABEL]: id, [HOME_LABEL]: homeTag(), ...extra });
