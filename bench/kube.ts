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
//   lab's `netdojo kubeconfig`); a loop in a client pod sends DNS queries to the cluster DNS back
//   to back (no sleep; POLL_SCRIPT) and stamps the first answer that shows the change. Scaling to 0 removes the
//   kube-dns endpoints, and kube-proxy then rejects queries to the Service (refused); scaling back
//   to 2 needs new pods started and Ready before kube-proxy routes to them again (answered).
//   Scaling to 0 is not instant on a real cluster either: CoreDNS's `health { lameduck 5s }` keeps a
//   terminating pod answering for 5 s, and kube-proxy routes to serving terminating endpoints while
//   no ready one is left (KEP-1669), so refused comes some 5 s after. The change the cluster shows
//   with no grace of its own: kube-dns's selector patched to match no pod (refused once the
//   EndpointSlice controller and kube-proxy have it) and back (answered); the target is on these.
//   Times run from the kubectl command's start; the part after kubectl returned is given too.

export const READY_RUNS = { full: 20, quick: 5 };
/** Labs the warm pool of the "ready from labs made ahead" row keeps (netdojo serve's default). */
const WARM_POOL = DEFAULT_WARM_LABS.netns;
export const KUBECTL_SAMPLES = { full: 30, quick: 10 };
export const DATA_PLANE_RUNS = { full: 10, quick: 3 };
/** The targets, on the median (p50). */
export const KUBE_TARGETS = { readyMs: 300, kubectlMs: 150, dataPlaneMs: 500 };

const DNS_NAME = 'kubernetes.default.svc.cluster.local';
/** A kube-dns selector no pod matches (a typo a scenario could make). */
const NO_PODS = 'kube-dns-typo';
/** How long the in-pod loop may wait for a change before the sample counts as failed. */
const POLL_LIMIT_S = 30;

/** Wall clock in ms with sub-ms precision, comparable with a lab's EPOCHREALTIME (same clock). */
const wallNow = () => performance.timeOrigin + performance.now();

/**
 * The in-pod poll loop: DNS queries for `name` to `server` back to back, each from a new socket (a
 * new source port, so a new conntrack flow, as dig makes), until one shows `want` (refused: the
 * ICMP port unreachable of kube-proxy's REJECT; answered: an A record). Each query waits at most
 * QUERY_WAIT_S: dig's shortest wait is a second, and one query caught by the change (its reply's
 * conntrack entry flushed, or its ICMP error dropped by the kernel's ICMP rate limit, 1/s after a
 * burst) would then hide the change for that long. Prints the wall times of the first query's end
 * that was not in the new state and of the first answer in the new state after it.
 */
const QUERY_WAIT_S = 0.05;
const POLL_SCRIPT = `import socket, struct, sys, time
want, name, server = sys.argv[1:4]
q = struct.pack('>HHHHHH', 0x4e44, 0x0100, 1, 0, 0, 0) + b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\\0' + struct.pack('>HH', 1, 1)
first, last, end = '', '', time.time() + ${POLL_LIMIT_S}
while time.time() < end:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(${QUERY_WAIT_S})
    try:
        s.connect((server, 53)); s.send(q); r = s.recv(4096)
        got = 'answered' if len(r) >= 12 and r[3] & 15 == 0 and struct.unpack('>H', r[6:8])[0] > 0 else 'rcode %d' % (r[3] & 15)
    except ConnectionRefusedError: got = 'refused'
    except socket.timeout: got = 'no answer'
    finally: s.close()
    t = time.time()
    # An answer in the new state counts once one in the old state was seen: a loop that starts
    # while the state before the change is not yet whole waits for it.
    if got == want and first: print(first, '%.6f' % t); sys.exit(0)
    if not first: first = '%.6f' % t
    last = got
print('no change within ${POLL_LIMIT_S} s: last answer:', last, file=sys.stderr); sys.exit(1)`;

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

async function benchDataPlane(ctx: BenchContext, provider: Provider, lab: Lab): Promise<Pick<Kube, 'dataPlaneDown' | 'dataPlaneUp' | 'dataPlaneUnselect' | 'dataPlaneReselect' | 'dataPlaneClient'>> {
  const client = lab.facts.pods.find((p) => p.app === 'client');
  if (!client) throw new Error('the lab has no client pod to query DNS from');
  const kubeconfig = join(ctx.home, `kubeconfig-${lab.facts.id}`);
  await writeFile(kubeconfig, await provider.kubeconfig(lab.facts.id));
  const runs = ctx.quick ? DATA_PLANE_RUNS.quick : DATA_PLANE_RUNS.full;
  const rows = { down: [] as Change[], up: [] as Change[], unselect: [] as Change[], reselect: [] as Change[] };
  const timeChange = (args: string[], want: 'refused' | 'answered') => change(lab, client.target, ['--kubeconfig', kubeconfig, '-n', 'kube-system', ...args], want);
  const selector = (app: string) => ['patch', 'service/kube-dns', '-p', JSON.stringify({ spec: { selector: { 'k8s-app': app } } })];
  for (let i = 0; i < runs; i++) {
    rows.down.push(await timeChange(['scale', 'deploy/coredns', '--replicas=0'], 'refused'));
    rows.up.push(await timeChange(['scale', 'deploy/coredns', '--replicas=2'], 'answered'));
    await corednsReady(kubeconfig);
    rows.unselect.push(await timeChange(selector(NO_PODS), 'refused'));
    rows.reselect.push(await timeChange(selector('kube-dns'), 'answered'));
    const ms = (xs: Change[]) => Math.round(xs.at(-1)!.fromCommand);
    ctx.log(`kube: data plane run ${i + 1}/${runs}: scaled to 0 refused after ${ms(rows.down)} ms, to 2 answered after ${ms(rows.up)} ms; selector off refused after ${ms(rows.unselect)} ms, back answered after ${ms(rows.reselect)} ms`);
  }
  const sum = (xs: Change[]) => ({ fromCommand: summarize(xs.map((x) => x.fromCommand)), afterReturn: summarize(xs.map((x) => x.afterReturn)) });
  return { dataPlaneDown: sum(rows.down), dataPlaneUp: sum(rows.up), dataPlaneUnselect: sum(rows.unselect), dataPlaneReselect: sum(rows.reselect), dataPlaneClient: client.target };
}

/** Runs a kubectl change from the host and times the first DNS answer in the client pod that shows it. */
async function change(lab: Lab, client: string, kubectlArgs: string[], want: 'refused' | 'answered'): Promise<Change> {
  const what = `kubectl ${kubectlArgs.filter((a) => !a.startsWith('--kubeconfig') && !a.includes('/kubeconfig-')).join(' ')}`;
  const poll = lab.exec(client, ['python3', '-c', POLL_SCRIPT, want, DNS_NAME, lab.facts.dns.clusterIP], { timeoutMs: (POLL_LIMIT_S + 5) * 1000 });
  // Time for the loop to be in its first queries before the change is made (not part of any figure);
  // a sample whose loop saw no answer from before the change is refused below.
  await new Promise((r) => setTimeout(r, 300));
  const t0 = wallNow();
  const done = await run('kubectl', kubectlArgs, { timeoutMs: 30_000 });
  const returned = wallNow();
  const r = await poll;
  if (done.code !== 0) throw new Error(`${what} failed: ${(done.stderr || done.stdout).trim().slice(0, 400)}`);
  if (r.code !== 0) throw new Error(`after ${what}, the DNS queries in ${client} never ${want}: ${(r.stderr || r.stdout).trim().slice(0, 400)}`);
  const [old, at] = r.stdout.trim().split(' ');
  if (!old || toMs(old) >= t0) throw new Error(`the DNS query loop in ${client} ran no query before ${what}: start it earlier`);
  const hit = toMs(at);
  if (hit < t0) throw new Error(`the DNS queries in ${client} ${want} before ${what} was run: the state before it was not settled`);
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
