import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newLabId } from '../server/lab/naming.ts';
import { newLab } from '../server/lab/session.ts';
import { DEFAULT_WARM_LABS, warmLabs } from '../server/lab/warm.ts';
import { baseTopology } from '../server/lab/topology.ts';
import type { Lab, Provider } from '../server/lab/types.ts';
import { getProvider } from '../server/providers/index.ts';
import { run } from '../server/util/run.ts';
import { clusterHostPid } from './clusterhost.ts';
import { teardown, track, type BenchContext } from './context.ts';
import { settle } from './settle.ts';
import { summarize, timed, type Summary } from './stats.ts';
import type { Kube, PhaseTimes } from './types.ts';

// 5. The lab as a Kubernetes cluster: how soon a new lab answers with every pod Ready, what
// `kubectl get pods` costs inside it, and how soon an object change shows in the data plane.
//
// - ready: provider create of the base topology, which resolves once the lab's API answers and
//   reports every pod Ready. The first lab of the run also starts the cluster host (the one process
//   serving every lab's API and controllers), so it is reported on its own.
// - ready from labs made ahead: what a start costs on a server that keeps labs warm (`netdojo serve
//   --warm-labs`): the session's newLab with a pool of WARM_POOL labs, timed from the request to a
//   lab whose API answers with every pod Ready. Each sample starts once the pool is full again, as
//   on a server whose starts come further apart than a lab's creation (a burst of starts is the
//   exam section's); a sample the pool could not serve is created there and then, and counted.
// - kubectl: `kubectl get pods` through lab.exec on the admin target (what the grader and the
//   server pay), and the same command's own process time measured inside the lab (EPOCHREALTIME
//   around it in one shell), so the difference is the exec's cost.
// - object → data plane: `kubectl -n kube-system scale deploy/coredns` from the host (with the
//   lab's `netdojo kubeconfig`); a loop in a client pod runs dig against the cluster DNS back to
//   back (no sleep) and stamps the first answer that shows the change. Scaling to 0 removes the
//   kube-dns endpoints, and kube-proxy then rejects queries to the Service (refused); scaling back
//   to 2 needs new pods started and Ready before kube-proxy routes to them again (answered).
//   Times run from the kubectl command's start; the part after kubectl returned is given too.

export const READY_RUNS = { full: 20, quick: 5 };
/** Labs the warm pool of the "ready from labs made ahead" row keeps (netdojo serve's default). */
const WARM_POOL = DEFAULT_WARM_LABS.netns;
export const KUBECTL_SAMPLES = { full: 30, quick: 10 };
export const DATA_PLANE_RUNS = { full: 10, quick: 3 };
/** The targets, on the median (p50). */
export const KUBE_TARGETS = { readyMs: 300, kubectlMs: 150, dataPlaneMs: 500 };

const DNS_NAME = 'kubernetes.default.svc.cluster.local';
/** How long the in-pod loop may wait for a change before the sample counts as failed. */
const POLL_LIMIT_S = 30;

/** Wall clock in ms with sub-ms precision, comparable with a lab's EPOCHREALTIME (same clock). */
const wallNow = () => performance.timeOrigin + performance.now();

/**
 * The in-pod poll loop: dig back to back until the answer shows `$1` (refused | answered). Prints
 * how many polls still showed the old state and the wall time the first new-state answer came in.
 */
const POLL_SCRIPT = `want=$1; name=$2; old=0; end=$(( \${EPOCHSECONDS} + ${POLL_LIMIT_S} ))
while [ "\${EPOCHSECONDS}" -lt "$end" ]; do
  out=$(dig +tries=1 +time=1 +short "$name" 2>&1); rc=$?; t=$EPOCHREALTIME
  case "$want" in
    refused) case "$out" in *refused*) echo "$old $t"; exit 0;; esac ;;
    answered) [ "$rc" = 0 ] && printf '%s\\n' "$out" | grep -Eq '^[0-9]+(\\.[0-9]+){3}$' && { echo "$old $t"; exit 0; } ;;
  esac
  old=$((old + 1))
done
echo "no change within ${POLL_LIMIT_S} s: last answer: $out" >&2; exit 1`;

/** `kubectl get pods` timed inside the lab, n times in one shell: milliseconds each. */
const KUBECTL_LOOP = (n: number) => `for i in $(seq ${n}); do s=$EPOCHREALTIME; kubectl get pods >/dev/null || exit 1; e=$EPOCHREALTIME; echo "$s $e"; done`;

const toMs = (epochRealtime: string) => Number(epochRealtime.replace(',', '.')) * 1000;

export async function benchKube(ctx: BenchContext): Promise<Kube> {
  const provider = await getProvider('netns');
  const hostWasRunning = (await clusterHostPid(ctx.home)) !== undefined;
  const runs = ctx.quick ? READY_RUNS.quick : READY_RUNS.full;

  // Teardown is the lifecycle section's measure; here a lab that fails to go is recorded, and what
  // it left is removed with the bench's state directory.
  const teardownErrors: string[] = [];
  const destroy = (r: { destroy: () => Promise<void> }) => teardown(r.destroy, teardownErrors);
  const first = await readyOnce(ctx, provider);
  await destroy(first);
  ctx.log(`kube: first lab ready in ${Math.round(first.ms)} ms${hostWasRunning ? '' : ' (cluster host started with it)'}`);
  const ready: number[] = [];
  const phases: Record<string, number[]> = {};
  let kept: Awaited<ReturnType<typeof readyOnce>> | undefined;
  for (let i = 0; i < runs; i++) {
    await settle();
    const r = await readyOnce(ctx, provider);
    ready.push(r.ms);
    for (const [name, ms] of Object.entries(r.phases)) (phases[name] ??= []).push(ms);
    // The last lab stays up for the kubectl and data plane measurements.
    if (i < runs - 1) await destroy(r);
    else kept = r;
  }
  ctx.log(`kube: ${runs} more labs ready`);
  const warm = await readyWarm(ctx, provider, runs, destroy);
  ctx.log(`kube: ${runs} labs taken from labs made ahead (${warm.fromPool} from the pool)`);
  const lab = kept!;
  try {
    await settle();
    const kubectl = await benchKubectl(ctx, lab.lab);
    ctx.log('kube: kubectl get pods measured');
    const dataPlane = await benchDataPlane(ctx, provider, lab.lab);
    return {
      targets: KUBE_TARGETS,
      firstReady: { ms: first.ms, startedClusterHost: !hostWasRunning, phases: first.phases },
      ready: summarize(ready),
      readyPhases: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, summarize(v)])),
      readyWarm: { ...warm, pool: WARM_POOL },
      ...kubectl,
      ...dataPlane,
      teardownErrors,
    };
  } finally {
    await destroy(lab);
  }
}

/** One base lab created and timed, with its create's phases (the provider's progress steps). */
async function readyOnce(ctx: BenchContext, provider: Provider): Promise<{ ms: number; phases: PhaseTimes; lab: Lab; destroy: () => Promise<void> }> {
  const phases: PhaseTimes = {};
  const c = await timed(() => provider.create(baseTopology(), {
    id: newLabId(), scenario: 'bench', seed: 1,
    onProgress: (s) => { if (s.status === 'done' && s.ms !== undefined) phases[s.action] = s.ms; },
  }));
  return { ms: c.ms, phases, lab: c.value, destroy: track(ctx, c.value) };
}

/** Labs for a start taken as the server takes them, from a pool of labs made ahead. */
async function readyWarm(ctx: BenchContext, provider: Provider, runs: number, destroy: (r: { destroy: () => Promise<void> }) => Promise<unknown>): Promise<{ ready: Summary; fromPool: number }> {
  const warm = warmLabs(provider, { size: WARM_POOL });
  const ms: number[] = [];
  let fromPool = 0;
  try {
    for (let i = 0; i < runs; i++) {
      while (warm.stats().warm < WARM_POOL) await new Promise((r) => setTimeout(r, 50));
      await settle();
      let taken = false;
      const r = await timed(() => newLab(provider, {
        scenario: 'bench', seed: i + 1, warm, onProgress: (p) => { if (p.status === 'done' && p.action.startsWith('Taking')) taken = true; },
      }));
      if (taken) fromPool++;
      await destroy({ destroy: track(ctx, r.value) });
      ms.push(r.ms);
    }
  } finally {
    await warm.close();
  }
  return { ready: summarize(ms), fromPool };
}

async function benchKubectl(ctx: BenchContext, lab: Lab): Promise<Pick<Kube, 'kubectlExec' | 'kubectlProcess'>> {
  const n = ctx.quick ? KUBECTL_SAMPLES.quick : KUBECTL_SAMPLES.full;
  const viaExec: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await timed(() => lab.exec('admin', ['kubectl', 'get', 'pods'], { timeoutMs: 30_000 }));
    if (r.value.code !== 0) throw new Error(`kubectl get pods in the lab failed: ${(r.value.stderr || r.value.stdout).trim().slice(0, 400)}`);
    viaExec.push(r.ms);
  }
  const loop = await lab.exec('admin', ['bash', '-c', KUBECTL_LOOP(n)], { timeoutMs: 60_000 });
  if (loop.code !== 0) throw new Error(`kubectl get pods in the lab failed: ${(loop.stderr || loop.stdout).trim().slice(0, 400)}`);
  const own = loop.stdout.trim().split('\n').map((l) => { const [s, e] = l.split(' '); return toMs(e) - toMs(s); });
  return { kubectlExec: summarize(viaExec), kubectlProcess: summarize(own) };
}

interface Change { fromCommand: number; afterReturn: number }

async function benchDataPlane(ctx: BenchContext, provider: Provider, lab: Lab): Promise<Pick<Kube, 'dataPlaneDown' | 'dataPlaneUp' | 'dataPlaneClient'>> {
  const client = lab.facts.pods.find((p) => p.app === 'client');
  if (!client) throw new Error('the lab has no client pod to dig from');
  const kubeconfig = join(ctx.home, `kubeconfig-${lab.facts.id}`);
  await writeFile(kubeconfig, await provider.kubeconfig(lab.facts.id));
  const runs = ctx.quick ? DATA_PLANE_RUNS.quick : DATA_PLANE_RUNS.full;
  const down: Change[] = [];
  const up: Change[] = [];
  for (let i = 0; i < runs; i++) {
    down.push(await change(lab, client.target, kubeconfig, 0, 'refused'));
    up.push(await change(lab, client.target, kubeconfig, 2, 'answered'));
    await corednsReady(kubeconfig);
    ctx.log(`kube: data plane run ${i + 1}/${runs}: to 0 refused after ${Math.round(down.at(-1)!.fromCommand)} ms, to 2 answered after ${Math.round(up.at(-1)!.fromCommand)} ms`);
  }
  const sum = (xs: Change[]) => ({ fromCommand: summarize(xs.map((x) => x.fromCommand)), afterReturn: summarize(xs.map((x) => x.afterReturn)) });
  return { dataPlaneDown: sum(down), dataPlaneUp: sum(up), dataPlaneClient: client.target };
}

/** Scales CoreDNS from the host and times the first dig in the client pod that shows it. */
async function change(lab: Lab, client: string, kubeconfig: string, replicas: number, want: 'refused' | 'answered'): Promise<Change> {
  const poll = lab.exec(client, ['bash', '-c', POLL_SCRIPT, 'poll', want, DNS_NAME], { timeoutMs: (POLL_LIMIT_S + 5) * 1000 });
  // Time for the loop to be in its first dig before the change is made (not part of any figure);
  // a sample whose loop saw no answer from before the change is refused below.
  await new Promise((r) => setTimeout(r, 100));
  const t0 = wallNow();
  const scale = await run('kubectl', ['--kubeconfig', kubeconfig, '-n', 'kube-system', 'scale', 'deploy/coredns', `--replicas=${replicas}`], { timeoutMs: 30_000 });
  const returned = wallNow();
  const r = await poll;
  if (scale.code !== 0) throw new Error(`kubectl scale --replicas=${replicas} failed: ${(scale.stderr || scale.stdout).trim().slice(0, 400)}`);
  if (r.code !== 0) throw new Error(`after scaling CoreDNS to ${replicas}, dig in ${client} never ${want}: ${(r.stderr || r.stdout).trim().slice(0, 400)}`);
  const [old, at] = r.stdout.trim().split(' ');
  if (Number(old) < 1) throw new Error(`the dig loop in ${client} saw no answer from before scaling CoreDNS to ${replicas}: start it earlier`);
  const hit = toMs(at);
  return { fromCommand: hit - t0, afterReturn: hit - returned };
}

/** Both CoreDNS replicas Ready again, so the next scale-down starts from a whole Service. */
async function corednsReady(kubeconfig: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const r = await run('kubectl', ['--kubeconfig', kubeconfig, '-n', 'kube-system', 'get', 'deploy/coredns', '-o', 'jsonpath={.status.readyReplicas}/{.status.replicas}/{.status.updatedReplicas}'], { timeoutMs: 30_000 });
    if (r.code === 0 && r.stdout.trim() === '2/2/2') return;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error('CoreDNS did not come back to 2 Ready replicas within 60 s');
}
