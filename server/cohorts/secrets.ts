import { createHash, randomBytes, randomInt, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

// The secrets of trainers and cohorts: password hashes (scrypt, node's own), one-time login tokens
// (random; only their SHA-256 is stored, so the database alone signs nobody in) and access codes.

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, opts: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;
const COST = { N: 2 ** 15, r: 8, p: 1 };
const KEYLEN = 32;

/** `scrypt$N$r$p$salt$hash` (base64url): the parameters travel with the hash, so they can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password.normalize('NFC'), salt, KEYLEN, { ...COST, maxmem: 128 * COST.N * COST.r * 2 });
  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  const parts = (stored ?? '').split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  const want = Buffer.from(parts[5], 'base64url');
  const got = await scryptAsync(password.normalize('NFC'), Buffer.from(parts[4], 'base64url'), want.length, { N, r, p, maxmem: 128 * N * r * 2 });
  return got.length === want.length && timingSafeEqual(got, want);
}

/** A one-time login token (for the link) and the hash the store keeps of it. */
export function newLoginToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token) };
}

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** Crockford's base32: no I, L, O or U, so a code read aloud or copied by hand survives. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_LENGTH = 12;

/** 12 random base32 characters (60 bits), stored without dashes. */
export function newAccessCode(): string {
  let code = '';
  for (let i = 0; i < CODE_LENGTH; i++) code += ALPHABET[randomInt(ALPHABET.length)];
  return code;
}

/** As shown: three groups of four (`7KQ2-M9XD-4T1R`). */
export const formatAccessCode = (code: string) => code.match(/.{1,4}/g)!.join('-');

/**
 * What a learner typed, as stored: case, spaces and dashes do not matter, and the letters Crockford's
 * alphabet leaves out read as the digits they look like (O as 0, I and L as 1). Null when it cannot be a code.
 */
export function normalizeAccessCode(typed: string): string | null {
  const s = typed.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  return s.length === CODE_LENGTH && [...s].every((c) => ALPHABET.includes(c)) ? s : null;
}
