import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { addTrainer, newLoginLink } from '../../server/cohorts/trainers.ts';
import { startServer, type RunningServer } from '../../server/http/server.ts';
import { SqliteStore } from '../../server/store/store.ts';
import { EVALUATE_SHIM, browserMissing, launch } from './browser.ts';

// A trainer changing a cohort in real Chromium against the real server and scenarios: the edit form
// comes filled in with the cohort's name, times (in the browser's local time) and assignment, shows a
// bad window beside its field, and saves a new window and assignment the dashboard then shows; a
// learner who joined in a browser of their own is removed from the board (its button drawn by the
// polling) after a confirmation, and may join again; the cohort is deleted once its name is typed
// again, and its code then joins nothing. No lab starts: cohort.e2e.test.ts covers labs in a cohort.

const home = mkdtempSync(join(tmpdir(), 'netdojo-cohort-manage-e2e-'));
process.env.NETDOJO_HOME = home;

const missing = browserMissing();
if (missing) console.warn(`skipping browser cohort management tests: ${missing}`);

const FIRST = 'coredns-down';
const SECOND = 'mtu-blackhole';

describe.skipIf(!!missing)(`managing a cohort in Chromium${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let srv: RunningServer;
  let base: string;
  let browser: Awaited<ReturnType<typeof launch>>;
  const contexts: BrowserContext[] = [];
  let trainer: Page;
  let learner: Page;
  let code = '';
  let cohortUrl = '';
  const stateDir = join(home, 'server');

  beforeAll(async () => {
    srv = await startServer({ host: '127.0.0.1', port: 0, stateDir, log: () => {} }); // rebuilds the page's bundle when its sources changed
    base = srv.url;
    // What `netdojo trainer add ada` does, on the server's database.
    const store = new SqliteStore(join(stateDir, 'progress.db'));
    await addTrainer(store.cohorts, 'ada', null);
    const link = base + newLoginLink(store.cohorts, 'ada').path;
    store.close();
    browser = await launch();
    const page = async (which: string, timezoneId?: string) => {
      const ctx = await browser.browser.newContext({ viewport: { width: 1280, height: 900 }, timezoneId });
      await ctx.addInitScript(EVALUATE_SHIM);
      contexts.push(ctx);
      const p = await ctx.newPage();
      p.on('pageerror', (e) => console.error(`${which} page error:`, e.message));
      return p;
    };
    // Far from UTC, so a time shown or sent in the wrong zone is hours off.
    trainer = await page('trainer', 'Pacific/Auckland');
    learner = await page('learner');
    await trainer.goto(link);
    await trainer.click('#link-sign-in');
    await trainer.waitForURL(`${base}/trainer/cohorts`);
  });

  afterAll(async () => {
    for (const ctx of contexts) await ctx.close();
    await browser?.close();
    await srv?.close();
    rmSync(home, { recursive: true, force: true });
  });

  /** A `datetime-local` value as the instant the page sends for it (the browser's zone decides). */
  const instant = (value: string) => trainer.evaluate((v) => new Date(v).toISOString(), value);
  const utc = (iso: string) => `${iso.slice(0, 16).replace('T', ' ')} UTC`;

  it('the edit form comes filled in; a bad window is shown beside its field; a new window and assignment show on the dashboard', async () => {
    await trainer.fill('#cohort-name', 'Platform team');
    await trainer.check(`input[name=scenarios][value="${FIRST}"]`);
    const opens = await trainer.inputValue('#cohort-opens'), closes = await trainer.inputValue('#cohort-closes');
    await trainer.click('#new-cohort button[type=submit]');
    await trainer.waitForURL(/\/trainer\/cohorts\/c[0-9a-f]{12}$/);
    cohortUrl = trainer.url();
    code = (await trainer.locator('#access-code').textContent())!.trim();

    await trainer.click('#edit > summary');
    const form = trainer.locator('#edit-cohort');
    expect(await form.locator('#cohort-name').inputValue()).toBe('Platform team');
    expect([await form.locator('#cohort-opens').inputValue(), await form.locator('#cohort-closes').inputValue()]).toEqual([opens, closes]);
    expect(await form.locator(`input[name=scenarios][value="${FIRST}"]`).isChecked()).toBe(true);
    expect(await form.locator('input[name=scenarios]:checked').count()).toBe(1);

    await form.locator('#cohort-closes').fill(opens);
    await form.locator('button[type=submit]').click();
    await expect.poll(() => form.locator('[data-field="body.closesAt"]').textContent()).toBe('must be after opensAt');
    expect(trainer.url()).toBe(cohortUrl);

    const newCloses = `${Number(closes.slice(0, 4)) + 1}${closes.slice(4)}`;
    await form.locator('#cohort-name').fill('Platform team, January');
    await form.locator('#cohort-closes').fill(newCloses);
    await form.locator(`input[name=scenarios][value="${FIRST}"]`).uncheck();
    await form.locator(`input[name=scenarios][value="${SECOND}"]`).check();
    await form.locator('button[type=submit]').click();
    await expect.poll(() => trainer.locator('h1').textContent()).toBe('Platform team, January');
    expect(await trainer.locator('#cohort-window').textContent()).toBe(`${utc(await instant(opens))} – ${utc(await instant(newCloses))}`);
    expect(await trainer.locator('#access-code').textContent()).toBe(code);
    expect(await trainer.locator(`.board th[data-item="scenario:${SECOND}"]`).count()).toBe(1);
    expect(await trainer.locator(`.board th[data-item="scenario:${FIRST}"]`).count()).toBe(0);
    // The saved values are the form's again.
    expect(await trainer.locator('#edit-cohort #cohort-closes').inputValue()).toBe(newCloses);
    expect(await trainer.locator(`#edit-cohort input[name=scenarios][value="${SECOND}"]`).isChecked()).toBe(true);
  });

  it('a member is removed from the board after a confirmation, and may join again', async () => {
    const join = async () => {
      await learner.goto(`${base}/join`);
      await learner.fill('#join-code', code);
      await learner.fill('#join-name', 'Grace');
      await learner.click('#join-form button[type=submit]');
      await learner.waitForURL(/\/cohorts\/c[0-9a-f]{12}$/);
    };
    await join();
    // The learner's page has the edited assignment.
    expect(await learner.locator('.cohort-item').evaluateAll((els) => els.map((e) => e.getAttribute('data-item')))).toEqual([`scenario:${SECOND}`]);
    const learnerPage = learner.url();

    // Her row, with its button, comes in by the polling: the page was drawn before she joined.
    const row = trainer.locator('tr[data-member="Grace"]');
    await expect.poll(() => row.count(), { timeout: 15_000 }).toBe(1);
    const ask = trainer.locator('#remove-member');
    await row.locator('[data-remove]').click();
    expect(await ask.isVisible()).toBe(true);
    expect(await ask.locator('[data-who]').textContent()).toBe('Grace');
    await ask.locator('[data-cancel]').click();
    expect(await ask.isVisible()).toBe(false);
    expect(await row.count()).toBe(1);

    await row.locator('[data-remove]').click();
    await ask.locator('[data-confirm]').click();
    await expect.poll(() => trainer.locator('.board').textContent(), { timeout: 15_000 }).toContain('Nobody has joined yet');
    expect(await ask.isVisible()).toBe(false);
    expect((await learner.goto(learnerPage))!.status()).toBe(404);

    await join();
    await expect.poll(() => row.count(), { timeout: 15_000 }).toBe(1);
  });

  it('the cohort is deleted once its name is typed again; its code then joins nothing', async () => {
    const id = cohortUrl.split('/').pop()!;
    await trainer.click('#delete > summary');
    const button = trainer.locator('#delete-cohort-button');
    expect(await button.isDisabled()).toBe(true);
    await trainer.fill('#delete-confirm', 'Platform team');
    expect(await button.isDisabled()).toBe(true);
    await trainer.fill('#delete-confirm', 'Platform team, January');
    expect(await button.isDisabled()).toBe(false);
    await button.click();
    await trainer.waitForURL(`${base}/trainer/cohorts`);
    expect(await trainer.locator(`tr[data-cohort="${id}"]`).count()).toBe(0);
    expect((await trainer.goto(cohortUrl))!.status()).toBe(404);

    await learner.goto(`${base}/join`);
    await learner.fill('#join-code', code);
    await learner.fill('#join-name', 'Grace');
    await learner.click('#join-form button[type=submit]');
    await expect.poll(() => learner.locator('[data-field="body.code"]').textContent()).toContain(`no cohort has the code "${code}"`);
  });
});
