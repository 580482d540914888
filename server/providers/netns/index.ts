import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labDir, labsDir } from '../../lab/naming.ts';
import { labIds, readRecord, removeLabDir, tryReadRecord, writeRecord, type LabRecord } from '../../lab/records.ts';
import { podTarget } from '../../lab/topology.ts';
import { LabError, type CreateOptions, type LabFacts, type LabStatus, type ProgressFn, type Provider, type Topology } from '../../lab/types.ts';
import { run } from '../../util/run.ts';
import { INSIDE_ENV, NetnsLab } from './lab.ts';
import { labFiles, setupScript } from './plan.ts';
import { findHolders, isAlive, startSandbox, stopSandbox, type SandboxHandle } from './sandbox.ts';

const CLI = fileURLToPath(new URL('../../netdojo.mjs', import.meta.url));

export function factsOf(id: string, scenario: string, seed: number, topo: Topology): LabFacts {
  return {
    id, scenario, provider: 'netns', seed,
    nodes: topo.nodes.map(({ name, role, ip, podCIDR }) => ({ name, role, ip, podCIDR })),
    pods: topo.pods.map((p) => ({ target: podTarget(p), node: p.node, ip: p.ip, app: p.app })),
    services: topo.services.map((s) => ({ target: `${s.namespace}/${s.name}`, clusterIP: s.clusterIP, ports: s.ports })),
    dns: topo.dns,
  };
}

/** Shell start-up for learners: a prompt that names where you are, and the lab helper on PATH. */
function bashrc(id: string): string {
  return `[ -f /etc/bash.bashrc ] && . /etc/bash.bashrc
PS1='\\[\\e[2m\\][${id}]\\[\\e[0m\\] \\[\\e[1;36m\\]'"$NETDOJO_TARGET"'\\[\\e[0m\\]:\\w\\$ '
alias k=lab
echo "netdojo lab ${id}: you are on $NETDOJO_TARGET. 'lab help' lists cluster commands (pods, services, logs, scale...)."
`;
}

/** The `lab` helper inside the sandbox: the netdojo CLI, acting from within. */
const labHelper = () => `#!/bin/sh\nexec '${process.execPath}' '${CLI}' lab "$@"\n`;

async function step<T>(onProgress: ProgressFn | undefined, action: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  onProgress?.({ action, status: 'start' });
  try {
    const r = await fn();
    onProgress?.({ action, status: 'done', ms: Math.round(performance.now() - t0) });
    return r;
  } catch (e) {
    onProgress?.({ action, status: 'fail', ms: Math.round(performance.now() - t0), error: (e as Error).message });
    throw e;
  }
}

async function create(topo: Topology, opts: CreateOptions): Promise<NetnsLab> {
  const dir = labDir(opts.id);
  let sandbox: SandboxHandle | undefined;
  const running = NetnsLab.runningPods(topo, { replicas: Object.fromEntries(topo.workloads.map((w) => [`${w.namespace}/${w.name}`, w.replicas])) });
  try {
    await step(opts.onProgress, 'Writing cluster configuration', async () => {
      await mkdir(dir, { recursive: true });
      const files = { ...labFiles(topo, dir, running), 'etc/bashrc': bashrc(opts.id), 'bin/lab': labHelper() };
      await Promise.all(Object.entries(files).map(async ([rel, content]) => {
        await mkdir(dirname(join(dir, rel)), { recursive: true });
        await writeFile(join(dir, rel), content);
      }));
      await Promise.all(['bin/enter', 'bin/lab'].map((f) => chmod(join(dir, f), 0o755)));
    });
    sandbox = await step(opts.onProgress, 'Creating the lab sandbox', () => startSandbox(dir));
    const record: LabRecord = {
      id: opts.id, provider: 'netns', scenario: opts.scenario, seed: opts.seed, createdAt: new Date().toISOString(),
      topology: topo, facts: factsOf(opts.id, opts.scenario, opts.seed, topo), handle: { ...sandbox },
    };
    await writeRecord(record);
    const lab = new NetnsLab(record);
    await step(opts.onProgress, 'Building nodes, pods, routes and Services; starting CoreDNS and web', async () => {
      const r = await lab.sandboxScript(setupScript(topo, dir, running));
      if (r.code !== 0) throw new LabError(`building the cluster failed: ${(r.stderr || r.stdout).trim().slice(-2000)}`);
    });
    return lab;
  } catch (e) {
    // A failed create leaves nothing: no sandbox, no record.
    if (sandbox) await stopSandbox(sandbox);
    await removeLabDir(opts.id);
    throw e;
  }
}

/** When this process runs inside a lab (the `lab` helper), it acts on that lab without entering. */
function insideLabDir(): string | undefined {
  return process.env[INSIDE_ENV];
}

async function open(id: string): Promise<NetnsLab> {
  const record = await readRecord(id);
  if (record.provider !== 'netns') throw new LabError(`lab ${id} runs on the ${record.provider} provider, not netns`);
  const inside = insideLabDir() === labDir(id);
  if (!inside && !(await isAlive(record.handle as unknown as SandboxHandle))) {
    throw new LabError(`lab ${id} is gone (its sandbox process died)`, 'run `netdojo down --all` to remove what is left of it');
  }
  return new NetnsLab(record, inside);
}

async function list(): Promise<LabStatus[]> {
  const holders = await findHolders(labsDir());
  const out: LabStatus[] = [];
  for (const id of await labIds()) {
    const rec = await tryReadRecord(id);
    if (rec && rec.provider !== 'netns') continue;
    // No record yet, but a holder: a lab being created right now, not a leftover.
    const alive = rec ? await isAlive(rec.handle as unknown as SandboxHandle) : holders.has(labDir(id));
    out.push({
      id, provider: 'netns', scenario: rec?.scenario ?? '?', state: alive ? 'alive' : 'dead', createdAt: rec?.createdAt ?? '',
      detail: rec ? undefined : alive ? 'being created' : 'no record (creation was interrupted)',
    });
  }
  return out;
}

async function reap(): Promise<string[]> {
  const removed: string[] = [];
  for (const s of await list()) {
    if (s.state === 'dead') { await removeLabDir(s.id); removed.push(s.id); }
  }
  // Holders of this state directory whose lab directory is gone (removed by hand, or a crash in the
  // middle of a teardown). Other state directories' labs (another user, another netdojo) are not ours.
  for (const [dir, pid] of await findHolders(labsDir())) {
    if (existsSync(dir)) continue;
    try { process.kill(pid, 'SIGKILL'); removed.push(basename(dir)); } catch { /* another user's, or already gone */ }
  }
  return removed;
}

const REQUIRED: [cmd: string, pkg: string][] = [
  ['ip', 'iproute2'], ['iptables', 'iptables'], ['iptables-restore', 'iptables'], ['conntrack', 'conntrack'],
  ['dnsmasq', 'dnsmasq-base'], ['python3', 'python3'], ['unshare', 'util-linux'], ['nsenter', 'util-linux'], ['setsid', 'util-linux'],
  ['dig', 'dnsutils (bind9-dnsutils)'], ['curl', 'curl'], ['ping', 'iputils-ping'], ['tcpdump', 'tcpdump'], ['ss', 'iproute2'],
];

async function doctor(): Promise<string[]> {
  const problems: string[] = [];
  const probe = await run('bash', ['-c', REQUIRED.map(([c]) => `command -v ${c} >/dev/null || echo ${c}`).join('; ')],
    { env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } });
  for (const missing of probe.stdout.split('\n').filter(Boolean)) {
    problems.push(`${missing} is missing: install ${REQUIRED.find(([c]) => c === missing)?.[1]} (Debian/Ubuntu: apt-get install -y ${REQUIRED.find(([c]) => c === missing)?.[1].split(' ')[0]})`);
  }
  const ipt = await run('bash', ['-c', 'PATH=$PATH:/usr/sbin:/sbin iptables -V']);
  if (ipt.code === 0 && !ipt.stdout.includes('nf_tables')) {
    problems.push(`iptables uses the legacy backend (${ipt.stdout.trim()}); labs need the nf_tables one: update-alternatives --set iptables /usr/sbin/iptables-nft`);
  }
  if (process.getuid?.() !== 0) {
    const u = await run('unshare', ['--user', '--map-root-user', '--net', 'true']);
    if (u.code !== 0) problems.push(`unprivileged user namespaces are not available (${u.stderr.trim()}): run as root, or enable them (sysctl -w kernel.unprivileged_userns_clone=1; user.max_user_namespaces > 0)`);
  }
  return problems;
}

export const netnsProvider = {
  name: 'netns' as const,
  create,
  open,
  list,
  reap,
  doctor,
} satisfies Provider;

export { NetnsLab };
