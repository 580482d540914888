import express, { type NextFunction, type Request, type Response } from 'express';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stateDir } from '../lab/naming.ts';
import type { ProviderName } from '../lab/types.ts';
import { removeLeftWarmLabs, warmLabs, type WarmLabs } from '../lab/warm.ts';
import { getProvider } from '../providers/index.ts';
import { realBackend, type CatalogEntry, type LabBackend } from '../manager/backend.ts';
import { LabManager, UserError, terminalName, type LabLimits } from '../manager/manager.ts';
import { SqliteStore, type ProgressStore } from '../store/store.ts';
import { PtyHost } from '../terminal/host.ts';
import { attachRelay } from '../terminal/relay.ts';
import { ExamAttempts, type Schedule } from '../exam/attempt.ts';
import { libraryScenarios, loadExams, type ExamCatalog } from '../exam/load.ts';
import { Cohorts } from '../cohorts/service.ts';
import { apiErrors, apiRouter } from './api.ts';
import { cohortApiRouter } from './cohort-api.ts';
import { cohortPageRouter } from './cohort-pages.ts';
import { CSRF_COOKIE, CSRF_HEADER, csrfTokens, loadKey } from './csrf.ts';
import { examApiRouter } from './exam-api.ts';
import { examPageRouter } from './exam-pages.ts';
import { ensureUser, parseCookies, userOf } from './identity.ts';
import { pageRouter } from './pages.ts';
import { DEFAULT_RATES, rateLimiters, type RateLimits } from './rates.ts';
import { TRAINER_CSRF_COOKIE, csrfSubject, trainerSessions } from './trainer-session.ts';

// `netdojo serve`: the web server. One HTTP port carries the pages, the JSON API and the terminal
// WebSockets. Everything it starts (store, pty host, relay, labs, timers) is released by close().

export interface ServerOptions {
  host?: string;
  port?: number;
  /** Provider for new labs. */
  provider?: ProviderName;
  /** Where the progress database lives (default: stateDir()). */
  stateDir?: string;
  limits?: Partial<LabLimits>;
  /** Extra Host names the server answers to (behind a proxy: the public name, e.g. "labs.example.com"). */
  allowedHosts?: string[];
  /** Cookie `Secure` flag (set when served over HTTPS by a proxy). */
  secureCookies?: boolean;
  /** Replaces the project's scenario/lab/grader modules (tests). */
  backend?: LabBackend;
  /** Per-learner rate limits (default DEFAULT_RATES). */
  rates?: Partial<RateLimits>;
  /** Replaces the exams of exams/ (tests: exams over the stand-in's scenarios). */
  exams?: () => Promise<ExamCatalog>;
  /** Replaces the timer that ends exam attempts at their deadline (tests fire it). */
  examTimer?: Schedule;
  /** The exam attempts' clock (tests: a server restarting after an attempt's deadline). */
  now?: () => number;
  /**
   * Base labs kept created ahead of demand, so a start takes one instead of creating a cluster
   * (none when absent; with `backend` given, none either).
   */
  warmLabs?: number;
  /** Terminal connection idle limit. */
  terminalIdleMs?: number;
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  manager: LabManager;
  /** The labs made ahead, when the server keeps some (warmLabs). */
  warm?: WarmLabs;
  attempts: ExamAttempts;
  close(): Promise<void>;
}

const WEB = fileURLToPath(new URL('../../web/', import.meta.url));
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** Host names (without port) this server accepts in Host and Origin headers: a DNS-rebinding guard. */
function hostAllowList(listenHost: string, extra: string[]): Set<string> {
  const hosts = new Set(extra.map((h) => h.toLowerCase()));
  if (LOOPBACK.has(listenHost)) for (const h of LOOPBACK) hosts.add(h);
  else if (listenHost !== '0.0.0.0' && listenHost !== '::') hosts.add(listenHost.toLowerCase());
  return hosts;
}

/** Trainer routes a browser calls before it has a trainer session: they carry the learner's token. */
const TRAINER_SIGN_IN = new Set(['/api/trainer/login', '/api/trainer/login/link']);

function hostnameOf(hostHeader: string | undefined): string | null {
  if (!hostHeader) return null;
  try {
    return new URL(`http://${hostHeader}`).hostname.toLowerCase();
  } catch {
    return null;
  }
}

export async function startServer(opts: ServerOptions = {}): Promise<RunningServer> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? ((l: string) => console.log(l));
  // The install step builds the client; a checkout without it, or whose client changed since (a pull,
  // an edit), is rebuilt rather than serving an old page.
  const client = await import(new URL('../../web/build.mjs', import.meta.url).href) as { clientIsStale(): boolean; buildClient(): Promise<void> };
  if (client.clientIsStale()) await client.buildClient();

  const dir = opts.stateDir ?? stateDir();
  const store: ProgressStore = new SqliteStore(join(dir, 'progress.db'));
  let warm: WarmLabs | undefined;
  const backend = opts.backend ?? realBackend(() => warm);
  const ptyHost = new PtyHost();
  const manager = new LabManager({ backend, store, ptyHost, provider: opts.provider ?? 'netns', limits: opts.limits });

  let catalogCache: { at: number; list: CatalogEntry[] } | null = null;
  const catalog = async () => {
    if (!catalogCache || Date.now() - catalogCache.at > 5000) catalogCache = { at: Date.now(), list: await backend.scenarios() };
    return catalogCache.list;
  };

  let examCache: { at: number; catalog: ExamCatalog } | null = null;
  const exams = opts.exams ?? (async () => {
    if (!examCache || Date.now() - examCache.at > 5000) examCache = { at: Date.now(), catalog: await loadExams(await libraryScenarios()) };
    return examCache.catalog;
  });
  const attempts = new ExamAttempts({ manager, store, exams, runner: 'web', schedule: opts.examTimer, now: opts.now, log });

  const allowed = hostAllowList(host, opts.allowedHosts ?? []);
  const hostOk = (req: IncomingMessage) => {
    const h = hostnameOf(req.headers.host);
    return h !== null && (allowed.size === 0 ? true : allowed.has(h));
  };
  const originOk = (origin: string, req?: IncomingMessage) => {
    try {
      const u = new URL(origin);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
      // The page's origin must be the host the request was sent to, and that host must be one of ours.
      if (req && u.host.toLowerCase() !== String(req.headers.host ?? '').toLowerCase()) return false;
      return allowed.size === 0 || allowed.has(u.hostname.toLowerCase());
    } catch {
      return false;
    }
  };

  const key = loadKey(join(dir, 'csrf.key'));
  const csrf = csrfTokens(key);
  const sessions = trainerSessions(key, store.cohorts, csrf, !!opts.secureCookies);
  const cohorts = new Cohorts({ store, manager, attempts, catalog, now: opts.now });
  /** Trainer routes past signing in: their requests carry the trainer's token, not the learner's. */
  const trainerRoute = (req: Request) => req.path.startsWith('/api/trainer/') && !TRAINER_SIGN_IN.has(req.path);
  const csrfOwner = (req: Request) => {
    if (!trainerRoute(req)) return userOf(req);
    const t = sessions.trainerOf(req);
    return t && csrfSubject(t.id);
  };
  const rates = rateLimiters({ ...DEFAULT_RATES, ...opts.rates });
  const user = (req: Request, res: Response) => {
    const id = ensureUser(req, res, !!opts.secureCookies);
    store.ensureUser(id);
    // The page's script reads the learner's token from its cookie for the requests it makes.
    const token = csrf.tokenFor(id);
    if (parseCookies(req.headers.cookie)[CSRF_COOKIE] !== token) res.appendHeader('Set-Cookie', `${CSRF_COOKIE}=${token}; Path=/; SameSite=Lax; Max-Age=31536000${opts.secureCookies ? '; Secure' : ''}`);
    return id;
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use((req, res, next) => {
    if (!hostOk(req)) {
      res.status(421).type('text').send(`This server does not answer to host "${req.headers.host ?? ''}". Start it with --host or add the name to its allowed hosts.`);
      return;
    }
    res.set({
      'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'same-origin',
      'X-Frame-Options': 'DENY',
    });
    // State-changing requests from another site are refused (the cookie is SameSite=Lax as well),
    // and every one must carry the learner's token (csrf.ts).
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      if (req.headers.origin && !originOk(req.headers.origin, req)) {
        res.status(403).json({ error: { code: 'forbidden', message: `origin ${req.headers.origin} may not change labs here` } });
        return;
      }
      if (!csrf.check(csrfOwner(req), req.get(CSRF_HEADER))) {
        const whose = trainerRoute(req)
          ? `the trainer's token (the page's ${TRAINER_CSRF_COOKIE} cookie, or csrfToken from GET /api/trainer/session)`
          : `the learner's token (the page's ${CSRF_COOKIE} cookie, or csrfToken from GET /api/session)`;
        res.status(403).json({ error: { code: 'csrf', message: `this request needs the ${CSRF_HEADER} header with ${whose}: reload the page` } });
        return;
      }
    }
    next();
  });
  app.use('/static', express.static(join(WEB, 'dist'), { maxAge: '1h', fallthrough: true }));
  app.use('/static', express.static(join(WEB, 'public'), { maxAge: '1h' }));
  const pages = pageRouter({ manager, store, catalog, user, cohorts });
  app.use('/api', express.json({ limit: '16kb' }), examApiRouter({ attempts, manager, user, rates, views: pages.views }),
    cohortApiRouter({ cohorts, manager, store, catalog, user, sessions, csrf, rates }), apiRouter({ manager, store, catalog, user, csrf, rates, views: pages.views }));
  app.use(pages.router);
  app.use(examPageRouter({ attempts, manager, views: pages.views, user }));
  app.use(cohortPageRouter({ cohorts, manager, store, catalog, views: pages.views, user, sessions }));
  app.use((req, res) => {
    res.status(404).type('html').send(pages.views.page('error', { title: 'Not found', heading: 'Page not found', message: `Nothing at ${req.path}.` }));
  });
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (req.path.startsWith('/api/')) return apiErrors(err, req, res, next);
    const status = err instanceof UserError ? err.status : 500;
    if (status === 500) console.error('netdojo: page failed:', err);
    res.status(status).type('html').send(pages.views.page('error', { title: 'Error', heading: status === 500 ? 'Something went wrong' : 'Cannot do that', message: (err as Error).message }));
  });

  const server = createServer(app);
  // Request/header timeouts for slow clients; SSE and WebSockets are long-lived on purpose.
  server.headersTimeout = 20_000;
  server.requestTimeout = 0;
  const relay = attachRelay(server, {
    host: ptyHost,
    idleMs: opts.terminalIdleMs,
    allowedOrigin: (o) => originOk(o),
    authorize: (req, labId, target, token, watch) => {
      if (!hostOk(req)) return { status: 403, message: 'host not allowed' };
      if (!originOk(req.headers.origin ?? '', req)) return { status: 403, message: 'origin not allowed' };
      if (watch) {
        // A trainer watches with their own session, whatever token is offered: a member's lab, for
        // one of the trainer's cohorts, on a terminal the learner has open.
        const t = sessions.trainerOf(req);
        if (!t) return { status: 401, message: 'sign in as a trainer first' };
        const m = manager.find(labId);
        if (!m || !cohorts.watchable(t.id, labId)) return { status: 404, message: `no lab ${labId} of a member of your cohorts` };
        if (m.phase !== 'ready' || !m.lab) return { status: 409, message: `lab is ${m.phase}` };
        if (!manager.terminals(m).includes(target)) return { status: 404, message: `the learner has no terminal open on "${target}"` };
        return { term: terminalName(m.id, target), readOnly: true, stillAllowed: () => cohorts.watchable(t.id, labId) };
      }
      const uid = userOf(req);
      if (!uid) return { status: 401, message: 'no learner cookie: open the lab page first' };
      const m = manager.find(labId);
      if (!m || m.user !== uid) return { status: 404, message: `no lab ${labId} of yours` };
      if (!manager.checkToken(m, token)) return { status: 403, message: 'wrong or missing lab token' };
      if (m.phase !== 'ready' || !m.lab) return { status: 409, message: `lab is ${m.phase}` };
      const lab = m.lab;
      if (!lab.targets().includes(target)) return { status: 404, message: `no target "${target}" in this lab; one of: ${lab.targets().join(', ')}` };
      return { term: terminalName(m.id, target), spec: () => lab.shell(target), typed: () => manager.typed(m) };
    },
  });
  // A trainer's watch lasts only as long as the cohort gives them the lab.
  const stopRechecking = cohorts.onAccessChange(() => relay.recheckWatchers());

  const wanted = opts.port ?? 8080;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(wanted, host, () => { server.off('error', reject); resolve(); });
    });
  } catch (e) {
    stopRechecking();
    relay.close();
    await manager.close();
    await ptyHost.dispose();
    store.close();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new Error(`cannot listen on ${host}:${wanted}: the port is in use (choose another with --port)`);
    if (code === 'EADDRNOTAVAIL') throw new Error(`cannot listen on ${host}:${wanted}: no such address on this machine (check --host)`);
    throw e;
  }
  // Only once the port is ours: a second server started by mistake on the same state dir must not
  // close the running one's lab records.
  const { closed, reaped } = await manager.startup();
  if (closed.length || reaped.length) log(`netdojo: cleaned up after the previous run: ${closed.length} lab record(s) closed, ${reaped.length} lab(s) reaped`);
  const { resumed, finished } = await attempts.startup();
  if (resumed.length || finished.length) log(`netdojo: exam attempts after the restart: ${resumed.length} resumed with fresh labs, ${finished.length} graded (time ran out)`);
  if (opts.warmLabs && !opts.backend) {
    // Warm labs an earlier run left (it ended without closing them) belong to no one: they go
    // before this run makes its own.
    const provider = await getProvider(opts.provider ?? 'netns');
    const left = await removeLeftWarmLabs(provider).catch((e: Error) => { log(`netdojo: could not remove warm labs of an earlier run: ${e.message}`); return []; });
    if (left.length) log(`netdojo: removed ${left.length} warm lab(s) of the previous run`);
    warm = warmLabs(provider, {
      size: opts.warmLabs, resources: manager.limits.resources,
      onEvent: (e) => { if (e.type === 'create-failed') log(`netdojo: a warm lab could not be created: ${e.error}`); },
    });
  }
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const url = `http://${shown}:${port}`;

  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    manager,
    warm,
    attempts,
    close() {
      closing ??= (async () => {
        attempts.close();
        stopRechecking();
        relay.close();
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
        await Promise.all([manager.close(), warm?.close()]);
        await ptyHost.dispose();
        store.close();
      })();
      return closing;
    },
  };
}
