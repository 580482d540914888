import { createHash } from 'node:crypto';
import type { ControllerContext, ControllerSpec } from '../controllers/controller.ts';
import type { KubeObject } from '../object.ts';
import { intToIp, ipToInt } from '../../util/ipv4.ts';

// The lab's load balancers, as cloud-provider-kind or MetalLB give a kind cluster. A Service of type
// LoadBalancer gets an address from a pool on the nodes' network, in status.loadBalancer.ingress
// (what `kubectl get svc` shows as EXTERNAL-IP), and the network delivers that address to one node,
// where kube-proxy's rules for it take over. One node is picked per address, as MetalLB's layer-2
// mode elects one speaker per address (a hash of node and address, so the choice is stable); under
// externalTrafficPolicy Local only a node with a ready endpoint of the Service is eligible, so the
// client's own address reaches a pod on the node it came to. Services with a loadBalancerClass
// belong to another implementation and are left alone, as the cloud provider leaves them.

export interface Announcement { ip: string; node: string }

export interface LoadBalancerNetwork {
  /** The addresses the load balancers hand out, first to last. */
  pool: { first: string; last: string };
  /** Makes the network deliver each address to its node, replacing whatever it delivered before. */
  announce(announcements: Announcement[]): Promise<void>;
}

export interface LoadBalancersOptions {
  network: LoadBalancerNetwork;
  nodes: () => string[];
}

interface LbSpec { type?: string; loadBalancerClass?: string; loadBalancerIP?: string; externalTrafficPolicy?: string }
interface LbStatus { loadBalancer?: { ingress?: { ip?: string }[] } }
interface SliceEndpoint { nodeName?: string; conditions?: { ready?: boolean } }

const COMPONENT = 'service-controller';
const KEY = 'load-balancers';

const spec = (s: KubeObject) => (s.spec ?? {}) as LbSpec;
const assigned = (s: KubeObject) => ((s.status as LbStatus | undefined)?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => !!ip);
const isOurs = (s: KubeObject) => spec(s).type === 'LoadBalancer' && !spec(s).loadBalancerClass && !s.metadata.deletionTimestamp;

/** The node that announces an address: the first of the eligible nodes in an order hashed from each with the address. */
export function electNode(ip: string, eligible: string[]): string | undefined {
  const score = (n: string) => createHash('sha256').update(`${n}#${ip}`).digest('hex');
  return [...eligible].sort((a, b) => score(a).localeCompare(score(b)))[0];
}

export function loadBalancers(o: LoadBalancersOptions): ControllerSpec {
  const first = ipToInt(o.network.pool.first), last = ipToInt(o.network.pool.last);
  const inPool = (ip: string) => { const n = ipToInt(ip); return n >= first && n <= last; };
  let announced = '';

  // Nodes with a ready endpoint of the Service, from its EndpointSlices.
  const nodesWithEndpoints = (ctx: ControllerContext, svc: KubeObject) => new Set(ctx.api.list('EndpointSlice', svc.metadata.namespace, { labelSelector: `kubernetes.io/service-name=${svc.metadata.name}` }).items
    .flatMap((s) => ((s.endpoints ?? []) as SliceEndpoint[]).filter((e) => e.conditions?.ready !== false && e.nodeName).map((e) => e.nodeName!)));

  const setStatus = (ctx: ControllerContext, svc: KubeObject, ips: string[]) =>
    ctx.api.mutate('Service', svc.metadata.namespace, svc.metadata.name!, (s) => {
      s.status = { ...(s.status as object), loadBalancer: ips.length ? { ingress: ips.map((ip) => ({ ip, ipMode: 'VIP' })) } : {} };
    }, { subresource: 'status' });

  return {
    name: 'load-balancers',
    watches: ['Service', 'EndpointSlice', 'Node'],
    keysFor: () => [KEY],
    initialKeys: () => [KEY],
    async reconcile(_key, ctx) {
      const services = ctx.api.list('Service', undefined).items;
      const taken = new Set<string>();
      // Addresses already handed out stay with their Service; a Service no longer ours gives its back.
      for (const s of services) {
        if (isOurs(s)) assigned(s).filter(inPool).forEach((ip) => taken.add(ip));
        else if (spec(s).type !== 'LoadBalancer' && assigned(s).length) setStatus(ctx, s, []);
      }
      const announcements: Announcement[] = [];
      for (const s of services.filter(isOurs).sort((a, b) => a.metadata.creationTimestamp!.localeCompare(b.metadata.creationTimestamp!))) {
        let ip = assigned(s).find(inPool);
        const wanted = spec(s).loadBalancerIP;
        if (wanted && ip !== wanted) {
          if (!inPool(wanted) || taken.has(wanted)) {
            ctx.event(s, 'Warning', 'SyncLoadBalancerFailed', `Error syncing load balancer: failed to ensure load balancer: requested address ${wanted} is ${inPool(wanted) ? 'in use by another Service' : `not in the pool ${o.network.pool.first}-${o.network.pool.last}`}`, COMPONENT);
            continue;
          }
          ip = wanted;
        }
        if (!ip) {
          for (let n = first; n <= last && !ip; n++) if (!taken.has(intToIp(n))) ip = intToIp(n);
          if (!ip) {
            ctx.event(s, 'Warning', 'SyncLoadBalancerFailed', `Error syncing load balancer: failed to ensure load balancer: no address left in the pool ${o.network.pool.first}-${o.network.pool.last}`, COMPONENT);
            continue;
          }
        }
        taken.add(ip);
        if (assigned(s).join() !== ip) {
          ctx.event(s, 'Normal', 'EnsuringLoadBalancer', 'Ensuring load balancer', COMPONENT);
          setStatus(ctx, s, [ip]);
          ctx.event(s, 'Normal', 'EnsuredLoadBalancer', 'Ensured load balancer', COMPONENT);
        }
        const eligible = spec(s).externalTrafficPolicy === 'Local' ? o.nodes().filter((n) => nodesWithEndpoints(ctx, s).has(n)) : o.nodes();
        const node = electNode(ip, eligible);
        if (node) announcements.push({ ip, node });
      }
      const next = JSON.stringify(announcements);
      if (next === announced) return;
      await o.network.announce(announcements);
      announced = next;
    },
  };
}
