import '@xterm/xterm/css/xterm.css';
import './style.css';
import { $, api, streamCheck, toast } from './dom.ts';
import { cohorts } from './cohorts.ts';
import { exam } from './exam.ts';
import { startButtons } from './start.ts';
import { TerminalTabs, type Target } from './tabs.ts';
import type { RelayTerminal } from './terminal.ts';

// The page's behaviour. The server renders the markup (handlebars); this script adds what needs a
// browser: starting labs, provisioning progress, terminals, and re-fetching the server-rendered parts
// after Check, hints, reveal and reset.

declare global {
  interface Window { netdojo?: { terminals: Map<string, RelayTerminal>; open(target: string): RelayTerminal; lab: string; task?: number } }
}

// ---- lab -----------------------------------------------------------------------------------------

function lab(root: HTMLElement) {
  const id = root.dataset.lab!;
  const token = root.dataset.token!;
  const created = Number(root.dataset.created);
  const expires = Number(root.dataset.expires);
  const targets = JSON.parse(root.dataset.targets || '[]') as Target[];
  const check = $<HTMLButtonElement>('#check')!;
  const reset = $<HTMLButtonElement>('#reset')!;
  const term = new TerminalTabs({
    tabs: $('#term-tabs')!, stage: $('#term-stage')!, status: $('#term-status')!,
    onLabEnded: (reason) => labEnded(reason),
    onActivate: (target) => history.replaceState(null, '', `#${encodeURIComponent(target)}`),
  });

  // Timer: time in the lab; shows when the lab will end once that is near.
  const timer = $('#timer')!;
  const tick = () => {
    const s = Math.max(0, Math.floor((Date.now() - created) / 1000));
    const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
    timer.textContent = `${hh ? `${hh}:${String(mm).padStart(2, '0')}` : mm}:${String(ss).padStart(2, '0')}`;
    const left = expires - Date.now();
    timer.parentElement!.classList.toggle('warn', left < 10 * 60 * 1000);
    timer.parentElement!.title = left < 10 * 60 * 1000 ? `This lab ends in ${Math.max(0, Math.ceil(left / 60000))} min` : 'Time in this lab';
  };
  tick();
  setInterval(tick, 1000);

  // Side panel tabs (Briefing / Results).
  const showSide = (name: string) => {
    for (const b of document.querySelectorAll<HTMLElement>('[data-side]')) b.setAttribute('aria-selected', String(b.dataset.side === name));
    for (const p of document.querySelectorAll<HTMLElement>('[data-pane]')) p.hidden = p.dataset.pane !== name;
    const scroller = $('.side-scroll');
    if (scroller) scroller.scrollTop = 0;
  };
  document.addEventListener('click', (e) => {
    const b = (e.target as HTMLElement).closest<HTMLElement>('[data-side]');
    if (b) showSide(b.dataset.side!);
  });

  async function refreshParts() {
    const parts = await api<Record<string, string>>('GET', `/labs/${id}/parts`);
    for (const [name, html] of Object.entries(parts)) {
      const el = document.querySelector<HTMLElement>(`[data-part="${name}"]`);
      if (el) el.innerHTML = html;
    }
  }

  term.clipboardButtons($('.term-foot')!);

  /** The server ended the lab (time limit, idle, stopped elsewhere): say so instead of a dead terminal. */
  function labEnded(reason: string) {
    root.dataset.phase = 'ended';
    check.disabled = true;
    reset.disabled = true;
    $('#provision-title')!.textContent = 'This lab has ended';
    $('#steps')!.textContent = '';
    const e = $('#provision-error')!;
    e.textContent = `Reason: ${reason}. Your progress is saved; start a new lab from the catalog.`;
    e.hidden = false;
    $('#provision-actions')!.hidden = false;
    $('#provision')!.hidden = false;
  }

  function ready() {
    $('#provision')!.hidden = true;
    check.disabled = false;
    reset.disabled = false;
    term.show({ id, token, targets }, decodeURIComponent(location.hash.slice(1)));
  }

  // Provisioning (and reset) progress over server-sent events.
  function follow(onReady: () => void) {
    const provision = $('#provision')!;
    const steps = $('#steps')!;
    provision.hidden = false;
    const es = new EventSource(`/api/labs/${id}/events`);
    const seen = new Map<string, HTMLLIElement>();
    steps.textContent = '';
    es.addEventListener('progress', (ev) => {
      const s = JSON.parse((ev as MessageEvent).data) as { action: string; status: string; ms?: number; error?: string };
      let li = seen.get(s.action);
      if (!li) { li = document.createElement('li'); seen.set(s.action, li); steps.append(li); }
      li.className = `step ${s.status}`;
      li.textContent = s.action;
      if (s.ms !== undefined) { const m = document.createElement('span'); m.className = 'muted'; m.textContent = ` ${s.ms} ms`; li.append(m); }
      if (s.error) { const e = document.createElement('div'); e.className = 'step-error'; e.textContent = s.error; li.append(e); }
    });
    es.addEventListener('phase', (ev) => {
      const p = JSON.parse((ev as MessageEvent).data) as { phase: string; error?: string; endReason?: string };
      root.dataset.phase = p.phase;
      if (p.phase === 'ready') { es.close(); onReady(); }
      else if (p.phase === 'failed' || p.phase === 'ended') {
        es.close();
        $('#provision-title')!.textContent = p.phase === 'failed' ? 'The lab could not start' : 'This lab has ended';
        const e = $('#provision-error')!;
        e.textContent = p.error ?? p.endReason ?? '';
        e.hidden = !e.textContent;
        $('#provision-actions')!.hidden = false;
      }
    });
  }

  const phase = root.dataset.phase;
  if (phase === 'ready') ready();
  else if (phase === 'starting' || phase === 'resetting') follow(() => location.reload());
  else $('#provision-actions')!.hidden = false;

  check.addEventListener('click', async () => {
    check.disabled = true;
    check.classList.add('busy');
    check.textContent = 'Checking…';
    try {
      showSide('results');
      await streamCheck(`/api/labs/${id}/grade`, $('[data-part="results"]'));
      await refreshParts();
      const v = $('.verdict');
      const score = v?.querySelector('span')?.textContent?.split('·')[0]?.trim();
      $('#results-count')!.textContent = score ? ` ${score.replace(/ points/, '')}` : '';
    } catch (e) {
      toast(`Check failed: ${(e as Error).message}`);
    } finally {
      check.disabled = false;
      check.classList.remove('busy');
      check.textContent = 'Check';
    }
  });

  reset.addEventListener('click', async () => {
    if (!confirm('Reset the lab to its broken state? Your shells restart; your progress is kept.')) return;
    reset.disabled = true;
    check.disabled = true;
    try {
      await api('POST', `/api/labs/${id}/reset`);
      await refreshParts();
      showSide('brief');
      term.reconnect();
      toast('The lab is broken again', 'info');
    } catch (e) {
      toast((e as Error).message);
    } finally {
      reset.disabled = false;
      check.disabled = false;
    }
  });

  $('#stop')!.addEventListener('click', async () => {
    if (!confirm('Stop this lab? The cluster is deleted; your progress is kept.')) return;
    try { await api('DELETE', `/api/labs/${id}`); } catch (e) { toast((e as Error).message); return; }
    location.assign('/');
  });

  document.addEventListener('click', async (e) => {
    const el = e.target as HTMLElement;
    if (el.closest('#hint')) {
      try { await api('POST', `/api/labs/${id}/hints`); await refreshParts(); } catch (x) { toast((x as Error).message); }
    } else if (el.closest('#reveal')) {
      if (!confirm('Reveal the solution? This is recorded in your progress.')) return;
      try { await api('POST', `/api/labs/${id}/solution`); await refreshParts(); } catch (x) { toast((x as Error).message); }
    }
  });

  window.netdojo = { get terminals() { return term.terminals; }, open: (t) => term.activate(t), lab: id };
}

const page = document.body.dataset.page;
if (page === 'catalog' || page === 'exams' || page === 'cohort') startButtons();
else if (page === 'lab') lab(document.querySelector<HTMLElement>('main.lab')!);
else if (page === 'exam-attempt') exam();
else if (page) cohorts(page);
