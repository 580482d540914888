import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../server/http/server.ts';
import { getProvider } from '../../server/providers/index.ts';
import { loadScenario, loadScenarios } from '../../server/scenario/load.ts';
import { pickVariant } from '../../server/scenario/render.ts';
import { COMPETENCIES, TRACKS, byTrackOrder } from '../../server/scenario/tracks.ts';
import { EVALUATE_SHIM, browserMissing, launch } from './browser.ts';
import { formatMeasurements, measureTerminal } from './measure.ts';

// The learner's whole flow in real headless Chromium against the real server, scenarios, netns provider
// and grader: the catalog in tracks; start coredns-down, read the briefing, fix it by typing into the
// terminal, Check, all pass, and "What you learned" points to the next scenario; reload mid-session and
// get the same screen back without replayed input; a flood stays interruptible; terminal upgrades from
// another origin or without the lab's token are refused; progress survives a server restart. Also
// measures the terminal (printed, never asserted).

const home = mkdtempSync(join(tmpdir(), 'netdojo-e2e-'));
process.env.NETDOJO_HOME = home;

async function netnsMissing(): Promise<string | null> {
  const lacks = await (await getProvider('netns')).doctor();
  return lacks.length ? `the netns provider cannot run here: ${lacks.join('; ')}` : null;
}

const missing = browserMissing() ?? await netnsMissing();
if (missing) console.warn(`skipping browser lab tests: ${missing}`);

/** A seed whose variant breaks CoreDNS by scaling it to zero (the fix this test types). */
async function scaledSeed(): Promise<number> {
  const { spec } = await loadScenario('coredns-down');
  for (let seed = 1; seed < 1000; seed++) if (String(pickVariant(spec.variants, seed).mode).startsWith('scaled')) return seed;
  throw new Error('no seed picks the scaled-to-zero variant of coredns-down');
}

/** The real catalog in the order the page shows it, read from the scenarios directory (others add scenarios). */
async function catalogOrder() {
  const specs = (await loadScenarios()).map((s) => s.spec).sort(byTrackOrder);
  const tracks = TRACKS.filter((t) => specs.some((s) => s.track === t.id)).map((t) => ({ track: t.id, cards: specs.filter((s) => s.track === t.id).map((s) => s.id) }));
  return { specs, tracks };
}

describe.skipIf(!!missing)(`learner flow in Chromium${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let srv: RunningServer;
  let port: number;
  let browser: Awaited<ReturnType<typeof launch>>;
  let ctx: BrowserContext;
  let page: Page;
  let labUrl = '';
  const stateDir = join(home, 'server');
  const TARGET = 'default/client-control-plane';

  beforeAll(async () => {
    await import(new URL('../build.mjs', import.meta.url).href); // the page's bundle, from the sources under test
    // One lab made ahead: the first start takes it (as `netdojo serve` keeps some by default).
    srv = await startServer({ host: '127.0.0.1', port: 0, stateDir, warmLabs: 1, log: () => {} });
    port = srv.port;
    browser = await launch();
    ctx = await browser.browser.newContext({ viewport: { width: 1280, height: 800 } });
    await ctx.addInitScript(EVALUATE_SHIM);
    page = await ctx.newPage();
    page.on('pageerror', (e) => console.error('page error:', e.message));
  });

  afterAll(async () => {
    await browser?.close();
    await srv?.close();
    // Closing the server ended every lab it ran, records included.
    expect(existsSync(join(home, 'labs')) ? readdirSync(join(home, 'labs')) : []).toEqual([]);
    rmSync(home, { recursive: true, force: true });
  });

  /** Lines of the active terminal's buffer (the page exposes its terminals for tests and benchmarks). */
  const screen = (target = TARGET) => page.evaluate((t) => {
    const term = (window as unknown as { netdojo: { terminals: Map<string, { term: { buffer: { active: { length: number; getLine(i: number): { translateToString(trim: boolean): string } | undefined } } } }> } })
      .netdojo.terminals.get(t)!.term;
    const b = term.buffer.active;
    const out: string[] = [];
    for (let i = 0; i < b.length; i++) out.push(b.getLine(i)?.translateToString(true) ?? '');
    return out;
  }, target);
  const untilScreen = (pred: (lines: string[]) => boolean, what: string, timeout = 30_000) =>
    expect.poll(async () => pred(await screen().catch(() => [])), { timeout, interval: 100, message: what }).toBe(true);

  /** The catalog's track sections as shown: each track and its cards, a card's mark after a colon. */
  const shownTracks = () => page.locator('section.track').evaluateAll((sections) => sections.map((s) => ({
    track: (s as HTMLElement).dataset.track!,
    cards: [...s.querySelectorAll<HTMLElement>('.card')].map((c) => `${c.dataset.scenario}${c.querySelector('.badge.next') ? `:${c.querySelector('.badge.next')!.textContent}` : ''}`),
  })));

  it('shows the catalog in tracks, in order, with where to start, and its filters', async () => {
    const { specs, tracks } = await catalogOrder();
    await page.goto(`http://127.0.0.1:${port}/`);
    await expect.poll(() => page.locator('.card').count()).toBeGreaterThanOrEqual(4);
    expect(await page.locator('[data-scenario="coredns-down"] h3').textContent()).toMatch(/CoreDNS/);
    // Tracks in the order a newcomer takes them, easier first, the first of each marked for a new learner.
    expect(await shownTracks()).toEqual(tracks.map((t) => ({ track: t.track, cards: t.cards.map((id, i) => (i === 0 ? `${id}:Start here` : id)) })));
    expect(await page.locator('section.track h2').allTextContents()).toEqual(tracks.map((t) => TRACKS.find((x) => x.id === t.track)!.title));
    expect(await page.locator('[data-track="dns"] .track-solved').textContent()).toBe(`0 of ${tracks.find((t) => t.track === 'dns')!.cards.length} solved`);
    const { spec } = await loadScenario('coredns-down');
    expect(await page.locator('[data-scenario="coredns-down"] .competencies li').allTextContents()).toEqual(spec.competencies.map((c) => COMPETENCIES[c]));

    await page.click('a.chip[data-filter="difficulty"]:text("advanced")');
    await page.waitForURL(/difficulty=advanced/);
    const diffs = await page.locator('.card').evaluateAll((cards) => cards.map((c) => (c as HTMLElement).dataset.difficulty));
    expect(diffs.length).toBeGreaterThan(0);
    expect(new Set(diffs)).toEqual(new Set(['advanced']));
    // The track filter keeps the difficulty: DNS's advanced scenarios, if it has any (its first, a beginner's, is not among them).
    await page.click('a.chip[data-filter="track"][data-value="dns"]');
    await page.waitForURL((u) => u.searchParams.get('track') === 'dns' && u.searchParams.get('difficulty') === 'advanced');
    const dnsAdvanced = specs.filter((x) => x.track === 'dns' && x.difficulty === 'advanced').map((x) => x.id);
    expect(await shownTracks()).toEqual(dnsAdvanced.length ? [{ track: 'dns', cards: dnsAdvanced }] : []);
    await page.click('[aria-label="Difficulty"] a.chip:text("All")');
    await page.waitForURL((u) => u.searchParams.get('track') === 'dns' && !u.searchParams.has('difficulty'));
    expect(await shownTracks()).toEqual([{ track: 'dns', cards: tracks.find((t) => t.track === 'dns')!.cards.map((id, i) => (i === 0 ? `${id}:Start here` : id)) }]);
    await page.goto(`http://127.0.0.1:${port}/`);
  });

  it('starts coredns-down from the lab made ahead, shows progress then the briefing and a terminal at a prompt', async () => {
    const seed = await scaledSeed();
    await expect.poll(() => srv.warm!.stats().warm, { timeout: 60_000, message: 'the warm lab made' }).toBe(1);
    // The same request the Start button makes, with a seed so the break (and so the fix) is known.
    const id = await page.evaluate(async (s) => {
      const csrf = document.cookie.split('; ').find((c) => c.startsWith('netdojo_csrf='))!.slice('netdojo_csrf='.length);
      const r = await fetch('/api/labs', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: JSON.stringify({ scenario: 'coredns-down', seed: s }) });
      return (await r.json()).lab.id as string;
    }, seed);
    labUrl = `http://127.0.0.1:${port}/labs/${id}`;
    await expect.poll(() => srv.manager.find(id)?.steps.filter((p) => p.status === 'done').map((p) => p.action)[0], { timeout: 60_000 }).toBe('Taking a lab made ahead');
    await page.goto(labUrl);
    await page.waitForSelector('.brief', { timeout: 60_000 });
    expect(await page.locator('.brief').textContent()).toContain('10.96.0.10');
    await page.waitForFunction((t) => (window as unknown as { netdojo?: { terminals: Map<string, unknown> } }).netdojo?.terminals.has(t), TARGET);
    await untilScreen((l) => l.some((x) => /client-control-plane.*# ?$/.test(x)), 'a prompt in the client pod');
    expect(await page.locator('#term-tabs [role=tab]').count()).toBeGreaterThanOrEqual(4);
    // The strip opens at its start, nodes first, with the active pod tab in view.
    const strip = await page.locator('#term-tabs').evaluate((el) => {
      const on = el.querySelector('[aria-selected="true"]')!.getBoundingClientRect();
      const box = el.getBoundingClientRect();
      return { overflows: el.scrollWidth > el.clientWidth, scrollLeft: el.scrollLeft, activeInView: on.left >= box.left && on.right <= box.right };
    });
    expect(strip).toEqual({ overflows: true, scrollLeft: 0, activeInView: true });
    const pods = (await page.locator('#term-tabs [role=tab]').evaluateAll((bs) => bs.map((b) => (b as HTMLElement).dataset.target!))).filter((t) => t.includes('/'));
    // The learner's pods before the cluster's.
    const ns = pods.map((t) => t.split('/')[0]);
    expect(ns.indexOf('kube-system')).toBe(ns.lastIndexOf('default') + 1);
    // The laptop outside the cluster has a tab of its own.
    expect(await page.locator('#term-tabs [role=tab]').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('laptop')]));
  });

  it('reload mid-session restores the screen without replaying input', async () => {
    await page.locator('.xterm').first().click();
    await page.keyboard.type('echo reload-$((6*7))\n');
    await untilScreen((l) => l.includes('reload-42'), 'the command output');
    await page.reload();
    await page.waitForFunction((t) => (window as unknown as { netdojo?: { terminals: Map<string, unknown> } }).netdojo?.terminals.has(t), TARGET);
    await untilScreen((l) => l.includes('reload-42'), 'the restored screen');
    await page.locator('.xterm').first().click();
    await page.keyboard.type('echo after-$((1+2))\n');
    await untilScreen((l) => l.includes('after-3'), 'a command after the reload');
    const lines = await screen();
    expect(lines.filter((l) => l === 'reload-42')).toHaveLength(1);
    expect(lines.filter((l) => l.includes('echo reload-$((6*7))'))).toHaveLength(1);
  });

  it('copies the selection and pastes from the clipboard with the terminal buttons', async () => {
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: `http://127.0.0.1:${port}` });
    await page.evaluate(() => navigator.clipboard.writeText('echo pasted-$((3*3))'));
    await page.click('.term-foot button:text("Paste")');
    await untilScreen((l) => l.some((x) => x.endsWith('echo pasted-$((3*3))')), 'the pasted text at the prompt');
    await page.locator('.xterm').first().click();
    await page.keyboard.press('Enter');
    await untilScreen((l) => l.includes('pasted-9'), 'the pasted command to run');
    // Select the output line in the terminal, then Copy selection.
    await page.evaluate((t) => {
      const term = (window as unknown as { netdojo: { terminals: Map<string, { term: { buffer: { active: { length: number; getLine(i: number): { translateToString(trim: boolean): string } | undefined } }; select(c: number, r: number, n: number): void } }> } }).netdojo.terminals.get(t)!.term;
      const b = term.buffer.active;
      for (let i = b.length - 1; i >= 0; i--) if (b.getLine(i)?.translateToString(true) === 'pasted-9') { term.select(0, i, 8); return; }
    }, TARGET);
    await page.click('.term-foot button:text("Copy selection")');
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe('pasted-9');
  });

  it('a flood (`yes`) stays interruptible with Ctrl-C', async () => {
    await page.keyboard.type('yes\n');
    await expect.poll(() => page.evaluate((t) => (window as unknown as { netdojo: { terminals: Map<string, { parsedBytes: number }> } }).netdojo.terminals.get(t)!.parsedBytes, TARGET),
      { timeout: 30_000 }).toBeGreaterThan(1_000_000);
    await page.keyboard.press('Control+C');
    // The prompt comes back (the flood's lines never end in "#"); keys typed before it race the
    // shell's handling of the signal.
    await untilScreen((l) => /\S+:\S*#\s*$/.test(l.filter(Boolean).at(-1) ?? ''), 'the prompt after Ctrl-C');
    await page.keyboard.type('echo stopped-$((2*4))\n');
    await untilScreen((l) => l.includes('stopped-8'), 'the prompt after Ctrl-C');
  });

  it('refuses terminal upgrades from another origin and without the lab token', async () => {
    const id = labUrl.split('/').pop()!;
    const noToken = await page.evaluate((lab) => new Promise<string>((resolve) => {
      const ws = new WebSocket(`ws://${location.host}/api/labs/${lab}/terminal?target=worker`, ['netdojo.term.v1']);
      ws.onopen = () => resolve('open');
      ws.onclose = (e) => resolve(`closed ${e.code}`);
      setTimeout(() => resolve('no answer in 10 s'), 10_000);
    }), id);
    expect(noToken).toBe('closed 1006');
    // A page from another origin (another port on this machine) that knows the lab's token: the browser
    // sends that page's Origin, and the server refuses it.
    const other = createServer((_q, r) => { r.setHeader('content-type', 'text/html'); r.end('<!doctype html><title>elsewhere</title>'); });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const foreign = await ctx.newPage();
    await foreign.goto(`http://127.0.0.1:${(other.address() as AddressInfo).port}/`);
    const token = await page.locator('main.lab').getAttribute('data-token');
    const cross = await foreign.evaluate(({ lab, token, port }) => new Promise<string>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/api/labs/${lab}/terminal?target=worker`, ['netdojo.term.v1', `auth.${token}`]);
      ws.onopen = () => resolve('open');
      ws.onclose = (e) => resolve(`closed ${e.code}`);
      setTimeout(() => resolve('no answer in 10 s'), 10_000);
    }), { lab: id, token, port });
    expect(cross).toBe('closed 1006');
    await new Promise((r) => other.close(r));
    await foreign.close();
  });

  it('measures the terminal (echo latency, throughput, Ctrl-C) and reports it', async () => {
    const m = await measureTerminal(page, TARGET, { keystrokes: 100, bulkBytes: 10 * 1024 * 1024, timeoutMs: 90_000 });
    console.log(formatMeasurements(m));
    expect(m.echo.samples).toBe(100);
    expect(m.throughput.bytes).toBeGreaterThanOrEqual(10 * 1024 * 1024);
  });

  it('Check on the broken lab shows each check the moment it is final, before the verdict', async () => {
    // What the results pane held when the first check appeared, recorded by the page itself.
    await page.evaluate(() => {
      const w = window as unknown as { firstCheck?: { verdict: string | null; checks: number } };
      const seen = new MutationObserver(() => {
        const li = document.querySelector('[data-live-checks] > li');
        if (!li || w.firstCheck) return;
        w.firstCheck = { verdict: document.querySelector('[data-part="results"] .verdict')?.className ?? null, checks: document.querySelectorAll('[data-live-checks] > li').length };
        seen.disconnect();
      });
      seen.observe(document.body, { childList: true, subtree: true });
    });
    await page.click('#check');
    await page.waitForSelector('#check:not(.busy)', { timeout: 120_000 });
    const first = await page.evaluate(() => (window as unknown as { firstCheck?: { verdict: string | null; checks: number } }).firstCheck);
    // The Service IP check passes on its first attempt, while the lookups by name are still being
    // retried: it was shown under "Checking…", before any verdict.
    expect(first).toMatchObject({ verdict: 'verdict pending' });
    expect(first!.checks).toBeGreaterThanOrEqual(1);
    expect(await page.locator('.verdict').textContent()).toContain('Not fixed yet');
    expect(await page.locator('.check.fail').count()).toBeGreaterThan(0);
    await page.click('[data-side="brief"]');
  });

  it('typing the fix and pressing Check passes every check, and "What you learned" points to the next scenario', async () => {
    const { specs } = await catalogOrder();
    const spec = specs.find((x) => x.id === 'coredns-down')!;
    const next = specs[specs.indexOf(spec) + 1];
    expect(await page.locator('.learned').count()).toBe(0);
    await page.evaluate(() => { (window as unknown as { samePage: boolean }).samePage = true; });
    await page.locator('.xterm').first().click();
    await page.keyboard.type('kubectl -n kube-system scale deployment/coredns --replicas=2 && kubectl -n kube-system rollout status deployment/coredns\n');
    await page.keyboard.type('echo fixed-$((5+5))\n');
    await untilScreen((l) => l.includes('fixed-10'), 'the fix to run');
    await page.click('#check');
    // Busy from the click until the result is on the page.
    await page.waitForSelector('#check:not(.busy)', { timeout: 120_000 });
    const verdict = await page.locator('.verdict').textContent();
    expect(verdict).toContain('All checks pass');
    expect(await page.locator('.check.fail').count()).toBe(0);
    expect(await page.locator('.check.pass').count()).toBeGreaterThan(0);
    expect(await page.locator('.matrix .cell.fail').count()).toBe(0);

    // The panel comes with the passing grade, without a reload, and again after one.
    const learned = async () => {
      await page.locator('.learned').waitFor({ state: 'visible' });
      expect(await page.locator('.learned h2').textContent()).toBe('What you learned');
      expect(await page.locator('.learned .prose').textContent()).toContain(spec.learned);
      expect(await page.locator('.learned .competencies li').allTextContents()).toEqual(spec.competencies.map((c) => COMPETENCIES[c]));
      const link = page.locator('.learned a.next-link');
      expect(await link.getAttribute('href')).toBe(`/#${next.id}`);
      expect(await link.textContent()).toContain(next.title);
      expect(await page.locator('.learned-next').textContent()).toContain(next.track === spec.track ? `Next in ${TRACKS.find((t) => t.id === next.track)!.title}` : 'Next track');
      // The timeline: the fix as it was typed (a command longer than the terminal is wide), where it
      // ran, and the Check that passed after it.
      await page.locator('.learned .timeline summary').click();
      const commands = await page.locator('.learned .timeline-command').allTextContents();
      expect(commands.some((c) => c.includes(TARGET) && c.includes('kubectl -n kube-system scale deployment/coredns --replicas=2 && kubectl -n kube-system rollout status deployment/coredns'))).toBe(true);
      expect(await page.locator('.learned .timeline-grade.timeline-pass').count()).toBeGreaterThan(0);
    };
    await learned();
    expect(await page.evaluate(() => (window as unknown as { samePage?: boolean }).samePage)).toBe(true);
    await page.reload();
    await learned();
    await page.waitForFunction((t) => (window as unknown as { netdojo?: { terminals: Map<string, unknown> } }).netdojo?.terminals.has(t), TARGET);
    // The link leads to that scenario's card in the catalog.
    await page.click('.learned a.next-link');
    await page.waitForURL(`http://127.0.0.1:${port}/#${next.id}`);
    expect(await page.locator(`.card[data-scenario="${next.id}"]`).isVisible()).toBe(true);
    await page.goto(labUrl);
    await page.waitForFunction((t) => (window as unknown as { netdojo?: { terminals: Map<string, unknown> } }).netdojo?.terminals.has(t), TARGET);
  });

  it('Reset brings the lab back broken and the terminal onto a new shell', async () => {
    page.once('dialog', (d) => void d.accept());
    await page.click('#reset');
    await page.waitForSelector('.toast:text("broken again")', { timeout: 60_000 });
    expect(await page.locator('.learned').count()).toBe(0);
    await untilScreen((l) => l.some((x) => x.includes('press Enter for a new shell')) || l.filter((x) => /client-control-plane.*# ?$/.test(x)).length > 0, 'a shell after the reset');
    await page.locator('.xterm').first().click();
    await page.keyboard.type('kubectl -n kube-system get endpoints kube-dns\n');
    await untilScreen((l) => l.some((x) => /^kube-dns\s+<none>/.test(x)), 'kube-dns without endpoints again');
    expect(await page.locator('.task.pass').count()).toBe(0);
  });

  it('keeps progress across a server restart', async () => {
    await srv.close();
    srv = await startServer({ host: '127.0.0.1', port, stateDir, log: () => {} });
    await page.goto(`http://127.0.0.1:${port}/`);
    await expect.poll(() => page.locator('[data-scenario="coredns-down"] .badge.solved').count()).toBe(1);
    // The DNS track counts it and sends the learner on to its next scenario.
    const dns = (await catalogOrder()).tracks.find((t) => t.track === 'dns')!.cards;
    expect(await page.locator('[data-track="dns"] .track-solved').textContent()).toBe(`1 of ${dns.length} solved`);
    // "Next" marks the track's first scenario not solved yet, wherever coredns-down sits in it.
    const next = dns.find((id) => id !== 'coredns-down');
    expect((await shownTracks()).find((t) => t.track === 'dns')!.cards).toEqual(dns.map((id) => (id === next ? `${id}:Next` : id)));
    await page.click('.topnav a:text("Progress")');
    await page.waitForURL(/\/progress$/);
    const row = page.locator('.progress-table tbody tr', { hasText: 'CoreDNS' });
    expect(await row.locator('.badge.solved').count()).toBe(1);
    await page.goto(labUrl);
    expect(await page.locator('h1').textContent()).toMatch(/ended/);
  });

  it('starts a lab from the catalog button, follows provisioning, and stops it', async () => {
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.click('button[data-start="missing-route"]');
    await page.waitForURL(/\/labs\/[a-z0-9]+/);
    await page.waitForSelector('.brief', { timeout: 60_000 });
    await expect.poll(() => page.locator('#term-tabs [aria-selected="true"]').count()).toBe(1);
    expect(await page.locator('#check').isDisabled()).toBe(false);
    const id = new URL(page.url()).pathname.split('/').pop()!;
    expect(existsSync(join(home, 'labs', id))).toBe(true);
    page.once('dialog', (d) => void d.accept());
    await page.click('#stop');
    await page.waitForURL(`http://127.0.0.1:${port}/`);
    expect(await page.locator('.running-lab').count()).toBe(0);
    // Stopped through the lab session: the lab and its records are gone.
    expect(existsSync(join(home, 'labs', id))).toBe(false);
  });

  it('tells the learner when the server ends an open lab (time limit)', async () => {
    await page.click('button[data-start="missing-route"]');
    await page.waitForURL(/\/labs\/[a-z0-9]+/);
    await page.waitForSelector('.brief', { timeout: 60_000 });
    await expect.poll(() => page.locator('#term-tabs [data-status="connected"]').count(), { timeout: 30_000 }).toBe(1);
    const id = new URL(page.url()).pathname.split('/').pop()!;
    await srv.manager.end(srv.manager.find(id)!, 'time limit reached');
    await page.waitForSelector('#provision:not([hidden])');
    expect(await page.locator('#provision-title').textContent()).toBe('This lab has ended');
    expect(await page.locator('#provision-error').textContent()).toContain('time limit reached');
    expect(await page.locator('#check').isDisabled()).toBe(true);
  });
});
