import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LabError, type LabFacts, type ProviderName, type Topology } from './types.ts';
import { isLabId, labDir, labsDir } from './naming.ts';
import type { LabResources } from './resources.ts';

// A lab outlives the process that made it (`netdojo up` exits; `exec`, `grade`, `down` come later,
// and a server may restart), so everything needed to find and re-attach to it is written here.

export interface LabRecord {
  id: string;
  provider: ProviderName;
  scenario: string;
  seed: number;
  createdAt: string;
  topology: Topology;
  facts: LabFacts;
  /** What the lab may use of the machine, as it was created (a reset keeps it). */
  resources?: LabResources;
  /** The provider's own handle: the sandbox holder (netns), the cluster and kubeconfig (kind). */
  handle: Record<string, unknown>;
  /** Owner-defined data (the session keeps the rendered scenario's variant here). */
  meta?: Record<string, unknown>;
}

const recordPath = (id: string) => join(labDir(id), 'lab.json');

/**
 * A lab's directory, made with the state directory's labs/ when they are new: records hold the labs'
 * API tokens, so labs/ (and a state directory made here) is its owner's alone; mkdir's mode applies
 * to the directories it creates. Providers make their lab's directory with it.
 */
export async function ensureLabDir(id: string): Promise<string> {
  await mkdir(labsDir(), { recursive: true, mode: 0o700 });
  await mkdir(labDir(id), { recursive: true });
  return labDir(id);
}

export async function writeRecord(rec: LabRecord): Promise<void> {
  await ensureLabDir(rec.id);
  // Readable by the owner only: it holds the lab's API token.
  const tmp = `${recordPath(rec.id)}.tmp`;
  await writeFile(tmp, JSON.stringify(rec, null, 2), { mode: 0o600 });
  await rename(tmp, recordPath(rec.id));
}

export async function readRecord(id: string): Promise<LabRecord> {
  if (!isLabId(id)) throw new LabError(`"${id}" is not a lab id (expected something like ${'l'}k3x9q2a)`, 'run `netdojo down --all` or list labs with `netdojo list`');
  try {
    return JSON.parse(await readFile(recordPath(id), 'utf8')) as LabRecord;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new LabError(`no lab "${id}"`, 'list labs with `netdojo list`');
    throw new LabError(`lab "${id}": unreadable record ${recordPath(id)}: ${(e as Error).message}`);
  }
}

export async function updateMeta(id: string, meta: Record<string, unknown>): Promise<void> {
  const rec = await readRecord(id);
  await writeRecord({ ...rec, meta: { ...rec.meta, ...meta } });
}

/** Ids of every lab directory, including ones whose record was never written (a crash mid-create). */
export async function labIds(): Promise<string[]> {
  try {
    return (await readdir(labsDir())).filter(isLabId).sort();
  } catch {
    return [];
  }
}

export async function tryReadRecord(id: string): Promise<LabRecord | undefined> {
  try {
    return await readRecord(id);
  } catch {
    return undefined;
  }
}

export async function removeLabDir(id: string): Promise<void> {
  // Retried: a controller finishing a write can still be filling a directory being removed.
  await rm(labDir(id), { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
}

/** Gives a lab created without one (a warm lab) its scenario and seed, as if it had been made for them. */
export async function assignScenario(id: string, scenario: string, seed: number): Promise<LabRecord> {
  const rec = await readRecord(id);
  const assigned = { ...rec, scenario, seed, facts: { ...rec.facts, scenario, seed } };
  await writeRecord(assigned);
  return assigned;
}
