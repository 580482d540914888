import { newLabId } from '../server/lab/naming.ts';
import { baseTopology } from '../server/lab/topology.ts';
import { LAPTOP } from '../server/lab/world.ts';
import { getProvider } from '../server/providers/index.ts';
import { teardown, track, type BenchContext } from './context.ts';
import { settle } from './settle.ts';
import { summarize } from './stats.ts';
import type { Outside } from './types.ts';

// 7. From outside the cluster: HTTP requests from the laptop to the web pods through a NodePort
// (each node's address in turn) and through a LoadBalancer address, against the same request from
// a pod to the ClusterIP. Each sample is one curl in a loop inside the laptop (or pod), a fresh
// connection each time, timed by curl from connect to the last byte (`time_total`), so the exec
// that starts the loop is not in it.

export const REQUESTS = { full: 200, quick: 40 };

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

/** n requests to each URL given, in turn; prints one time_total (seconds) per line. */
const LOOP = (n: number) => `n=${n}; i=0; while [ $i -lt $n ]; do for u in "$@"; do
  curl -sS -o /dev/null -m 5 -w '%{time_total}\\n' "$u" || exit 1; i=$((i + 1)); [ $i -ge $n ] && break; done; done`;

export async function benchOutside(ctx: BenchContext): Promise<Outside> {
  const provider = await getProvider('netns');
  const teardownErrors: string[] = [];
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
    await settle();
    const n = ctx.quick ? REQUESTS.quick : REQUESTS.full;
    const sample = async (target: string, urls: string[]) => {
      const r = await lab.exec(target, ['bash', '-c', LOOP(n), 'requests', ...urls], { timeoutMs: 300_000 });
      if (r.code !== 0) throw new Error(`requests from ${target} to ${urls.join(', ')} failed: ${(r.stderr || r.stdout).trim().slice(0, 400)}`);
      return summarize(r.stdout.trim().split('\n').map((s) => Number(s) * 1000));
    };
    const nodes = lab.facts.nodes.map((node) => `http://${node.ip}:30080/hostname`);
    const client = lab.facts.pods.find((p) => p.app === 'client')!.target;
    const result: Outside = {
      requests: n,
      nodePort: await sample(LAPTOP.name, nodes),
      loadBalancer: await sample(LAPTOP.name, [`http://${lbIP}/hostname`]),
      clusterIPFromPod: await sample(client, [`http://${lab.facts.services.find((x) => x.target === 'default/web')!.clusterIP}/hostname`]),
      client, teardownErrors,
    };
    ctx.log(`outside: NodePort p50 ${result.nodePort.median.toFixed(2)} ms, LoadBalancer p50 ${result.loadBalancer.median.toFixed(2)} ms, ClusterIP from a pod p50 ${result.clusterIPFromPod.median.toFixed(2)} ms`);
    return result;
  } finally {
    await teardown(destroy, teardownErrors);
  }
}
