import { TermClient } from '../../terminal/testing.ts';

// A learner for API tests: keeps its cookie like a browser and sends the page's Origin.

export class Learner {
  cookie = '';
  constructor(readonly base: string) {}

  async call<T = any>(method: string, path: string, body?: unknown, raw?: string): Promise<{ status: number; body: T; headers: Headers }> {
    const headers: Record<string, string> = { origin: this.base };
    if (this.cookie) headers.cookie = this.cookie;
    if (body !== undefined || raw !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(this.base + path, { method, headers, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) });
    const set = res.headers.get('set-cookie');
    if (set) this.cookie = set.split(';')[0];
    const text = await res.text();
    let parsed: unknown = text;
    try { parsed = JSON.parse(text); } catch { /* html or empty */ }
    return { status: res.status, body: parsed as T, headers: res.headers };
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
}
