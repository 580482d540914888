import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { newLabId } from '../server/lab/naming.ts';
import { baseTopology } from '../server/lab/topology.ts';
import type { Lab } from '../server/lab/types.ts';
import { getProvider } from '../server/providers/index.ts';
import { run } from '../server/util/run.ts';
import { teardown, track, type BenchContext } from './context.ts';
import { settle } from './settle.ts';
import { summarize } from './stats.ts';
import type { Netpol } from './types.ts';

// 6. NetworkPolicy in a netns lab: how soon a policy change is enforced, and what enforcement
// costs a connection.
//
// - enforced: a loop in a client pod connects to a web pod back to back (bash /dev/tcp under
//   `timeout`, a fresh connection each time) while the host applies a policy that denies ingress
//   to the web pods (kubectl apply with the lab's kubeconfig); the sample is the time from the
//   command's start to the start of the first attempt that was blocked. Deleting the policy, to
//   the first attempt that connects again, is the other half.
// - cost: the time of a TCP connect from a client pod to a web pod, in the pod, with no policy and
//   with POLICIES policies over PODS pods (every policy selects every pod; each allows the clients
//   on the web port, so the probed connection passes every chain a policy gives it).

export const ENFORCE_RUNS = { full: 10, quick: 3 };
export const CONNECT_SAMPLES = { full: 400, quick: 100 };
/** The connect samples are taken in this many rounds without, then with, the policies. */
const CONNECT_ROUNDS = 4;
export const POLICIES = 100;
export const PODS = 50;
/** The issue's targets: enforcement p95, and the connect cost with policies against none (ratio). */
export const NETPOL_TARGETS = { enforcedP95Ms: 1000, costRatio: 1.1 };

/** A blocked attempt waits this long before it counts as blocked (the policy DROPs the SYN). */
const ATTEMPT_S = 0.2;
const POLL_LIMIT_S = 30;

const wallNow = () => performance.timeOrigin + performance.now();
const toMs = (epochRealtime: string) => Number(epochRealtime.replace(',', '.')) * 1000;

/** Connect back to back until the outcome is `$1` (blocked | connected); prints how many attempts
 *  still had the old outcome and the start time of the first with the new one. */
const POLL_SCRIPT = `want=$1; host=$2; port=$3; old=0; end=$(( EPOCHSECONDS + ${POLL_LIMIT_S} ))
while [ "$EPOCHSECONDS" -lt "$end" ]; do
  t=$EPOCHREALTIME
  if timeout ${ATTEMPT_S} bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; then got=connected; else got=blocked; fi
  [ "$got" = "$want" ] && { echo "$old $t"; exit 0; }
  old=$((old + 1))
done
echo "still not $want after ${POLL_LIMIT_S} s" >&2; exit 1`;

/** n TCP connects timed in the pod (bash builtins around each): one duration (ms) per line. A
 *  pause between them (untimed) keeps the server's accept queue from overflowing: a SYN dropped
 *  there is retried after a second, which would measure the server, not the path. */
const CONNECT_LOOP = (n: number) => `host=$1; port=$2; for i in $(seq ${n}); do s=$EPOCHREALTIME; exec 3<>/dev/tcp/$host/$port || exit 1; e=$EPOCHREALTIME; exec 3<&-; echo "$s $e"; sleep 0.005; done`;

const denyWeb = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: bench-deny-web, namespace: default }
spec:
  podSelector: { matchLabels: { app: web } }
  policyTypes: [Ingress]
`;

/** Pause pods, to make PODS pods in the namespace with the base lab's. */
const benchPods = (n: number) => `apiVersion: apps/v1
kind: Deployment
metadata: { name: bench-pods, namespace: default }
spec:
  replicas: ${n}
  selector: { matchLabels: { app: bench-pods } }
  template:
    metadata: { labels: { app: bench-pods, bench: policies } }
    spec:
      containers: [{ name: pause, image: registry.k8s.io/pause:3.10 }]
`;

/** POLICIES policies that select every pod of the namespace and allow the clients to the web port. */
function manyPolicies(): string {
  const policies = Array.from({ length: POLICIES }, (_, i) => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: bench-policy-${i}, namespace: default, labels: { bench: policies } }
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress:
    - from: [{ podSelector: { matchLabels: { app: client } } }]
      ports: [{ protocol: TCP, port: 8080 }]
  egress:
    - to: [{ podSelector: { matchLabels: { app: web } } }]
      ports: [{ protocol: TCP, port: 8080 }]
`);
  return policies.join('---\n');
}

export async function benchNetpol(ctx: BenchContext): Promise<Netpol> {
  const provider = await getProvider('netns');
  const teardownErrors: string[] = [];
  const lab = await provider.create(baseTopology(), { id: newLabId(), scenario: 'bench', seed: 1 });
  const destroy = track(ctx, lab);
  try {
    const kubeconfig = join(ctx.home, `kubeconfig-${lab.facts.id}`);
    await writeFile(kubeconfig, await provider.kubeconfig(lab.facts.id));
    const kubectl = async (args: string[], stdin?: string) => {
      const r = await run('kubectl', ['--kubeconfig', kubeconfig, ...args], { timeoutMs: 60_000, stdin });
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${(r.stderr || r.stdout).trim().slice(0, 400)}`);
      return r.stdout;
    };
    const client = lab.facts.pods.find((p) => p.app === 'client' && p.node === 'worker')!;
    const web = lab.facts.pods.find((p) => p.app === 'web' && p.node === 'control-plane')!;
    await settle();

    const runs = ctx.quick ? ENFORCE_RUNS.quick : ENFORCE_RUNS.full;
    const applied: number[] = [];
    const deleted: number[] = [];
    const change = async (want: 'blocked' | 'connected', args: string[], stdin?: string) => {
      const poll = lab.exec(client.target, ['bash', '-c', POLL_SCRIPT, 'poll', want, web.ip, '8080'], { timeoutMs: (POLL_LIMIT_S + 5) * 1000 });
      await new Promise((r) => setTimeout(r, 100));
      const t0 = wallNow();
      await kubectl(args, stdin);
      const r = await poll;
      if (r.code !== 0) throw new Error(`after kubectl ${args[0]}, the loop in ${client.target} never saw ${want}: ${(r.stderr || r.stdout).trim()}`);
      const [old, at] = r.stdout.trim().split(' ');
      if (Number(old) < 1) throw new Error(`the loop in ${client.target} saw no attempt from before kubectl ${args[0]}: start it earlier`);
      return toMs(at) - t0;
    };
    for (let i = 0; i < runs; i++) {
      applied.push(await change('blocked', ['apply', '-f', '-'], denyWeb));
      deleted.push(await change('connected', ['delete', 'networkpolicy', 'bench-deny-web']));
      ctx.log(`netpol: run ${i + 1}/${runs}: enforced ${Math.round(applied.at(-1)!)} ms after apply, lifted ${Math.round(deleted.at(-1)!)} ms after delete`);
    }

    const samples = ctx.quick ? CONNECT_SAMPLES.quick : CONNECT_SAMPLES.full;
    const connects = async (n: number) => {
      const r = await lab.exec(client.target, ['bash', '-c', CONNECT_LOOP(n), 'connect', web.ip, '8080'], { timeoutMs: 120_000 });
      if (r.code !== 0) throw new Error(`connecting from ${client.target} to ${web.target} failed: ${(r.stderr || r.stdout).trim().slice(0, 400)}`);
      return r.stdout.trim().split('\n').map((l) => { const [s, e] = l.split(' '); return toMs(e) - toMs(s); });
    };
    // The same pods in both measures: only the policies differ.
    const extra = PODS - lab.facts.pods.filter((p) => p.target.startsWith('default/')).length;
    await kubectl(['apply', '-f', '-'], benchPods(extra));
    await kubectl(['rollout', 'status', 'deployment/bench-pods', '--timeout=120s']);
    const podNodes = (JSON.parse(await kubectl(['get', 'pods', '-n', 'default', '-o', 'json'])) as { items: { spec: { nodeName?: string } }[] }).items.map((p) => p.spec.nodeName);
    const isolatedOn = async (node: string) => Number((await lab.exec(node, ['sh', '-c', 'iptables-save -t filter | grep -c "is isolated for" || true'])).stdout.trim());
    /** Waits until each node isolates all its pods in both directions (with), or none (without). */
    const converged = async (policies: boolean) => {
      const deadline = Date.now() + 60_000;
      for (const node of [web.node, client.node]) {
        const want = policies ? 2 * podNodes.filter((n) => n === node).length : 0;
        while ((await isolatedOn(node)) !== want) {
          if (Date.now() > deadline) throw new Error(`${node} did not ${policies ? `isolate its ${want / 2} pods` : 'drop its policy chains'} within 60 s`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      await settle();
    };
    // Rounds without and with the policies, alternating, so that what else the machine does
    // weighs on both alike.
    const none: number[] = [];
    const withPolicies: number[] = [];
    for (let round = 0; round < CONNECT_ROUNDS; round++) {
      await converged(false);
      none.push(...await connects(samples / CONNECT_ROUNDS));
      await kubectl(['apply', '-f', '-'], manyPolicies());
      await converged(true);
      withPolicies.push(...await connects(samples / CONNECT_ROUNDS));
      await kubectl(['delete', 'networkpolicy', '-l', 'bench=policies']);
    }
    return { targets: NETPOL_TARGETS, applied: summarize(applied), deleted: summarize(deleted), none: summarize(none), withPolicies: summarize(withPolicies), policies: POLICIES, pods: podNodes.length, client: client.target, server: web.target, attemptS: ATTEMPT_S, teardownErrors };
  } finally {
    await teardown(destroy, teardownErrors);
  }
}
