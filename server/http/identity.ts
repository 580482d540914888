import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

// Who is asking: an anonymous learner per browser, named by a random id in an HttpOnly cookie. There is
// no login yet: clearing cookies starts a new learner (progress stays in the store under the old id),
// and anyone who can read the cookie is that learner. A real identity provider replaces this module.

export const COOKIE = 'netdojo_uid';
const ID = /^u[A-Za-z0-9_-]{22}$/;

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const k = part.slice(0, i).trim();
    if (!k || k in out) continue;
    try { out[k] = decodeURIComponent(part.slice(i + 1).trim()); } catch { /* malformed: ignore */ }
  }
  return out;
}

/** The learner's id from the request's cookie, or null (no cookie or a forged shape). */
export function userOf(req: IncomingMessage): string | null {
  const v = parseCookies(req.headers.cookie)[COOKIE];
  return v && ID.test(v) ? v : null;
}

/** The learner's id, issuing a new cookie when there is none. */
export function ensureUser(req: IncomingMessage, res: ServerResponse, secure: boolean): string {
  const existing = userOf(req);
  if (existing) return existing;
  const id = 'u' + randomBytes(16).toString('base64url').slice(0, 22);
  res.appendHeader('Set-Cookie', `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000${secure ? '; Secure' : ''}`);
  return id;
}
