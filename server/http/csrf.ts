import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

// Cross-site request forgery: a page of another site can make the browser send a learner's cookie
// (a form POST, an <img>), but it cannot read our pages nor set a header of its own without a CORS
// preflight this server never grants. So every state-changing request carries the learner's token
// in X-CSRF-Token: an HMAC of their id under a key kept in the state directory (tokens survive a
// restart; no per-session state). The page's script reads it from a cookie of its own (a double
// submit: another site can make the browser send that cookie, never read it); scripts get it from
// GET /api/session. The Origin check and the SameSite=Lax cookie stay as further layers.

export const CSRF_HEADER = 'x-csrf-token';
export const CSRF_COOKIE = 'netdojo_csrf';

export interface CsrfTokens {
  tokenFor(user: string): string;
  check(user: string | null, token: string | undefined): boolean;
}

/** The key in `file` (created, readable by this user only, when missing). */
export function loadKey(file: string): Buffer {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  }
  chmodSync(file, 0o600);
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length < 32) throw new Error(`${file}: expected a base64 key of at least 32 bytes (remove the file to make a new one)`);
  return key;
}

export function csrfTokens(key: Buffer): CsrfTokens {
  const tokenFor = (user: string) => createHmac('sha256', key).update(`csrf:${user}`).digest('base64url');
  return {
    tokenFor,
    check(user, token) {
      if (!user || !token) return false;
      const want = Buffer.from(tokenFor(user));
      const got = Buffer.from(token);
      return got.length === want.length && timingSafeEqual(got, want);
    },
  };
}
