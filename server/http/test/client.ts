import { TermClient } from '../../terminal/testing.ts';

// A learner for API tests: keeps its cookies like a browser, sends the page's Origin, and sends the
// token from its CSRF cookie on state-changing requests as the page's script does (on trainer routes
// past signing in, the trainer's token from its own cookie, as the trainer pages' script does).

export class Learner {
  private readonly jar = new Map<string, string>();
  /** Leave out the CSRF token (a forged request). */
  withoutToken = false;
  constructor(readonly base: string) {}

  get cookie() { return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; '); }
  set cookie(header: string) {
    this.jar.clear();
    for (const c of header.split('; ').filter(Boolean)) { const i = c.indexOf('='); this.jar.set(c.slice(0, i), c.slice(i + 1)); }
  }

  async call<T = any>(method: string, path: string, body?: unknown, raw?: string): Promise<{ status: number; body: T; headers: Headers }> {
    const changes = method !== 'GET' && method !== 'HEAD';
    // A browser has opened a page (and got its cookies) before it changes anything.
    if (changes && !this.withoutToken && !this.jar.has('netdojo_csrf')) await this.call('GET', '/api/session');
    const headers: Record<string, string> = { origin: this.base };
    if (this.jar.size) headers.cookie = this.cookie;
    const trainerToken = path.startsWith('/api/trainer/') && !/^\/api\/trainer\/login(\/link)?$/.test(path);
    if (changes && !this.withoutToken) headers['x-csrf-token'] = this.jar.get(trainerToken ? 'netdojo_csrf_trainer' : 'netdojo_csrf') ?? '';
    if (body !== undefined || raw !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(this.base + path, { method, headers, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
    for (const set of res.headers.getSetCookie()) {
      const [pair] = set.split(';');
      const i = pair.indexOf('=');
      this.jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
    const text = await res.text();
    let parsed: unknown = text;
    try { parsed = JSON.parse(text); } catch { /* html or empty */ }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  /**
   * A state-changing request answered with server-sent events (a Check): `next()` gives each event
   * as it arrives, null once the stream ended; a JSON answer (an error) is in `json`.
   */
  async events(method: string, path: string): Promise<{ status: number; json?: any; next(): Promise<{ event: string; data: any } | null> }> {
    if (!this.withoutToken && !this.jar.has('netdojo_csrf')) await this.call('GET', '/api/session');
    const headers: Record<string, string> = { origin: this.base, accept: 'text/event-stream', cookie: this.cookie };
    if (!this.withoutToken) headers['x-csrf-token'] = this.jar.get('netdojo_csrf')!;
    const res = await fetch(this.base + path, { method, headers });
    if (!res.headers.get('content-type')?.startsWith('text/event-stream')) {
      const json = await res.json();
      return { status: res.status, json, next: async () => null };
    }
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    return {
      status: res.status,
      async next() {
        for (;;) {
          const end = buf.indexOf('\n\n');
          if (end >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event && data !== undefined) return { event, data: JSON.parse(data) };
            continue;
          }
          const { value, done } = await reader.read();
          if (done) return null;
          buf += value;
        }
      },
    };
  }

  /** Follows the lab's progress events until it is no longer starting; returns the event names seen. */
  async waitReady(id: string): Promise<{ events: string[]; phase: string }> {
    const res = await fetch(`${this.base}/api/labs/${id}/events`, { headers: { cookie: this.cookie } });
    const text = await res.text();
    const events = [...text.matchAll(/^event: (\w+)\ndata: (.*)$/gm)].map((m) => `${m[1]}:${m[2]}`);
    const last = [...text.matchAll(/^event: phase\ndata: (.*)$/gm)].pop();
    return { events, phase: last ? JSON.parse(last[1]).phase : 'unknown' };
  }

  terminal(id: string, target: string, token: string, extra: Partial<ConstructorParameters<typeof TermClient>[0]> = {}) {
    return new TermClient({ url: `${this.base.replace(/^http/, 'ws')}/api/labs/${id}/terminal?target=${encodeURIComponent(target)}`, token, origin: this.base, cookie: this.cookie, ...extra });
  }

  /** A trainer's read-only terminal on a member's lab (their session authorizes it; no lab token). */
  watch(id: string, target: string, extra: Partial<ConstructorParameters<typeof TermClient>[0]> = {}) {
    return new TermClient({ url: `${this.base.replace(/^http/, 'ws')}/api/trainer/labs/${id}/terminal?target=${encodeURIComponent(target)}`, origin: this.base, cookie: this.cookie, ...extra });
  }
}
