import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { userOf } from './identity.ts';

// Per-learner rate limits on what costs the machine most: starting (or resetting) a lab builds a
// cluster, a Check runs probes in every source pod. Counted per learner id (per address before a
// learner has one), in a window of a minute; over the limit a request gets 429 with Retry-After and
// the API's error shape. Lab counts and time limits (manager/manager.ts) stay the other bound.
// Guessing is bounded the same way: password sign-ins per trainer account tried (whatever the address
// or cookie they come with) and cohort joins per learner.

export interface RateLimits {
  /** Lab starts and resets per learner per minute. */
  startsPerMinute: number;
  /** Checks (grades) per learner per minute. */
  checksPerMinute: number;
  /** Password sign-ins per trainer account, and cohort joins per learner, per minute. */
  signInsPerMinute: number;
}

export const DEFAULT_RATES: RateLimits = { startsPerMinute: 6, checksPerMinute: 30, signInsPerMinute: 10 };

const byLearner = (req: Request) => userOf(req) ?? ipKeyGenerator(req.ip ?? '');

const limiter = (limit: number, what: string, key = byLearner): RequestHandler => rateLimit({
  windowMs: 60_000,
  limit,
  standardHeaders: 'draft-8',
  legacyHeaders: false,
  keyGenerator: key,
  handler: (_req, res, _next, options) => {
    res.status(options.statusCode).json({ error: { code: 'rate_limited', message: `Too many ${what}: at most ${limit} a minute. Try again in ${res.getHeader('Retry-After') ?? 60} s.` } });
  },
});

export function rateLimiters(r: RateLimits) {
  return {
    starts: limiter(r.startsPerMinute, 'lab starts and resets'),
    checks: limiter(r.checksPerMinute, 'checks'),
    // The body is parsed by then (express.json comes first on /api); a body without a name counts per address.
    signIns: limiter(r.signInsPerMinute, 'sign-ins to this account', (req) => {
      const name = (req.body as { name?: unknown } | undefined)?.name;
      return typeof name === 'string' ? `trainer:${name.slice(0, 64)}` : byLearner(req);
    }),
    joins: limiter(r.signInsPerMinute, 'attempts to join a cohort'),
  };
}
