import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';

// The one place that owns names: where labs keep their records, how lab ids look, and what a lab is
// called in each provider's world, so list/reap can find leftovers by name alone.

export const PRODUCT = 'netdojo';

/** Per-user state: lab records, the progress store. NETDOJO_HOME overrides (tests use it). */
export function stateDir(): string {
  if (process.env.NETDOJO_HOME) return process.env.NETDOJO_HOME;
  const base = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, PRODUCT);
}

export const labsDir = () => join(stateDir(), 'labs');
export const labDir = (id: string) => join(labsDir(), id);

const LAB_ID = /^[a-z][a-z0-9]{5,11}$/;

export function newLabId(): string {
  // Starts with a letter: ids double as kind cluster names and DNS labels.
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(7);
  let id = 'l';
  for (const b of bytes) id += alphabet[b % alphabet.length];
  return id;
}

export function isLabId(id: string): boolean {
  return LAB_ID.test(id);
}

/**
 * A lab's cgroup, under the cgroup that holds the labs (server/providers/netns/cgroups.ts decides
 * where that is): `netdojo/<lab id>`, in each hierarchy it uses.
 */
export const LABS_CGROUP = PRODUCT;
export const labCgroupName = (id: string) => `${LABS_CGROUP}/${id}`;

/** kind cluster name for a lab; node containers become `<name>-control-plane`, `<name>-worker`. */
export const kindClusterName = (id: string) => `${PRODUCT}-${id}`;
/** Label put on every Docker object a lab creates, so a crashed server's leftovers are found. */
export const KIND_LAB_LABEL = `io.${PRODUCT}.lab`;
