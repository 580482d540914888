import { join } from 'node:path';
import type { BenchContext } from './context.ts';
import { median } from './stats.ts';
import type { Section, Terminal, TerminalRound } from './types.ts';

// 3. The terminal as a learner gets it: real headless Chromium, the real server and relay, a real
// lab. The measuring itself is the web side's (web/test/measure.ts: echo latency per keystroke,
// bulk output throughput, Ctrl-C under a `yes` flood), so the bench and the browser tests measure
// the same thing the same way; this section starts the pieces, repeats the rounds and reports.
//
// Modules are loaded by URL at run time: the bench skips, with a fixed message, what is not there.

export const SKIP_SERVER = 'terminal bench: server/http not available yet';
export const SKIP_MEASURE = 'terminal bench: web/test/measure.ts not available yet';
export const TERMINAL_ROUNDS = { full: 3, quick: 1 };
export const TARGET = 'default/client-control-plane';
const SCENARIO = 'coredns-down';

interface ServerModule {
  startServer(o: { host: string; port: number; stateDir: string; log: (l: string) => void }): Promise<{ url: string; port: number; close(): Promise<void> }>;
}
interface BrowserModule {
  browserMissing(): string | null;
  launch(): Promise<{ browser: { newContext(o: object): Promise<PageContext>; version(): string }; close(): Promise<void> }>;
}
interface PageContext { newPage(): Promise<Page> }
interface Page {
  goto(url: string): Promise<unknown>;
  reload(): Promise<unknown>;
  waitForSelector(sel: string, o?: { timeout?: number }): Promise<unknown>;
  evaluate<R, A>(fn: (a: A) => R | Promise<R>, arg: A): Promise<R>;
  waitForFunction<A>(fn: (a: A) => unknown, arg: A, o?: { timeout?: number }): Promise<unknown>;
}
interface MeasureModule {
  measureTerminal(page: Page, target: string, o: { keystrokes?: number; bulkBytes?: number; floodBytes?: number; timeoutMs?: number }): Promise<TerminalRound>;
}

const load = async <T>(rel: string): Promise<T | undefined> => {
  try {
    return (await import(new URL(rel, import.meta.url).href)) as T;
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw e;
  }
};

export async function benchTerminal(ctx: BenchContext): Promise<Section<Terminal>> {
  const server = await load<ServerModule>('../server/http/server.ts');
  if (!server?.startServer) return { status: 'skipped', reason: SKIP_SERVER };
  const measure = await load<MeasureModule>('../web/test/measure.ts');
  const browserMod = await load<BrowserModule>('../web/test/browser.ts');
  if (!measure?.measureTerminal || !browserMod?.launch) return { status: 'skipped', reason: SKIP_MEASURE };
  const missing = browserMod.browserMissing();
  if (missing) return { status: 'skipped', reason: `terminal bench: ${missing}` };

  const srv = await server.startServer({ host: '127.0.0.1', port: 0, stateDir: join(ctx.home, 'server'), log: () => {} });
  const stopServer = ctx.cleanup.add('web server', () => srv.close());
  const b = await browserMod.launch();
  const stopBrowser = ctx.cleanup.add('browser', () => b.close());
  try {
    const page = await (await b.browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await page.goto(`${srv.url.replace(/\/$/, '')}/`);
    // The request the Start button makes.
    const id = await page.evaluate(async (scenario: string) => {
      const csrf = document.cookie.split('; ').find((c) => c.startsWith('netdojo_csrf='))?.slice('netdojo_csrf='.length) ?? '';
      const r = await fetch('/api/labs', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify({ scenario, seed: 1 }) });
      const body = await r.json() as { lab?: { id: string }; error?: unknown };
      if (!body.lab) throw new Error(`starting a lab: HTTP ${r.status} ${JSON.stringify(body)}`);
      return body.lab.id;
    }, SCENARIO);
    await page.goto(`${srv.url.replace(/\/$/, '')}/labs/${id}`);
    const opts = ctx.quick
      ? { keystrokes: 60, bulkBytes: 5 * 1024 * 1024, floodBytes: 1024 * 1024, timeoutMs: 60_000 }
      : { keystrokes: 200, bulkBytes: 20 * 1024 * 1024, floodBytes: 2 * 1024 * 1024, timeoutMs: 60_000 };
    const rounds: TerminalRound[] = [];
    const failures: string[] = [];
    const ready = async () => {
      // The page reloads itself once the lab is ready; the briefing and the tab's terminal come after.
      await page.waitForSelector('.brief', { timeout: 90_000 });
      await page.waitForFunction((t: string) => (window as unknown as { netdojo?: { terminals: Map<string, unknown> } }).netdojo?.terminals.has(t), TARGET, { timeout: 30_000 });
      // Measure a shell that is all there: connected, its start-up done, a prompt under the cursor.
      await page.waitForFunction((t: string) => {
        type Term = { status: string; term: { buffer: { active: { baseY: number; cursorY: number; getLine(i: number): { translateToString(trim: boolean): string } | undefined } } } };
        const x = (window as unknown as { netdojo: { open(t: string): Term } }).netdojo.open(t);
        const b = x.term.buffer.active;
        return x.status === 'connected' && /[#$] ?$/.test((b.getLine(b.baseY + b.cursorY)?.translateToString(true) ?? '').trimEnd());
      }, TARGET, { timeout: 30_000 });
      await new Promise((r) => setTimeout(r, 500));
    };
    await ready();
    for (let i = 0; i < (ctx.quick ? TERMINAL_ROUNDS.quick : TERMINAL_ROUNDS.full); i++) {
      let m: TerminalRound | undefined;
      for (let attempt = 1; !m; attempt++) {
        try {
          m = await measure.measureTerminal(page, TARGET, opts);
        } catch (e) {
          // Recorded in the results, never hidden; one retry on a freshly loaded page (a new shell).
          const why = (e instanceof Error ? e.message : String(e)).split('\n')[0].slice(0, 400);
          failures.push(`round ${i + 1}, attempt ${attempt}: ${why}`);
          ctx.log(`terminal: round ${i + 1} attempt ${attempt} failed: ${why}`);
          if (attempt >= 2) throw e;
          await page.reload();
          await ready();
        }
      }
      rounds.push({ echo: m.echo, throughput: m.throughput, ctrlC: m.ctrlC });
      ctx.log(`terminal: round ${i + 1}: echo p50 ${m.echo.p50.toFixed(1)} ms, ${m.throughput.mbPerS.toFixed(1)} MB/s, Ctrl-C ${Math.round(m.ctrlC.ms)} ms`);
    }
    return {
      status: 'ok',
      data: {
        target: TARGET,
        browser: b.browser.version(),
        rounds,
        failures,
        echoP50: median(rounds.map((r) => r.echo.p50)),
        echoP95: median(rounds.map((r) => r.echo.p95)),
        throughputMBps: median(rounds.map((r) => r.throughput.mbPerS)),
        ctrlCMs: median(rounds.map((r) => r.ctrlC.ms)),
      },
    };
  } finally {
    await ctx.cleanup.now(stopBrowser, () => b.close());
    await ctx.cleanup.now(stopServer, () => srv.close());
  }
}
