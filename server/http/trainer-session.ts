import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CohortStore, TrainerRow } from '../store/cohorts.ts';
import { CSRF_COOKIE, type CsrfTokens } from './csrf.ts';
import { parseCookies } from './identity.ts';

// A trainer's session: a cookie of its own beside the learner's (a trainer's browser is a learner's
// too), `<trainer id>.<expiry>.<HMAC>` under the state directory's key, HttpOnly and SameSite=Strict,
// for 12 hours. Nothing is kept on the server; the trainer must still exist when it is used. Their
// state-changing requests carry the trainer's CSRF token (csrf.ts, for the subject `trainer:<id>`),
// which the trainer pages' script reads from a cookie of its own.

export const TRAINER_COOKIE = 'netdojo_trainer';
export const TRAINER_CSRF_COOKIE = `${CSRF_COOKIE}_trainer`;
export const SESSION_MS = 12 * 60 * 60 * 1000;

export const csrfSubject = (trainer: string) => `trainer:${trainer}`;

export interface TrainerSessions {
  /** The signed-in trainer, or null (no cookie, forged, expired, or the account is gone). */
  trainerOf(req: IncomingMessage): TrainerRow | null;
  signIn(res: ServerResponse, trainer: TrainerRow): void;
  signOut(res: ServerResponse): void;
}

export function trainerSessions(key: Buffer, store: CohortStore, csrf: CsrfTokens, secure: boolean, now = () => Date.now()): TrainerSessions {
  const sign = (payload: string) => createHmac('sha256', key).update(`trainer-session:${payload}`).digest('base64url');
  const flags = `Path=/; SameSite=Strict${secure ? '; Secure' : ''}`;
  return {
    trainerOf(req) {
      const v = parseCookies(req.headers.cookie)[TRAINER_COOKIE];
      const m = v ? /^(t[0-9a-f]{12})\.(\d{1,15})\.([A-Za-z0-9_-]{43})$/.exec(v) : null;
      if (!m) return null;
      const want = Buffer.from(sign(`${m[1]}.${m[2]}`));
      const got = Buffer.from(m[3]);
      if (got.length !== want.length || !timingSafeEqual(got, want) || Number(m[2]) <= now()) return null;
      return store.trainer(m[1]) ?? null;
    },
    signIn(res, t) {
      const payload = `${t.id}.${now() + SESSION_MS}`;
      const age = Math.floor(SESSION_MS / 1000);
      res.appendHeader('Set-Cookie', `${TRAINER_COOKIE}=${payload}.${sign(payload)}; HttpOnly; Max-Age=${age}; ${flags}`);
      res.appendHeader('Set-Cookie', `${TRAINER_CSRF_COOKIE}=${csrf.tokenFor(csrfSubject(t.id))}; Max-Age=${age}; ${flags}`);
    },
    signOut(res) {
      for (const c of [TRAINER_COOKIE, TRAINER_CSRF_COOKIE]) res.appendHeader('Set-Cookie', `${c}=; Max-Age=0; ${flags}`);
    },
  };
}
