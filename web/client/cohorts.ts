import { $, ApiFailure, api, toast } from './dom.ts';
import { TerminalTabs, type Target } from './tabs.ts';

// Cohorts in the browser. Learners: the join form (a cohort's page has only start buttons:
// start.ts). Trainers: sign-in (password or link), the new-cohort form, the
// dashboard (editing and deleting the cohort, removing members) and a member's lab, both asking for
// their parts again every few seconds, and the learner's terminals, read-only.

/** Shows an API failure in a form: each field's message beside its input, the rest at the bottom. */
function formErrors(form: HTMLElement, e: unknown) {
  for (const el of form.querySelectorAll<HTMLElement>('.field-error, .form-error')) { el.hidden = true; el.textContent = ''; }
  const fields = e instanceof ApiFailure ? e.fields : [];
  let shown = false;
  for (const f of fields) {
    const el = form.querySelector<HTMLElement>(`.field-error[data-field="${CSS.escape(f.path.replace(/\.\d+$/, ''))}"]`);
    if (el) { el.textContent = f.message; el.hidden = false; shown = true; }
  }
  if (!shown) {
    const el = $('.form-error', form)!;
    el.textContent = (e as Error).message;
    el.hidden = false;
  }
}

function onSubmit(form: HTMLFormElement, send: (data: FormData) => Promise<string>) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const button = $<HTMLButtonElement>('button[type=submit]', form)!;
    button.disabled = true;
    try { location.assign(await send(new FormData(form))); } catch (e) { formErrors(form, e); button.disabled = false; }
  });
}

const text = (data: FormData, name: string) => String(data.get(name) ?? '');

function join() {
  onSubmit($<HTMLFormElement>('#join-form')!, async (data) =>
    (await api<{ cohort: { url: string } }>('POST', '/api/cohorts/join', { code: text(data, 'code'), name: text(data, 'name') })).cohort.url);
}

function trainerLogin() {
  onSubmit($<HTMLFormElement>('#trainer-login')!, async (data) => {
    await api('POST', '/api/trainer/login', { name: text(data, 'name'), password: text(data, 'password') });
    return '/trainer/cohorts';
  });
}

function trainerLink() {
  const b = $<HTMLButtonElement>('#link-sign-in')!;
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await api('POST', '/api/trainer/login/link', { token: b.dataset.token });
      location.assign('/trainer/cohorts');
    } catch (e) { formErrors(b.closest('.form')!, e); b.disabled = false; }
  });
}

/** `datetime-local` wants local time without a zone. */
const localInput = (ms: number) => {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
};

/**
 * A cohort's form (partials/cohort-form.hbs) sent as `method` to `url`, then the cohort's dashboard.
 * Its times start as the edited cohort's, or now and a week on, in the browser's local time.
 */
function cohortForm(form: HTMLFormElement, method: 'POST' | 'PATCH', url: string) {
  const now = Date.now();
  const start = (sel: string, fallback: number) => {
    const el = $<HTMLInputElement>(sel, form)!;
    el.value = localInput(el.dataset.at ? Number(el.dataset.at) : fallback);
  };
  start('#cohort-opens', now);
  start('#cohort-closes', now + 7 * 24 * 3600_000);
  // The browser's local time, sent with its zone: the server stores instants.
  const instant = (v: string) => (v ? new Date(v).toISOString() : '');
  onSubmit(form, async (data) => (await api<{ cohort: { url: string } }>(method, url, {
    name: text(data, 'name'), opensAt: instant(text(data, 'opensAt')), closesAt: instant(text(data, 'closesAt')),
    scenarios: data.getAll('scenarios').map(String), exams: data.getAll('exams').map(String),
  })).cohort.url);
}

/** Deleting cannot be undone: the button works once the cohort's name is typed again. */
function deleteCohort(id: string) {
  const box = $('#delete-cohort')!;
  const confirm = $<HTMLInputElement>('#delete-confirm', box)!, button = $<HTMLButtonElement>('#delete-cohort-button', box)!;
  confirm.addEventListener('input', () => { button.disabled = confirm.value.trim() !== confirm.dataset.name; });
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await api('DELETE', `/api/trainer/cohorts/${id}`);
      location.assign('/trainer/cohorts');
    } catch (e) { formErrors(box, e); button.disabled = false; }
  });
}

/**
 * Each member row's "remove" asks first, in a box outside the board: the board is drawn anew every
 * few seconds, so its buttons are found by delegation and the question must not live in it.
 */
function removeMembers(id: string, refresh: () => void) {
  const ask = $('#remove-member')!;
  const confirm = $<HTMLButtonElement>('[data-confirm]', ask)!;
  let who = '';
  $('[data-part="board"]')!.addEventListener('click', (ev) => {
    const b = (ev.target as HTMLElement).closest<HTMLElement>('[data-remove]');
    if (!b) return;
    who = b.dataset.remove!;
    $('[data-who]', ask)!.textContent = who;
    $('.form-error', ask)!.hidden = true;
    ask.hidden = false;
    confirm.focus();
  });
  $('[data-cancel]', ask)!.addEventListener('click', () => { ask.hidden = true; });
  confirm.addEventListener('click', async () => {
    confirm.disabled = true;
    try {
      await api('DELETE', `/api/trainer/cohorts/${id}/members/${encodeURIComponent(who)}`);
      ask.hidden = true;
      toast(`${who} is no longer in the cohort.`, 'info');
      refresh();
    } catch (e) { formErrors(ask, e); }
    confirm.disabled = false;
  });
}

function signOut() {
  $('#sign-out')?.addEventListener('click', async () => {
    await api('POST', '/api/trainer/logout');
    location.assign('/trainer');
  });
}

/**
 * Asks for a page's parts every `ms` and puts each in its `[data-part]`, when it changed. Gives a
 * function that asks at once (after a change the page made).
 */
function poll(url: string, ms: number, also?: (parts: Record<string, unknown>) => void) {
  let failing = false;
  let next: ReturnType<typeof setTimeout>;
  const once = async () => {
    try {
      const parts = await api<Record<string, unknown>>('GET', url);
      for (const [name, html] of Object.entries(parts)) {
        const el = document.querySelector<HTMLElement>(`[data-part="${name}"]`);
        if (el && typeof html === 'string' && el.innerHTML !== html) el.innerHTML = html;
      }
      also?.(parts);
      failing = false;
    } catch (e) {
      if (!failing) toast(`Could not update: ${(e as Error).message}`);
      failing = true;
    }
    // Asking at once may overlap a scheduled round: whichever ends last schedules the next, so one stays.
    clearTimeout(next);
    next = setTimeout(once, ms);
  };
  next = setTimeout(once, ms);
  return once;
}

function dashboard(root: HTMLElement) {
  const id = root.dataset.cohort!;
  const refresh = poll(`/trainer/cohorts/${id}/parts`, Number(root.dataset.poll));
  cohortForm($<HTMLFormElement>('#edit-cohort')!, 'PATCH', `/api/trainer/cohorts/${id}`);
  deleteCohort(id);
  removeMembers(id, refresh);
}

function watch(root: HTMLElement) {
  const id = root.dataset.lab!;
  const term = new TerminalTabs({ tabs: $('#term-tabs')!, stage: $('#term-stage')!, status: $('#term-status')! });
  let shown = '';
  const show = (targets: Target[]) => {
    const key = targets.map((t) => t.target).join(' ');
    if (key === shown) return;
    shown = key;
    $('#no-terminals')!.hidden = targets.length > 0;
    if (targets.length) term.show({ id, token: '', targets, readOnly: true }, term.active || undefined);
    else term.clear();
  };
  show(JSON.parse(root.dataset.targets || '[]') as Target[]);
  poll(`/trainer/cohorts/${root.dataset.cohort}/labs/${id}/parts`, Number(root.dataset.poll), (parts) => {
    $('#watch-phase')!.textContent = String(parts.phase);
    show(parts.targets as Target[]);
  });
  window.netdojo = { get terminals() { return term.terminals; }, open: (t) => term.activate(t), lab: id };
}

export function cohorts(page: string) {
  if (page === 'join') join();
  else if (page === 'trainer-login') trainerLogin();
  else if (page === 'trainer-link') trainerLink();
  else if (page === 'trainer-cohorts') { cohortForm($<HTMLFormElement>('#new-cohort')!, 'POST', '/api/trainer/cohorts'); signOut(); }
  else if (page === 'trainer-cohort') dashboard($('main[data-cohort]')!);
  else if (page === 'trainer-lab') watch($('main.watch')!);
}
