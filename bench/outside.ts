import { runSteps } from '../server/lab/session.ts';
import { addonSteps } from '../server/scenario/render.ts';
import { newLabId } from '../server/lab/naming.ts';
import { baseTopology } from '../server/lab/topology.ts';
import type { Lab } from '../server/lab/types.ts';
import { LAPTOP } from '../server/lab/world.ts';
import { getProvider } from '../server/providers/index.ts';
import { teardown, track, type BenchContext } from './context.ts';
import { settle } from './settle.ts';
import { summarize } from './stats.ts';
import type { Outside } from './types.ts';

// 7. From outside the cluster: HTTP requests from the laptop to the web pods through a NodePort
// (each node's address in turn), a LoadBalancer address and the ingress-nginx controller (its
// load-balancer address, routed by Host), against the same request from a pod to the ClusterIP.
// Each sample is one curl in a loop inside the laptop (or pod), a fresh connection each time, timed
// by curl from connect to the last byte (`time_total`), so the exec that starts the loop is not in
// it. And what the ingress controller adds to a lab's start: labs created with the ingress-nginx
// add-on as a scenario gets it (started with the cluster, then the scenario's setup applies it and
// waits until it serves), against labs created without it.

export const REQUESTS = { full: 200, quick: 40 };
export const INGRESS_LABS = { full: 5, quick: 2 };

const SERVICES = `apiVersion: v1
kind: Service
metadata: { name: web-nodeport, namespace: default }
spec: { type: NodePort, selector: { app: web }, ports: [{ port: 80, targetPort: 8080, nodePort: 30080 }] }
---
apiVersion: v1
kind: Service
metadata: { name: web-lb, namespace: default }
spec: { type: LoadBalancer, selector: { app: web }, ports: [{ port: 80, targetPort: 8080 }] }
`;

/** n requests to each URL given, in turn, with curl's other arguments from $CURL_ARGS; prints one time_total (seconds) per line. */
const LOOP = (n: number) => `n=${n}; i=0; while [ $i -lt $n ]; do for u in "$@"; do
  curl -sS -o /dev/null -m 5 $CURL_ARGS -w '%{time_total}\\n' "$u" || exit 1; i=$((i + 1)); [ $i -ge $n ] && break; done; done`;

const INGRESS = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: web, namespace: default }
spec:
  ingressClassName: nginx
  rules: [{ host: web.example.com, http: { paths: [{ path: /, pathType: Prefix, backend: { service: { name: web, port: { number: 80 } } } }] } }]
`;

/** Installs the ingress-nginx add-on with the steps a scenario's lab runs for it. */
const installIngress = (lab: Lab) => runSteps(lab, addonSteps(['ingress-nginx'], 'netns'), 'Installing ingress-nginx');

export async function benchOutside(ctx: BenchContext): Promise<Outside> {
  const provider = await getProvider('netns');
  const teardownErrors: string[] = [];
  const bare: number[] = [];
  const withIngress: number[] = [];
  for (let i = 0; i < (ctx.quick ? INGRESS_LABS.quick : INGRESS_LABS.full); i++) {
    await settle();
    // Alternately without and with the add-on, so both see the same machine.
    for (const addons of [[], ['ingress-nginx' as const]]) {
      const t0 = performance.now();
      const lab = await provider.create(baseTopology(), { id: newLabId(), scenario: 'bench', seed: 1, addons });
      const done = track(ctx, lab);
      try {
        if (addons.length) await installIngress(lab);
        (addons.length ? withIngress : bare).push(performance.now() - t0);
      } finally {
        await teardown(done, teardownErrors);
      }
      await settle();
    }
  }
  const lab = await provider.create(baseTopology(), { id: newLabId(), scenario: 'bench', seed: 1 });
  const destroy = track(ctx, lab);
  try {
    const applied = await lab.exec('admin', ['kubectl', 'apply', '-f', '-'], { stdin: SERVICES, timeoutMs: 30_000 });
    if (applied.code !== 0) throw new Error(`kubectl apply: ${applied.stderr.trim()}`);
    let lbIP = '';
    for (const deadline = Date.now() + 30_000; !lbIP && Date.now() < deadline;) {
      lbIP = (await lab.exec('admin', ['kubectl', 'get', 'svc', 'web-lb', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])).stdout.trim();
    }
    if (!lbIP) throw new Error('the LoadBalancer Service got no address within 30 s');
    await installIngress(lab);
    const ing = await lab.exec('admin', ['kubectl', 'apply', '-f', '-'], { stdin: INGRESS, timeoutMs: 30_000 });
    if (ing.code !== 0) throw new Error(`kubectl apply (Ingress): ${ing.stderr.trim()}`);
    const ingressIP = (await lab.exec('admin', ['kubectl', '-n', 'ingress-nginx', 'get', 'svc', 'ingress-nginx-controller', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}'])).stdout.trim();
    const served = await lab.exec(LAPTOP.name, ['bash', '-c', `for i in $(seq 300); do curl -sf -m 1 -H 'Host: web.example.com' http://${ingressIP}/hostname && exit 0; sleep 0.1; done; exit 1`], { timeoutMs: 60_000 });
    if (served.code !== 0) throw new Error(`the Ingress was not served at ${ingressIP} within 30 s`);
    await settle();
    const n = ctx.quick ? REQUESTS.quick : REQUESTS.full;
    const sample = async (target: string, urls: string[], curlArgs = '') => {
      const r = await lab.exec(target, ['bash', '-c', `CURL_ARGS=${JSON.stringify(curlArgs)}; ${LOOP(n)}`, 'requests', ...urls], { timeoutMs: 300_000 });
      if (r.code !== 0) throw new Error(`requests from ${target} to ${urls.join(', ')} failed: ${(r.stderr || r.stdout).trim().slice(0, 400)}`);
      return summarize(r.stdout.trim().split('\n').map((s) => Number(s) * 1000));
    };
    const nodes = lab.facts.nodes.map((node) => `http://${node.ip}:30080/hostname`);
    const client = lab.facts.pods.find((p) => p.app === 'client')!.target;
    const result: Outside = {
      requests: n,
      nodePort: await sample(LAPTOP.name, nodes),
      loadBalancer: await sample(LAPTOP.name, [`http://${lbIP}/hostname`]),
      ingress: await sample(LAPTOP.name, [`http://${ingressIP}/hostname`], '-H Host:web.example.com'),
      readyBare: summarize(bare), readyWithIngress: summarize(withIngress),
      clusterIPFromPod: await sample(client, [`http://${lab.facts.services.find((x) => x.target === 'default/web')!.clusterIP}/hostname`]),
      client, teardownErrors,
    };
    ctx.log(`outside: NodePort p50 ${result.nodePort.median.toFixed(2)} ms, LoadBalancer ${result.loadBalancer.median.toFixed(2)} ms, Ingress ${result.ingress.median.toFixed(2)} ms, ClusterIP from a pod ${result.clusterIPFromPod.median.toFixed(2)} ms; lab ready ${result.readyBare.median.toFixed(0)} ms, with ingress-nginx ${result.readyWithIngress.median.toFixed(0)} ms`);
    return result;
  } finally {
    await teardown(destroy, teardownErrors);
  }
}
