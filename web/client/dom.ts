// What every page's script uses: element lookup, the JSON API, toasts.

export interface ApiError { error?: { message?: string } }

export const $ = <T extends HTMLElement = HTMLElement>(sel: string, root: ParentNode = document) => root.querySelector<T>(sel);

/** The learner's token for state-changing requests, from the cookie the server sets beside the id. */
const csrfToken = () => document.cookie.split('; ').find((c) => c.startsWith('netdojo_csrf='))?.slice('netdojo_csrf='.length) ?? '';

export async function api<T>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: { ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...(method === 'GET' ? {} : { 'X-CSRF-Token': csrfToken() }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  if (res.status === 204) return undefined as T;
  const data = (await res.json().catch(() => ({}))) as T & ApiError;
  if (!res.ok) throw new Error(data.error?.message ?? `${res.status} ${res.statusText}`);
  return data;
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
