import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { KIND_LAB_LABEL, newLabId } from '../server/lab/naming.ts';
import { baseTopology } from '../server/lab/topology.ts';
import { getProvider } from '../server/providers/index.ts';
import { containerExec, containersByLabel, createNetwork, DOCKER, dockerStatus, imageExists, labLabels, networksByLabel, removeNetwork } from '../server/providers/kind/docker.ts';
import { buildProbeImage, PROBE_IMAGE, removeImage } from '../server/providers/kind/image.ts';
import { must } from '../server/util/run.ts';
import { teardown, track, type BenchContext } from './context.ts';
import { settle } from './settle.ts';
import { summarize, timed } from './stats.ts';
import type { Containers, Section } from './types.ts';

// 4a. The same 2-node topology as kind builds it, one container per node on the Docker engine,
// versus the netns provider, measured in the same run and interleaved (a docker run, then a netns
// run) so that whatever else the machine does weighs on both.
//
// Docker side, per run: a bridge network (kind's `kind` network), two node containers
// from a locally built image (nothing is pulled), with NET_ADMIN and forwarding on, and in each node a cni0 bridge holding its
// podCIDR's gateway plus a route to the other node's podCIDR via that node (what kindnet programs);
// ready when the control-plane reaches the worker's cni0 through that route. The netns side is a
// whole lab: the same nodes and routes plus six pods, Services, DNS and web backends, so the
// comparison flatters Docker.

export const CONTAINER_RUNS = { full: 10, quick: 3 };
export const EXEC_SAMPLES = { full: 30, quick: 10 };


/** How CI (a fresh machine without an init system) starts the engine; the bench does the same. */
export const DOCKERD_COMMAND = ['dockerd', '--host', 'unix:///var/run/docker.sock'];

/** Reachable engine, or why not; starts dockerd (registered for cleanup, ended by PID) when root and it is installed. */
export async function ensureDocker(ctx: BenchContext): Promise<{ ok: true; version: string; startedByBench: boolean } | { ok: false; reason: string }> {
  const st = await dockerStatus();
  if (st.ok) return { ok: true, version: st.serverVersion ?? '?', startedByBench: false };
  if (st.reason === 'docker not installed') return { ok: false, reason: 'docker not installed' };
  const dockerd = ['/usr/sbin/dockerd', '/usr/bin/dockerd', '/usr/local/bin/dockerd'].find((p) => existsSync(p));
  if (process.getuid?.() !== 0 || !dockerd) return { ok: false, reason: 'docker daemon not reachable' };
  ctx.log(`containers: starting the Docker engine: ${DOCKERD_COMMAND.join(' ')}`);
  const logFile = join(ctx.home, 'dockerd.log');
  const fd = openSync(logFile, 'a');
  const child = spawn(dockerd, DOCKERD_COMMAND.slice(1), { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const pid = child.pid;
  child.unref();
  if (!pid) return { ok: false, reason: 'docker daemon not reachable' };
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  ctx.cleanup.add(`dockerd (PID ${pid}, started by the bench)`, async () => {
    try { process.kill(pid, 'SIGTERM'); } catch { return; }
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => { timer = setTimeout(() => r(false), 20_000); })]);
    clearTimeout(timer);
    if (!done) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  });
  for (let i = 0; i < 150; i++) {
    const s = await dockerStatus();
    if (s.ok) return { ok: true, version: s.serverVersion ?? '?', startedByBench: true };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return { ok: false, reason: 'docker daemon not reachable' };
}

interface DockerCluster { network: string; nodes: string[] }

/** The kind-shaped 2-node topology as containers; ready once pod routes carry traffic between nodes. */
async function dockerUp(ctx: BenchContext, image: string, name: string): Promise<DockerCluster> {
  const labels = labLabels(ctx.runId, { 'io.netdojo.bench': 'nodes' });
  const nodes = baseTopology().nodes;
  const net = await createNetwork(name, { mtu: 1500, labels });
  const cluster: DockerCluster = { network: net.name, nodes: [] };
  try {
    await Promise.all(nodes.map(async (n) => {
      const c = `${name}-${n.name}`;
      // kind runs nodes --privileged; the node network needs only NET_ADMIN and forwarding (and some
      // hosts, like a container-in-container CI, refuse the full capability set).
      await must(DOCKER, ['run', '-d', '--cap-add', 'NET_ADMIN', '--sysctl', 'net.ipv4.ip_forward=1', '--name', c, '--hostname', n.name, '--network', net.name,
        ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]), image, 'sleep', 'infinity'], { timeoutMs: 60_000 });
      cluster.nodes.push(c);
    }));
    const ips = await Promise.all(nodes.map(async (n) => (await must(DOCKER, ['inspect', '-f', `{{(index .NetworkSettings.Networks "${net.name}").IPAddress}}`, `${name}-${n.name}`], { timeoutMs: 30_000 })).trim()));
    await Promise.all(nodes.map(async (n, i) => {
      const other = nodes[1 - i];
      const gw = n.podCIDR.replace(/0\/24$/, '1/24');
      const script = [
        'set -e',
        'ip link add cni0 type bridge',
        `ip addr add ${gw} dev cni0`,
        'ip link set cni0 up',
        `ip route add ${other.podCIDR} via ${ips[1 - i]}`,
      ].join('\n');
      const r = await containerExec(`${name}-${n.name}`, ['bash', '-c', script], { timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`configuring ${n.name}: ${r.stderr.trim()}`);
    }));
    const workerGw = nodes[1].podCIDR.replace(/0\/24$/, '1');
    const ping = await containerExec(`${name}-${nodes[0].name}`, ['ping', '-n', '-c1', '-W2', workerGw], { timeoutMs: 10_000 });
    if (ping.code !== 0) throw new Error(`control-plane cannot reach the worker's podCIDR through its route: ${ping.stdout.trim()} ${ping.stderr.trim()}`);
    return cluster;
  } catch (e) {
    await dockerDown(cluster).catch(() => {});
    throw e;
  }
}

async function dockerDown(c: DockerCluster): Promise<void> {
  if (c.nodes.length) await must(DOCKER, ['rm', '-f', '-v', ...c.nodes], { timeoutMs: 60_000 });
  await removeNetwork(c.network);
}

/** Every container and network this run labelled: the cleanup path's Docker sweep. */
export async function sweepDocker(runId: string): Promise<void> {
  const cs = await containersByLabel(KIND_LAB_LABEL, runId);
  if (cs.length) await must(DOCKER, ['rm', '-f', '-v', ...cs.map((c) => c.name)], { timeoutMs: 120_000 });
  for (const n of await networksByLabel(KIND_LAB_LABEL, runId)) await removeNetwork(n.name);
}

export async function benchContainers(ctx: BenchContext): Promise<Section<Containers>> {
  const docker = await ensureDocker(ctx);
  if (!docker.ok) return { status: 'skipped', reason: docker.reason };
  ctx.cleanup.add('docker objects of this run', () => sweepDocker(ctx.runId));

  // The image: the one `netdojo images` builds when it is there, else a bench-only build of it, removed after.
  let image: Containers['image'];
  if (await imageExists(PROBE_IMAGE)) {
    image = { ref: PROBE_IMAGE, built: false };
  } else {
    const ref = `netdojo/probe:bench-${ctx.runId}`;
    ctx.cleanup.add(`image ${ref}`, () => removeImage(ref));
    ctx.log(`containers: building ${ref} from host binaries (docker import, no pull)`);
    const b = await timed(() => buildProbeImage({ ref, labels: { [KIND_LAB_LABEL]: ctx.runId } }));
    image = { ref, built: true, buildMs: b.ms };
  }

  const provider = await getProvider('netns');
  const runs = ctx.quick ? CONTAINER_RUNS.quick : CONTAINER_RUNS.full;
  const samples = ctx.quick ? EXEC_SAMPLES.quick : EXEC_SAMPLES.full;
  const t = { dUp: [] as number[], dDown: [] as number[], dExec: [] as number[], nUp: [] as number[], nDown: [] as number[], nExec: [] as number[] };
  const teardownErrors: string[] = [];
  // One of each, not measured: first container start and first lab pay for cold caches.
  await dockerDown(await dockerUp(ctx, image.ref, `netdojo-bench-${ctx.runId}-warm`));
  for (let i = 0; i < runs; i++) {
    const name = `netdojo-bench-${ctx.runId}-${i}`;
    const up = await timed(() => dockerUp(ctx, image.ref, name));
    t.dUp.push(up.ms);
    if (i === 0) {
      for (let k = 0; k < samples; k++) {
        const r = await timed(() => containerExec(`${name}-control-plane`, ['true']));
        if (r.value.code !== 0) throw new Error(`docker exec true failed: ${r.value.stderr.trim()}`);
        t.dExec.push(r.ms);
      }
    }
    t.dDown.push((await timed(() => dockerDown(up.value))).ms);
    await settle();

    const lab = await timed(() => provider.create(baseTopology(), { id: newLabId(), scenario: 'bench', seed: 1 }));
    const destroy = track(ctx, lab.value);
    t.nUp.push(lab.ms);
    if (i === 0) {
      for (let k = 0; k < samples; k++) {
        const r = await timed(() => lab.value.exec('control-plane', ['true']));
        if (r.value.code !== 0) throw new Error(`netns exec true failed: ${r.value.stderr.trim()}`);
        t.nExec.push(r.ms);
      }
    }
    const down = await teardown(destroy, teardownErrors);
    if (down !== undefined) t.nDown.push(down);
    await settle();
    ctx.log(`containers: run ${i + 1}/${runs}: docker up ${Math.round(up.ms)} ms, netns up ${Math.round(lab.ms)} ms`);
  }
  return {
    status: 'ok',
    data: {
      runs, image,
      daemon: { version: docker.version, startedByBench: docker.startedByBench, ...(docker.startedByBench ? { command: DOCKERD_COMMAND.join(' ') } : {}) },
      dockerUp: summarize(t.dUp), dockerDown: summarize(t.dDown), dockerExec: summarize(t.dExec),
      netnsUp: summarize(t.nUp), netnsDown: summarize(t.nDown), netnsExec: summarize(t.nExec), teardownErrors,
    },
  };
}
