import { join } from 'node:path';
import { z } from 'zod';
import { labIds, tryReadRecord, writeRecord as writeShared, type LabRecord } from '../../lab/records.ts';
import { kindClusterName, labDir } from '../../lab/naming.ts';
import type { LabFacts, Topology } from '../../lab/types.ts';

// A kind lab's record is the shared lab record (server/lab/records.ts, lab.json in labDir(id)),
// with the kind-specific handle under `handle`: the session, the CLI and the other providers all
// see it as a kind lab (and never mistake its directory for a leftover of theirs). The lab
// directory also holds kind.yaml (the rendered cluster config), kubeconfig (never the user's
// ~/.kube/config), base.yaml (manifests), snapshot.yaml (kube-system as created, for reset) and
// admin.bashrc (the admin shell's rc file).

const handleSchema = z.object({
  cluster: z.string(),
  network: z.string(),
  /** MTU the lab's docker network was created with (the nodes' eth0). */
  mtu: z.number().int(),
  /** creating: provisioning in progress by `pid` on `host`; ready: the cluster is up. */
  state: z.enum(['creating', 'ready']),
  pid: z.number().int(),
  /** Host that created the lab: the pid means nothing elsewhere. */
  host: z.string(),
  kubeconfig: z.string(),
});

export type KindHandle = z.infer<typeof handleSchema>;

/** The record as the kind provider uses it: shared fields and the handle, flat. */
export interface KindRecord extends Omit<KindHandle, 'kubeconfig'> {
  id: string;
  provider: 'kind';
  scenario: string;
  seed: number;
  createdAt: string;
  /** Set once the cluster is ready. */
  facts?: LabFacts;
  topology?: Topology;
}

const placeholderFacts = (r: KindRecord): LabFacts => ({
  id: r.id, scenario: r.scenario, provider: 'kind', seed: r.seed, nodes: [], pods: [], services: [],
  dns: r.topology?.dns ?? { clusterIP: '', domain: 'cluster.local' },
});

/** Writes the shared record, keeping what others added to it (the session's meta). */
export async function writeRecord(rec: KindRecord): Promise<void> {
  const prev = await tryReadRecord(rec.id);
  const { id, provider, scenario, seed, createdAt, facts, topology, cluster, network, mtu, state, pid, host } = rec;
  const shared: LabRecord = {
    id, provider, scenario, seed, createdAt,
    topology: (topology ?? prev?.topology) as Topology,
    facts: facts ?? placeholderFacts(rec),
    handle: { cluster, network, mtu, state, pid, host, kubeconfig: paths(id).kubeconfig } satisfies KindHandle,
    ...(prev?.meta ? { meta: prev.meta } : {}),
  };
  await writeShared(shared);
}

export async function readRecord(id: string): Promise<KindRecord | undefined> {
  const r = await tryReadRecord(id);
  if (!r || r.provider !== 'kind' || !r.handle) return undefined;
  // Parsed, not cast: a record from another netdojo, or edited by hand, is no kind lab's.
  const parsed = handleSchema.safeParse(r.handle);
  if (!parsed.success) return undefined;
  const h = parsed.data;
  return {
    id: r.id, provider: 'kind', scenario: r.scenario, seed: r.seed, createdAt: r.createdAt, topology: r.topology,
    cluster: h.cluster, network: h.network, mtu: h.mtu, state: h.state, pid: h.pid, host: h.host,
    facts: h.state === 'ready' ? r.facts : undefined,
  };
}

/** Every kind lab record under labsDir() (other providers' labs are skipped). */
export async function listRecords(): Promise<KindRecord[]> {
  const out: KindRecord[] = [];
  for (const id of await labIds()) {
    const r = await readRecord(id);
    if (r) out.push(r);
  }
  return out;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export const labNetworkName = (id: string) => `${kindClusterName(id)}`;

export const paths = (id: string) => {
  const dir = labDir(id);
  return {
    dir,
    config: join(dir, 'kind.yaml'),
    kubeconfig: join(dir, 'kubeconfig'),
    manifests: join(dir, 'base.yaml'),
    snapshot: join(dir, 'snapshot.yaml'),
    bashrc: join(dir, 'admin.bashrc'),
  };
};
