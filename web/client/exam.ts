import './exam.css';
import { $, api, streamCheck, toast } from './dom.ts';
import { TerminalTabs, type TabsLab } from './tabs.ts';

// The exam attempt's page in the browser (the list's start buttons are start.ts'): the task
// list (flags, status), the current task's briefing, Check and terminals (switching tasks switches
// the terminals to that task's cluster), a notepad and flags kept in this browser, and a timer that
// counts down to the server's deadline, warns at 15 and 5 minutes and, at zero, waits for the
// server's grading and shows the result.

interface ClientTask { n: number; title: string; lab: (TabsLab & { phase: string }) | null }
interface ClientAttempt { id: string; deadline: number; status: string; tasks: ClientTask[] }
interface AttemptJson { attempt: { status: string; tasks: { n: number; phase: string; lab: { steps: { action: string; status: string }[]; error: string | null } | null }[] } }

const WARN_MINUTES = [5, 15];

export function exam() {
  attemptPage($('main.exam')!);
}

const clock = (seconds: number) => {
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
  return `${h ? `${h}:${String(m).padStart(2, '0')}` : m}:${String(s).padStart(2, '0')}`;
};

function attemptPage(root: HTMLElement) {
  const c = JSON.parse(root.dataset.client!) as ClientAttempt;
  const key = (what: string) => `netdojo.exam.${c.id}.${what}`;
  const provision = $('#provision')!;
  const term = new TerminalTabs({
    tabs: $('#term-tabs')!, stage: $('#term-stage')!, status: $('#term-status')!,
    onLabEnded: () => void timeUp('The exam has ended: grading every task…'),
  });
  term.clipboardButtons($('.term-foot')!);
  let current = 0;
  let over = false;

  // Notepad and flags: this browser's, per attempt.
  const pad = $<HTMLTextAreaElement>('#notepad')!;
  pad.value = localStorage.getItem(key('notes')) ?? '';
  pad.addEventListener('input', () => localStorage.setItem(key('notes'), pad.value));
  const flags = new Set<number>(JSON.parse(localStorage.getItem(key('flags')) ?? '[]') as number[]);
  const showFlags = () => {
    for (const b of document.querySelectorAll<HTMLElement>('[data-flag]')) {
      const on = flags.has(Number(b.dataset.flag));
      b.setAttribute('aria-pressed', String(on));
      b.closest('.exam-task')?.classList.toggle('flagged', on);
    }
  };
  showFlags();

  function select(n: number) {
    const t = c.tasks.find((x) => x.n === n) ?? c.tasks[0];
    current = t.n;
    for (const li of document.querySelectorAll<HTMLElement>('.exam-task')) li.toggleAttribute('aria-current', Number(li.dataset.task) === t.n);
    for (const p of document.querySelectorAll<HTMLElement>('[data-pane-task]')) p.hidden = Number(p.dataset.paneTask) !== t.n;
    if (t.lab && t.lab.phase === 'ready') {
      provision.hidden = true;
      term.show(t.lab);
    } else {
      term.clear(`task ${t.n}: no terminal`);
      $('#provision-title')!.textContent = t.lab?.phase === 'starting' ? `Task ${t.n}'s cluster is starting…` : `Task ${t.n} has no running cluster`;
      provision.hidden = false;
    }
    history.replaceState(null, '', `#task-${t.n}`);
    if (!over) void api('POST', `/api/attempts/${c.id}/tasks/${t.n}/focus`).catch(() => {});
  }

  document.addEventListener('click', async (e) => {
    const el = e.target as HTMLElement;
    const pick = el.closest<HTMLElement>('[data-pick]');
    if (pick) { select(Number(pick.dataset.pick)); return; }
    const flag = el.closest<HTMLElement>('[data-flag]');
    if (flag) {
      const n = Number(flag.dataset.flag);
      if (!flags.delete(n)) flags.add(n);
      localStorage.setItem(key('flags'), JSON.stringify([...flags]));
      showFlags();
      return;
    }
    const check = el.closest<HTMLButtonElement>('[data-check]');
    if (check) await checkTask(check, Number(check.dataset.check));
  });

  async function checkTask(btn: HTMLButtonElement, n: number) {
    btn.disabled = true;
    btn.classList.add('busy');
    btn.textContent = 'Checking…';
    try {
      const box = document.querySelector<HTMLElement>(`[data-results="${n}"]`);
      await streamCheck(`/api/attempts/${c.id}/tasks/${n}/check`, box);
      const part = await api<{ results?: string; score?: number | null }>('GET', `/attempts/${c.id}/tasks/${n}/parts`);
      if (box && part.results !== undefined) box.innerHTML = part.results;
      const status = document.querySelector<HTMLElement>(`[data-status-of="${n}"]`);
      const weight = document.querySelector<HTMLElement>(`.exam-task[data-task="${n}"] .exam-task-weight`)?.textContent?.replace(/ pts$/, '');
      if (status && part.score !== undefined && part.score !== null) status.textContent = `${part.score} / ${weight}`;
    } catch (x) {
      toast(`Check failed: ${(x as Error).message}`);
    } finally {
      btn.disabled = over;
      btn.classList.remove('busy');
      btn.textContent = `Check task ${n}`;
    }
  }

  // The clock: the server's deadline, counted down here; the server ends the attempt at zero.
  const remaining = $('#remaining')!;
  const timer = $('#exam-timer')!;
  const warning = $('#exam-warning')!;
  let warnedAt = Infinity;
  const tick = () => {
    const left = c.deadline - Date.now();
    remaining.textContent = clock(Math.max(0, Math.ceil(left / 1000)));
    timer.classList.toggle('warn', left <= 15 * 60_000);
    timer.classList.toggle('danger', left <= 5 * 60_000);
    // One warning per threshold crossed; a page opened late shows the nearest one only.
    const due = WARN_MINUTES.find((m) => left <= m * 60_000 && m < warnedAt);
    if (due !== undefined && left > 0) {
      warnedAt = due;
      const at = new Date(c.deadline).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
      warning.textContent = `${due} minutes left: the exam ends at ${at}, and every task is graded as it stands.`;
      warning.dataset.minutes = String(due);
      warning.hidden = false;
      toast(`${due} minutes left`, 'info');
    }
    if (left <= 0) void timeUp('Time is up: grading every task…');
  };

  /** Waits for the server to grade the attempt, then shows the result. */
  async function timeUp(message: string) {
    if (over) return;
    over = true;
    warning.textContent = message;
    warning.dataset.minutes = '0';
    warning.hidden = false;
    for (const b of document.querySelectorAll<HTMLButtonElement>('[data-check], #finish')) b.disabled = true;
    for (;;) {
      const r = await api<AttemptJson>('GET', `/api/attempts/${c.id}`).catch(() => null);
      if (r?.attempt.status === 'finished') { location.assign(`/attempts/${c.id}/result`); return; }
      await new Promise((res) => setTimeout(res, 1000));
    }
  }

  $('#finish')!.addEventListener('click', async () => {
    if (!confirm('Finish the exam now? Every task is graded as it stands and its cluster is stopped.')) return;
    const btn = $<HTMLButtonElement>('#finish')!;
    btn.disabled = true;
    btn.classList.add('busy');
    btn.textContent = 'Grading…';
    over = true;
    try {
      await api('POST', `/api/attempts/${c.id}/finish`);
      location.assign(`/attempts/${c.id}/result`);
    } catch (x) {
      toast((x as Error).message);
      over = false;
      btn.disabled = false;
      btn.classList.remove('busy');
      btn.textContent = 'Finish the exam';
    }
  });

  // While the task clusters come up: their progress, then the page again with every briefing.
  async function follow() {
    const steps = $('#steps')!;
    $('#provision-title')!.textContent = 'Preparing the task clusters…';
    provision.hidden = false;
    for (;;) {
      const r = await api<AttemptJson>('GET', `/api/attempts/${c.id}`).catch(() => null);
      if (r) {
        steps.textContent = '';
        for (const t of r.attempt.tasks) {
          const li = document.createElement('li');
          li.className = `step ${t.phase === 'ready' ? 'done' : t.phase === 'starting' ? 'start' : 'fail'}`;
          const last = t.lab?.steps.at(-1);
          li.textContent = `Task ${t.n}: ${t.phase}${t.phase === 'starting' && last ? ` — ${last.action}` : ''}${t.lab?.error ? ` — ${t.lab.error}` : ''}`;
          steps.append(li);
        }
        if (r.attempt.status !== 'starting') { location.reload(); return; }
      }
      await new Promise((res) => setTimeout(res, 500));
    }
  }

  tick();
  setInterval(tick, 1000);
  window.netdojo = {
    get terminals() { return term.terminals; },
    open: (t) => term.activate(t),
    get lab() { return c.tasks.find((x) => x.n === current)?.lab?.id ?? ''; },
    get task() { return current; },
  };
  if (c.status === 'starting') void follow();
  else select(Number(/^#task-(\d+)$/.exec(location.hash)?.[1] ?? 1));
  if (c.status === 'finishing') void timeUp('The exam has ended: grading every task…');
}
