import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { podTarget } from '../../lab/topology.ts';
import { LabError } from '../../lab/types.ts';
import { formatTable } from '../../util/table.ts';
import { endpointsOf } from './kubeproxy.ts';
import { NetnsLab } from './lab.ts';
import { netnsOf } from './plan.ts';

// `lab`: what kubectl does in a real cluster, for the netns replica, where there is no API server.
// It reads and changes the lab's real state (processes, kube-proxy rules), so what it prints is
// what the kernel does, and it says plainly what it is.

export const HELP = `lab: the cluster tool for this netdojo lab (kubectl's job, for a lab without an API server)

  lab nodes                          nodes with their IPs and pod CIDRs
  lab pods [-A]                      pods: namespace, name, status, IP, node
  lab services | svc                 Services with ClusterIPs and ports
  lab endpoints | ep                 the pod IPs behind each Service (what kube-proxy load-balances to)
  lab logs <pod>                     a pod's log (CoreDNS pods log every query)
  lab exec <pod> -- <command...>     run a command in a pod
  lab scale <workload> --replicas=N  e.g. lab scale kube-system/coredns --replicas=2
  lab restart <workload|pod>         restart pods (like kubectl rollout restart / delete pod)
  lab restart kube-proxy             rewrite kube-proxy's Service rules on every node

Workloads: kube-system/coredns, default/web. Everything else (ip, iptables, ss, dig, curl,
tcpdump, conntrack) is the real tool acting on the real node or pod you are in.`;

const value = (args: string[], name: string): string | undefined => {
  const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  return args[i].includes('=') ? args[i].split('=')[1] : args[i + 1];
};

async function podStatus(lab: NetnsLab): Promise<Map<string, string>> {
  const running = NetnsLab.runningPods(lab.topology, await lab.workloadState());
  // One look at the processes in every pod's namespace: a pod whose process died is not Running.
  const probe = lab.topology.pods.map((p) => `echo "${podTarget(p)} $(ip netns pids ${netnsOf(podTarget(p))} | wc -l)"`).join('\n');
  const r = await lab.sandboxScript(probe);
  const counts = new Map(r.stdout.trim().split('\n').map((l) => l.split(' ') as [string, string]));
  return new Map(lab.topology.pods.map((p) => {
    const t = podTarget(p);
    if (!running.has(t)) return [t, 'Terminated (scaled down)'];
    return [t, p.app === 'client' || Number(counts.get(t)) > 0 ? 'Running' : 'Error (process exited)'];
  }));
}

export async function labHelper(lab: NetnsLab, args: string[], out: (s: string) => void): Promise<number> {
  const [cmd, ...rest] = args;
  const topo = lab.topology;
  switch (cmd) {
    case undefined: case 'help': case '--help': case '-h':
      out(HELP);
      return 0;
    case 'nodes':
      out(formatTable([['NAME', 'ROLE', 'INTERNAL-IP', 'POD-CIDR'], ...topo.nodes.map((n) => [n.name, n.role, n.ip, n.podCIDR])]));
      return 0;
    case 'pods': case 'po': {
      const status = await podStatus(lab);
      const all = rest.includes('-A') || rest.includes('--all-namespaces');
      const ns = value(rest, '-n') ?? value(rest, '--namespace');
      const pods = topo.pods.filter((p) => all ? true : ns ? p.namespace === ns : true);
      out(formatTable([['NAMESPACE', 'NAME', 'STATUS', 'IP', 'NODE'], ...pods.map((p) => [p.namespace, p.name, status.get(podTarget(p))!, p.ip, p.node])]));
      return 0;
    }
    case 'services': case 'svc':
      out(formatTable([['NAMESPACE', 'NAME', 'CLUSTER-IP', 'PORT(S)'],
        ...topo.services.map((s) => [s.namespace, s.name, s.clusterIP, s.ports.map((p) => `${p.port}/${p.protocol}`).join(',')])]));
      return 0;
    case 'endpoints': case 'ep': {
      const running = NetnsLab.runningPods(topo, await lab.workloadState());
      out(formatTable([['NAMESPACE', 'NAME', 'ENDPOINTS'], ...topo.services.map((s) => {
        const eps = [...new Set(s.ports.flatMap((p) => endpointsOf(topo, running, s, p).map((e) => e.address)))];
        return [s.namespace, s.name, eps.join(',') || '<none>'];
      })]));
      return 0;
    }
    case 'logs': {
      const target = rest[0];
      if (!target) throw new LabError('usage: lab logs <pod>, e.g. lab logs kube-system/coredns-0');
      const t = lab.resolve(target);
      const text = await readFile(join(lab.dir, 'logs', `${netnsOf(t)}.log`), 'utf8').catch(() => '');
      out(text.trimEnd() || `(no log for ${t})`);
      return 0;
    }
    case 'exec': {
      const dash = rest.indexOf('--');
      if (!rest[0] || dash < 0 || dash === rest.length - 1) throw new LabError('usage: lab exec <pod> -- <command...>');
      const r = await lab.exec(rest[0], rest.slice(dash + 1));
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      return r.code ?? 1;
    }
    case 'scale': {
      const replicas = value(rest, '--replicas');
      if (!rest[0] || rest[0].startsWith('-') || replicas === undefined) throw new LabError('usage: lab scale <workload> --replicas=N, e.g. lab scale kube-system/coredns --replicas=2');
      const n = Number(replicas);
      await lab.scale(rest[0], n);
      out(`${lab.workload(rest[0]).key} scaled to ${n}`);
      return 0;
    }
    case 'restart': {
      if (!rest[0]) throw new LabError('usage: lab restart <workload|pod|kube-proxy>');
      if (rest[0] === 'kube-proxy' || rest[0] === 'kube-system/kube-proxy') {
        await lab.syncProxy();
        out('kube-proxy rules rewritten on every node');
        return 0;
      }
      const pods = await lab.restart(rest[0]);
      out(pods.length ? `restarted ${pods.join(', ')}` : `${rest[0]} has no running pods (scale it up first)`);
      return 0;
    }
    default:
      throw new LabError(`unknown command "${cmd}"`, 'lab help lists the commands');
  }
}
