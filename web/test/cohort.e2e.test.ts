import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { addTrainer, newLoginLink } from '../../server/cohorts/trainers.ts';
import { startServer, type RunningServer } from '../../server/http/server.ts';
import { getProvider } from '../../server/providers/index.ts';
import { SqliteStore } from '../../server/store/store.ts';
import { EVALUATE_SHIM, browserMissing, launch } from './browser.ts';

// A cohort in two real browsers against the real server, scenarios and netns provider: the trainer
// signs in with the link the CLI prints and makes a cohort; a learner, in a browser of their own,
// joins with its code, starts the lab from the cohort's page and types a command; the trainer's
// dashboard shows them working, the trainer's read-only view of their terminal shows the command's
// output and the timeline the command, and what the trainer types reaches nothing.

const home = mkdtempSync(join(tmpdir(), 'netdojo-cohort-e2e-'));
process.env.NETDOJO_HOME = home;

async function netnsMissing(): Promise<string | null> {
  const lacks = await (await getProvider('netns')).doctor();
  return lacks.length ? `the netns provider cannot run here: ${lacks.join('; ')}` : null;
}

const missing = browserMissing() ?? await netnsMissing();
if (missing) console.warn(`skipping browser cohort tests: ${missing}`);

const SCENARIO = 'coredns-down';
const TARGET = 'default/client-control-plane';

type Terms = { netdojo?: { terminals: Map<string, { term: { buffer: { active: { length: number; getLine(i: number): { translateToString(trim: boolean): string } | undefined } } } }> } };

/** The lines of a page's terminal for `target` (the lab page and the trainer's view expose their terminals). */
const screen = (page: Page, target = TARGET) => page.evaluate((t) => {
  const term = (window as unknown as Terms).netdojo?.terminals.get(t)?.term;
  if (!term) return [];
  const b = term.buffer.active;
  const out: string[] = [];
  for (let i = 0; i < b.length; i++) out.push(b.getLine(i)?.translateToString(true) ?? '');
  return out;
}, target);
const untilScreen = (page: Page, pred: (lines: string[]) => boolean, what: string, timeout = 60_000) =>
  expect.poll(async () => pred(await screen(page).catch(() => [])), { timeout, interval: 100, message: what }).toBe(true);

describe.skipIf(!!missing)(`a cohort in Chromium${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let srv: RunningServer;
  let base: string;
  let browser: Awaited<ReturnType<typeof launch>>;
  let trainerCtx: BrowserContext;
  let learnerCtx: BrowserContext;
  let trainer: Page;
  let learner: Page;
  let link: string;
  let code = '';
  let cohortUrl = '';
  const stateDir = join(home, 'server');

  beforeAll(async () => {
    await import(new URL('../build.mjs', import.meta.url).href); // the page's bundle, from the sources under test
    srv = await startServer({ host: '127.0.0.1', port: 0, stateDir, log: () => {} });
    base = srv.url;
    // What `netdojo trainer add ada` does, on the server's database.
    const store = new SqliteStore(join(stateDir, 'progress.db'));
    await addTrainer(store.cohorts, 'ada', null);
    link = base + newLoginLink(store.cohorts, 'ada').path;
    store.close();
    browser = await launch();
    for (const which of ['trainer', 'learner'] as const) {
      const ctx = await browser.browser.newContext({ viewport: { width: 1280, height: 800 } });
      await ctx.addInitScript(EVALUATE_SHIM);
      const page = await ctx.newPage();
      page.on('pageerror', (e) => console.error(`${which} page error:`, e.message));
      if (which === 'trainer') { trainerCtx = ctx; trainer = page; } else { learnerCtx = ctx; learner = page; }
    }
  });

  afterAll(async () => {
    await trainerCtx?.close();
    await learnerCtx?.close();
    await browser?.close();
    await srv?.close();
    expect(existsSync(join(home, 'labs')) ? readdirSync(join(home, 'labs')) : []).toEqual([]);
    rmSync(home, { recursive: true, force: true });
  });

  it('the trainer signs in with the one-time link and makes a cohort from the catalog', async () => {
    await trainer.goto(link);
    await trainer.click('#link-sign-in');
    await trainer.waitForURL(`${base}/trainer/cohorts`);
    await trainer.fill('#cohort-name', 'Platform team');
    await trainer.check(`input[name=scenarios][value="${SCENARIO}"]`);
    await trainer.click('#new-cohort button[type=submit]');
    await trainer.waitForURL(/\/trainer\/cohorts\/c[0-9a-f]{12}$/);
    cohortUrl = trainer.url();
    code = (await trainer.locator('#access-code').textContent())!.trim();
    expect(code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    expect(await trainer.locator('.board').textContent()).toContain('Nobody has joined yet');
  });

  it('a learner joins with the code in a browser of their own and starts the lab from the cohort page', async () => {
    await learner.goto(`${base}/join`);
    await learner.fill('#join-code', 'nope');
    await learner.fill('#join-name', 'Grace');
    await learner.click('#join-form button[type=submit]');
    await expect.poll(() => learner.locator('[data-field="body.code"]').textContent()).toMatch(/no cohort has the code "nope"/);
    await learner.fill('#join-code', code.toLowerCase());
    await learner.click('#join-form button[type=submit]');
    await learner.waitForURL(/\/cohorts\/c[0-9a-f]{12}$/);
    expect(await learner.locator(`[data-item="scenario:${SCENARIO}"] [data-state]`).getAttribute('data-state')).toBe('not-started');
    // The trainer's dashboard shows the new member without a reload.
    await expect.poll(() => trainer.locator('tr[data-member="Grace"]').count(), { timeout: 15_000 }).toBe(1);

    await learner.click(`button[data-start="${SCENARIO}"]`);
    await learner.waitForURL(/\/labs\/[a-z0-9]+$/);
    await learner.waitForFunction((t) => (window as unknown as Terms).netdojo?.terminals.has(t), TARGET, { timeout: 180_000 });
    await untilScreen(learner, (l) => l.some((x) => /client-control-plane.*# ?$/.test(x)), 'a prompt in the client pod', 120_000);
    await learner.locator('.xterm').first().click();
    await learner.keyboard.type('echo cohort-$((6*7))\n');
    await untilScreen(learner, (l) => l.includes('cohort-42'), 'the command output');
  });

  it('the trainer sees them working and watches their terminal read-only, with the timeline', async () => {
    const cell = trainer.locator(`tr[data-member="Grace"] td[data-item="scenario:${SCENARIO}"]`);
    await expect.poll(() => cell.locator('[data-state]').getAttribute('data-state'), { timeout: 15_000 }).toBe('working');
    expect(await cell.textContent()).toMatch(/working: not checked yet/);
    await cell.locator('a.watch').click();
    await trainer.waitForURL(new RegExp(`^${cohortUrl}/labs/[a-z0-9]+$`));
    expect(await trainer.locator('h1').textContent()).toMatch(/^Grace: /);
    await trainer.waitForFunction((t) => (window as unknown as Terms).netdojo?.terminals.has(t), TARGET, { timeout: 15_000 });
    await untilScreen(trainer, (l) => l.includes('cohort-42'), "the learner's output in the trainer's view");
    await expect.poll(() => trainer.locator('[data-part="timeline"]').textContent(), { timeout: 15_000 }).toContain('echo cohort-$((6*7))');

    // The trainer types: nothing reaches the learner's shell. The page sends no keystrokes from a
    // read-only terminal, and a hand-made INPUT frame on the trainer's socket is dropped by the relay
    // (its frames are handled in order: once its close is answered, anything passed on would be in).
    await trainer.locator('.xterm').first().click();
    await trainer.keyboard.type('echo trainer-$((5*5))\n');
    const lab = trainer.url().split('/').pop()!;
    const sent = await trainer.evaluate(({ lab, target }) => new Promise<boolean>((resolve) => {
      let sent = false;
      const ws = new WebSocket(`ws://${location.host}/api/trainer/labs/${lab}/terminal?target=${encodeURIComponent(target)}`, ['netdojo.term.v1']);
      ws.onmessage = () => { ws.send(new Uint8Array([0x01, ...new TextEncoder().encode('echo trainer-raw-$((7*7))\r')])); sent = true; ws.close(); };
      ws.onclose = () => resolve(sent);
    }), { lab, target: TARGET });
    expect(sent).toBe(true);
    await learner.keyboard.type('echo learner-$((2*2))\n');
    await untilScreen(learner, (l) => l.includes('learner-4'), "the learner's next command");
    await untilScreen(trainer, (l) => l.includes('learner-4'), "the learner's next command, live, in the trainer's view");
    for (const page of [learner, trainer]) {
      const lines = await screen(page);
      expect(lines.some((l) => l.includes('trainer-'))).toBe(false);
    }
    await expect.poll(() => trainer.locator('[data-part="timeline"]').textContent(), { timeout: 15_000 }).toContain('echo learner-$((2*2))');
    expect(await trainer.locator('[data-part="timeline"]').textContent()).not.toContain('trainer-');
  });
});
