import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kindClusterName, labDir, labsDir } from '../../lab/naming.ts';
import type { LabFacts } from '../../lab/types.ts';

// What a kind lab keeps in its own directory (labDir(id)): kind.json (this record), kind.yaml (the
// rendered cluster config), kubeconfig (never the user's ~/.kube/config), base.yaml (manifests),
// snapshot.yaml (kube-system objects as created, for reset), admin.bashrc (the admin shell's rc).

export const RECORD_FILE = 'kind.json';

export interface KindRecord {
  id: string;
  provider: 'kind';
  scenario: string;
  seed: number;
  cluster: string;
  network: string;
  /** MTU the lab's docker network was created with (the nodes' eth0). */
  mtu: number;
  createdAt: string;
  /** creating: provisioning in progress by `pid`; ready: the cluster is up. */
  state: 'creating' | 'ready';
  pid: number;
  /** Host that created the lab: the pid means nothing elsewhere. */
  host: string;
  facts?: LabFacts;
}

export const labNetworkName = (id: string) => `${kindClusterName(id)}`;

export const paths = (id: string) => {
  const dir = labDir(id);
  return {
    dir,
    record: join(dir, RECORD_FILE),
    config: join(dir, 'kind.yaml'),
    kubeconfig: join(dir, 'kubeconfig'),
    manifests: join(dir, 'base.yaml'),
    snapshot: join(dir, 'snapshot.yaml'),
    bashrc: join(dir, 'admin.bashrc'),
  };
};

export function writeRecord(rec: KindRecord): void {
  const p = paths(rec.id);
  mkdirSync(p.dir, { recursive: true });
  const tmp = `${p.record}.tmp`;
  writeFileSync(tmp, JSON.stringify(rec, null, 2) + '\n');
  renameSync(tmp, p.record);
}

export function readRecord(id: string): KindRecord | undefined {
  const p = paths(id).record;
  if (!existsSync(p)) return undefined;
  try {
    const r = JSON.parse(readFileSync(p, 'utf8')) as KindRecord;
    return r.provider === 'kind' ? r : undefined;
  } catch {
    return undefined;
  }
}

/** Every kind lab record under labsDir() (other providers' labs have no kind.json). */
export function listRecords(): KindRecord[] {
  const dir = labsDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir).map(readRecord).filter((r): r is KindRecord => !!r);
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
