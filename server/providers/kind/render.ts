import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import { parseAllDocuments } from 'yaml';
import { readManifest } from '../../lab/manifests.ts';
import { kindClusterName } from '../../lab/naming.ts';
import type { Topology } from '../../lab/types.ts';

// Handlebars templates → YAML for kind (kind-configs/), and the base workloads (manifests/).

const here = dirname(fileURLToPath(import.meta.url));
export const KIND_CONFIGS_DIR = join(here, '..', '..', '..', 'kind-configs');

const hb = Handlebars.create();
const cache = new Map<string, Handlebars.TemplateDelegate>();
function template(path: string): Handlebars.TemplateDelegate {
  let t = cache.get(path);
  if (!t) {
    t = hb.compile(readFileSync(path, 'utf8'), { noEscape: true, strict: true });
    cache.set(path, t);
  }
  return t;
}

/** Kubernetes node name for a topology node: kind names nodes after their containers. */
export const kubeNodeName = (cluster: string, node: string) => `${cluster}-${node}`;

export interface ClusterConfigOptions {
  labId: string;
  /** kindest/node image; absent: the default of the installed kind. */
  nodeImage?: string;
  disableDefaultCNI?: boolean;
  kubeProxyMode?: 'iptables' | 'ipvs' | 'nftables' | 'none';
  /** Template file under kind-configs/. */
  config?: string;
}

export function renderClusterConfig(topo: Topology, opts: ClusterConfigOptions): string {
  // kind names workers worker, worker2, …: the topology's node names must follow that order.
  let workers = 0;
  const nodes = topo.nodes.map((n) => {
    const expected = n.role === 'control-plane' ? 'control-plane' : ++workers === 1 ? 'worker' : `worker${workers}`;
    if (n.name !== expected) throw new Error(`kind names this ${n.role} node "${expected}", the topology calls it "${n.name}"`);
    return { name: n.name, role: n.role };
  });
  if (nodes.filter((n) => n.role === 'control-plane').length !== 1) throw new Error('a kind lab has exactly one control-plane node');
  return template(join(KIND_CONFIGS_DIR, opts.config ?? 'cluster.yaml.hbs'))({
    name: kindClusterName(opts.labId),
    labId: opts.labId,
    podSubnet: topo.podCIDR,
    serviceSubnet: topo.serviceCIDR,
    kubeProxyMode: opts.kubeProxyMode ?? 'iptables',
    disableDefaultCNI: !!opts.disableDefaultCNI,
    nodeImage: opts.nodeImage ?? '',
    nodes,
  });
}

/** The base workloads, the same objects the netns provider applies (manifests/workloads.yaml). */
export const baseWorkloads = () => readManifest('workloads.yaml');

/** Parses multi-document YAML, throwing on any syntax error; drops empty documents. */
export function parseYamlDocs(text: string): Record<string, any>[] {
  const docs = parseAllDocuments(text);
  const out: Record<string, any>[] = [];
  for (const d of docs) {
    if (d.errors.length) throw new Error(`invalid YAML: ${d.errors[0].message}`);
    const v = d.toJS();
    if (v != null) out.push(v);
  }
  return out;
}
