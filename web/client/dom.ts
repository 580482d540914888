// What every page's script uses: element lookup, the JSON API, toasts.

export interface ApiError { error?: { message?: string; fields?: { path: string; message: string }[] } }

/** An API error with the fields it names (a 400's `fields`), for forms to show beside their inputs. */
export class ApiFailure extends Error {
  constructor(message: string, readonly fields: { path: string; message: string }[]) { super(message); }
}

export const $ = <T extends HTMLElement = HTMLElement>(sel: string, root: ParentNode = document) => root.querySelector<T>(sel);

const cookie = (name: string) => document.cookie.split('; ').find((c) => c.startsWith(`${name}=`))?.slice(name.length + 1) ?? '';

/**
 * The token for state-changing requests, from the cookie the server sets beside the id: the learner's,
 * or on trainer routes (past signing in) the trainer's.
 */
const csrfToken = (url: string) => cookie(url.startsWith('/api/trainer/') && !/^\/api\/trainer\/login(\/link)?$/.test(url) ? 'netdojo_csrf_trainer' : 'netdojo_csrf');

function request(method: string, url: string, body?: unknown, accept?: string): Promise<Response> {
  return fetch(url, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...(method === 'GET' ? {} : { 'X-CSRF-Token': csrfToken(url) }),
      ...(accept ? { Accept: accept } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
}

async function json<T>(res: Response): Promise<T> {
  if (res.status === 204) return undefined as T;
  const data = (await res.json().catch(() => ({}))) as T & ApiError;
  if (!res.ok) throw new ApiFailure(data.error?.message ?? `${res.status} ${res.statusText}`, data.error?.fields ?? []);
  return data;
}

export async function api<T>(method: string, url: string, body?: unknown): Promise<T> {
  return json<T>(await request(method, url, body));
}

/**
 * A Check (POST url) read as server-sent events: the results frame is put into `box`, each check's
 * markup appended to its list the moment the check is final; resolves with the final document
 * (the one the JSON answer would be). A Check refused at once comes back as a JSON error.
 */
export async function streamCheck<T>(url: string, box: HTMLElement | null): Promise<T> {
  const res = await request('POST', url, undefined, 'text/event-stream');
  if (!res.headers.get('Content-Type')?.startsWith('text/event-stream')) return json<T>(res);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error('the connection ended before the result');
    buf += value;
    // Events are separated by a blank line; each of ours is one `event:` and one `data:` line.
    for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null') as { html?: string } & ApiError;
      if (event === 'start' && box) box.innerHTML = data.html ?? '';
      else if (event === 'check' && box) {
        $('[data-live-checks]', box)?.insertAdjacentHTML('beforeend', data.html ?? '');
        const count = $('[data-final-count]', box);
        if (count) count.textContent = String(box.querySelectorAll('[data-live-checks] > li').length);
      } else if (event === 'result') return data as T;
      else if (event === 'error') throw new Error(data.error?.message ?? 'the check failed');
    }
  }
}

export function toast(message: string, kind: 'error' | 'info' = 'error') {
  let box = $('#toasts');
  if (!box) {
    box = document.createElement('div');
    box.id = 'toasts';
    box.setAttribute('role', 'status');
    document.body.append(box);
  }
  const t = document.createElement('div');
  t.className = `toast ${kind}`;
  t.textContent = message;
  box.append(t);
  setTimeout(() => t.remove(), 8000);
}

/**
 * Start buttons on a catalog's cards (`button[data-<key>]`): a click starts the thing and goes to its
 * page, the button saying "Starting…" meanwhile; a failure is shown on the card (or as a toast) and
 * the button comes back as it was.
 */
export function onStartButtons(key: string, start: (value: string) => Promise<string>) {
  document.addEventListener('click', async (e) => {
    const btn = (e.target as HTMLElement).closest<HTMLButtonElement>(`button[data-${key}]`);
    if (!btn) return;
    const card = btn.closest('.card');
    const err = card ? $('.card-error', card) : null;
    const label = btn.textContent;
    btn.disabled = true;
    btn.textContent = 'Starting…';
    try {
      location.assign(await start(btn.getAttribute(`data-${key}`) ?? ''));
    } catch (x) {
      btn.disabled = false;
      btn.textContent = label;
      if (err) { err.textContent = (x as Error).message; err.hidden = false; } else toast((x as Error).message);
    }
  });
}
