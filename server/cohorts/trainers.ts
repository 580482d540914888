import { randomBytes } from 'node:crypto';
import { LabError } from '../lab/types.ts';
import type { CohortStore, TrainerRow } from '../store/cohorts.ts';
import { hashPassword, hashToken, newLoginToken, verifyPassword } from './secrets.ts';

// Trainer accounts, made on the command line (`netdojo trainer add`), and the two ways they sign in:
// a password, or a one-time link that expires (the CLI prints it; a new one replaces the old).

export const TRAINER_NAME = /^[a-z][a-z0-9._-]{0,31}$/;
export const TRAINER_NAME_RULE = 'a trainer name: 1 to 32 of a-z, 0-9, ".", "_" and "-", starting with a letter';
/** A login link works once, for this long. */
export const LINK_TTL_MS = 24 * 60 * 60 * 1000;
export const MIN_PASSWORD = 8;

/** A mistake on the command line, said as such (no stack). */
export class TrainerError extends LabError {}

let dummyHash: Promise<string> | null = null;

export async function addTrainer(store: CohortStore, name: string, password: string | null): Promise<TrainerRow> {
  if (!TRAINER_NAME.test(name)) throw new TrainerError(`"${name}" is not ${TRAINER_NAME_RULE}`);
  if (store.trainerByName(name)) throw new TrainerError(`there is already a trainer "${name}" (netdojo trainer link ${name} gives them a new login link)`);
  if (password !== null && password.length < MIN_PASSWORD) throw new TrainerError(`the password must have at least ${MIN_PASSWORD} characters`);
  store.addTrainer({ id: 't' + randomBytes(6).toString('hex'), name, password: password === null ? null : await hashPassword(password) });
  return store.trainerByName(name)!;
}

/** A new one-time login link's path (`/trainer/login/<token>`) for the trainer named; earlier links stop working. */
export function newLoginLink(store: CohortStore, name: string, now = Date.now()): { path: string; expiresAt: number } {
  const t = store.trainerByName(name);
  if (!t) throw new TrainerError(`no trainer "${name}" (netdojo trainer add ${name} makes one)`);
  const { token, hash } = newLoginToken();
  const expiresAt = now + LINK_TTL_MS;
  store.issueLink(t.id, hash, expiresAt, now);
  return { path: `/trainer/login/${token}`, expiresAt };
}

/** The trainer a password signs in, or null (the same answer for an unknown name and a wrong password). */
export async function passwordSignIn(store: CohortStore, name: string, password: string): Promise<TrainerRow | null> {
  const t = store.trainerByName(name);
  // A name without an account costs the same scrypt as one with, so timing does not tell them apart.
  const ok = await verifyPassword(password, t?.password ?? await (dummyHash ??= hashPassword(randomBytes(16).toString('hex'))));
  return t && t.password && ok ? t : null;
}

/** The trainer a link's token signs in (using it up), or null. */
export function linkSignIn(store: CohortStore, token: string, now = Date.now()): TrainerRow | null {
  const id = store.useLink(hashToken(token), now);
  return id ? store.trainer(id) ?? null : null;
}
