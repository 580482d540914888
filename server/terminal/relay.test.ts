import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PtyHost } from './host.ts';
import { attachRelay } from './relay.ts';
import { TermClient } from './testing.ts';
import { CLOSE, FLOW, LIMITS, SUBPROTOCOL } from './protocol.ts';
import WebSocket from 'ws';

// The relay and pty host against a real local shell: no lab needed. The shell is a plain bash with a
// known prompt, which is what lab.shell() returns in spirit (a file, args, env).

const TOKEN = 'tok-123';
let server: Server;
let host: PtyHost;
let base: string;
let origin: string;
let relay: ReturnType<typeof attachRelay>;
let n = 0;
/** The shells' HOME, where bash keeps its history. */
let home: string;
/** Trainers whose watches no longer hold (as a cohort removing its member would make them). */
const revoked = new Set<string>();

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'netdojo-relay-'));
  server = createServer((_req, res) => { res.statusCode = 404; res.end(); });
  host = new PtyHost();
  relay = attachRelay(server, {
    host,
    allowedOrigin: (o) => o === origin,
    authorize: (req, lab, target, token, watch) => {
      // A watcher (uid=trainer, the read-only path) needs no token and gets no shell of its own.
      if (watch) {
        const trainer = /uid=(trainer[\w-]*)/.exec(req.headers.cookie ?? '')?.[1];
        return trainer ? { term: `${lab}:${target}:${process.env.VITEST_POOL_ID}`, readOnly: true, stillAllowed: () => !revoked.has(trainer) } : { status: 401, message: 'no trainer' };
      }
      if (!req.headers.cookie?.includes('uid=alice')) return { status: 401, message: 'no user' };
      if (token !== TOKEN) return { status: 403, message: 'bad token' };
      if (lab !== 'lab1' || !['node-a', 'node-b', 'node-c'].includes(target)) return { status: 404, message: 'no such target' };
      return {
        term: `${lab}:${target}:${process.env.VITEST_POOL_ID}`,
        spec: () => ({ file: 'bash', args: ['--norc', '--noprofile', '-i'], env: { PS1: `[${target}]$ `, HOME: home, PATH: process.env.PATH ?? '/usr/bin:/bin' }, title: target }),
        typed: () => {},
      };
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  base = `ws://127.0.0.1:${port}/api/labs/lab1/terminal`;
  origin = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  relay.close();
  await host.dispose();
  await new Promise((r) => server.close(r));
  rmSync(home, { recursive: true, force: true });
});

const clients: TermClient[] = [];
function client(target = 'node-a', extra: Partial<ConstructorParameters<typeof TermClient>[0]> = {}) {
  const c = new TermClient({ url: `${base}?target=${target}&cols=100&rows=30`, token: TOKEN, origin, cookie: 'uid=alice', ...extra });
  clients.push(c);
  return c;
}

describe('terminal relay', () => {
  it('runs a shell: input goes in, output comes back, the prompt names the target', async () => {
    const c = client('node-b');
    await c.opened();
    await c.untilText(/\[node-b\]\$ $/m);
    c.type('echo $((6*7))\r');
    await c.untilText(/^42$/m);
    await c.close();
  });

  it('reads each command off the screen as the shell took it: edited, completed, recalled; not in full-screen programs or at a password prompt', async () => {
    const seen: string[] = [];
    let wake = () => {};
    const stop = host.onCommand((term, command) => { if (term.startsWith('lab1:node-c:')) { seen.push(command); wake(); } });
    const c = client('node-c');
    await c.opened();
    await c.untilText(/\[node-c\]\$ $/m);
    c.type('echo one-$((1))\r');
    await c.untilText(/^one-1$/m);
    // `clear` erases the screen and the entered line with it: the command is what the line showed
    // (when the erase comes in the same output as the newline, the text last seen before it).
    c.type('clear; echo cleared-$((2))');
    await c.untilTail(/\$ clear; echo cleared-\$\(\(2\)\)$/m);
    c.type('\r');
    await c.untilText(/^cleared-2$/m);
    // Typed "ech", completed by readline, and the line edited before Enter: the screen has "echo two".
    c.type('ech\t');
    await c.untilTail(/\$ echo $/m);
    c.type('twx\x7fo\r');
    await c.untilText(/^two$/m);
    c.type('\x1b[A\r');
    await c.until(() => (c.text().match(/^two$/gm) ?? []).length === 2, 'the recalled command to run');
    const long = `echo ${'x'.repeat(150)}`;
    c.type(`${long}\r`);
    // 150 characters of output on a 100-column screen: a row of 100 and one of 50.
    await c.untilText(/^x{100}\nx{50}$/m);
    c.type("printf '\\e[?1049h'; read -r line; printf '\\e[?1049l'\r");
    await c.until(() => c.term.buffer.active.type === 'alternate', 'the alternate screen');
    c.type('inside-a-full-screen-program # $ \r');
    await c.until(() => c.term.buffer.active.type === 'normal', 'the normal screen again');
    c.type("read -rs -p 'Password: ' pw; echo got-$pw\r");
    await c.untilTail(/Password: $/m);
    c.type('hunter2\r');
    await c.untilText(/got-hunter2/);
    c.type('echo last\r');
    const expected = ['echo one-$((1))', 'clear; echo cleared-$((2))', 'echo two', 'echo two', long, "printf '\\e[?1049h'; read -r line; printf '\\e[?1049l'",
      "read -rs -p 'Password: ' pw; echo got-$pw", 'echo last'];
    await new Promise<void>((resolve) => { wake = () => { if (seen.includes('echo last')) resolve(); }; wake(); });
    stop();
    expect(seen).toEqual(expected);
    await c.close();
  });

  it('keeps a flood interruptible: `yes` then Ctrl-C gives the prompt back', async () => {
    const c = client('node-a');
    await c.opened();
    await c.untilText(/\$ $/m);
    c.type('yes flood\r');
    await c.until(() => c.outputBytes > 4 * FLOW.HIGH_WATERMARK, 'a flood of output');
    c.type('\x03');
    c.type('echo back-$((1+1))\r');
    await c.untilText(/^back-2$/m, 20_000);
    await c.close();
  });

  it('stops sending when the client stops acknowledging (bounded by the high watermark)', async () => {
    const c = client('node-b', { noAck: true });
    await c.opened();
    await c.untilText(/\$ $/m);
    c.type('yes nack\r');
    await c.until(() => c.outputBytes > FLOW.HIGH_WATERMARK, 'output up to the high watermark');
    // Prove the pty is paused: a round trip through the shell (a resize frame is handled in order) and
    // then the byte count stays bounded by the watermark plus one coalesced frame and the pty's buffer.
    const bound = FLOW.HIGH_WATERMARK + LIMITS.OUTPUT_FRAME_MAX + 64 * 1024;
    await new Promise<void>((r) => c.ws.ping(undefined, undefined, () => r()));
    const a = c.outputBytes;
    await new Promise<void>((resolve) => { c.ws.once('pong', () => resolve()); c.ws.ping(); });
    expect(a).toBeLessThanOrEqual(bound);
    expect(c.outputBytes).toBeLessThanOrEqual(bound);
    c.type('\x03');
    await c.close();
  });

  it('restores the screen on reconnect without replaying input', async () => {
    const a = client('node-a');
    await a.opened();
    await a.untilText(/\$ $/m);
    a.type('echo marker-$((20+3))\r');
    await a.untilText(/^marker-23$/m);
    await a.close();

    const b = client('node-a');
    await b.opened();
    await b.until(() => b.snapshots.length === 1, 'a snapshot');
    expect(b.text()).toMatch(/^marker-23$/m);
    // The command ran once: its output appears exactly once and nothing is typed again.
    b.type('echo after\r');
    await b.untilText(/^after$/m);
    expect(b.text().match(/^marker-23$/gm)).toHaveLength(1);
    await b.close();
  });

  it('joins snapshot and live output without gaps or duplicates when attaching mid-stream', async () => {
    const a = client('node-b');
    await a.opened();
    await a.untilText(/\$ $/m);
    a.type('for i in $(seq 1 4000); do echo n$i; done; echo end-$((2+2))\r');
    // Under way and far from done (under 3000 of 4000 lines): on a loaded machine the tail jumps.
    await a.until(() => /^n([1-9]\d{0,2}|[12]\d{3})$/m.test(a.tail()), 'the loop to be under way');
    const b = client('node-b');
    await b.opened();
    await b.untilTail(/^end-4$/m, 30_000);
    // Every line the second client has, snapshot (scrollback) then live, counts up by one.
    const nums = b.text().split('\n').filter((l) => /^n\d+$/.test(l)).map((l) => Number(l.slice(1)));
    expect(nums.length).toBeGreaterThan(500);
    expect(nums[nums.length - 1]).toBe(4000);
    const breaks = nums.slice(1).flatMap((n, i) => (n === nums[i] + 1 ? [] : [`${nums[i]} then ${n}`]));
    expect(breaks).toEqual([]);
    await a.close();
    await b.close();
  });

  it('attaches a watcher read-only: snapshot and live output, but its input and resize frames never reach the shell', async () => {
    const c = client('node-a');
    await c.opened();
    await c.untilText(/\[node-a\]\$ $/m);
    c.type('stty size; echo seen-$((2*3))\r');
    await c.untilText(/^seen-6$/m);
    const w = new TermClient({ url: `${base.replace('/api/labs/', '/api/trainer/labs/')}?target=node-a`, origin, cookie: 'uid=trainer' });
    clients.push(w);
    await w.opened();
    await w.untilText(/^seen-6$/m);
    c.type('echo live-$((3*3))\r');
    await w.untilText(/^live-9$/m);
    w.type('echo typed-by-$((1+1))-watcher\r');
    w.resize(40, 10);
    // Frames of one socket are handled in order: once its close is answered, anything passed on is in.
    await w.close();
    c.type('stty size; echo end-$((4*4))\r');
    await c.untilText(/^end-16$/m);
    expect(c.text()).not.toMatch(/typed-by/);
    const sizes = [...c.text().matchAll(/^(\d+ \d+)$/gm)].map((m) => m[1]);
    expect(sizes).toEqual(['30 100', '30 100']);
    await c.close();
  });

  it('ends a watch whose access ended when asked to recheck, and only that one; the shell carries on', async () => {
    const c = client('node-b');
    await c.opened();
    await c.untilText(/\[node-b\]\$ $/m);
    const watcher = (who: string) => {
      const w = new TermClient({ url: `${base.replace('/api/labs/', '/api/trainer/labs/')}?target=node-b`, origin, cookie: `uid=${who}` });
      clients.push(w);
      return w;
    };
    const [gone, kept] = [watcher('trainer-gone'), watcher('trainer-kept')];
    await Promise.all([gone.opened(), kept.opened()]);
    relay.recheckWatchers();
    revoked.add('trainer-gone');
    relay.recheckWatchers();
    await gone.until(() => gone.closed !== null, 'the revoked watch to close');
    expect(gone.closed).toEqual({ code: CLOSE.REVOKED, reason: 'you may no longer watch this terminal' });
    c.type('echo still-$((5*5))\r');
    await kept.untilText(/^still-25$/m);
    await c.untilText(/^still-25$/m);
    expect(kept.closed).toBeNull();
    await Promise.all([kept.close(), c.close()]);
  });

  it('refuses an upgrade without the cookie, without the token, with a wrong token, or from a foreign Origin', async () => {
    const cases: [Partial<ConstructorParameters<typeof TermClient>[0]>, number][] = [
      [{ cookie: '' }, 401],
      [{ token: undefined }, 403],
      [{ token: 'wrong' }, 403],
      [{ origin: 'http://evil.example' }, 403],
      [{ origin: undefined }, 403],
    ];
    for (const [extra, status] of cases) {
      const c = client('node-a', extra);
      await expect(c.opened()).rejects.toMatchObject({ status });
    }
    const c = client('no-such-node');
    await expect(c.opened()).rejects.toMatchObject({ status: 404 });
  });

  it('closes a connection that sends a malformed or oversized frame, and keeps serving others', async () => {
    const c = client('node-b');
    await c.opened();
    await c.untilText(/\$ $/m);
    c.send(new Uint8Array([0x7f, 1, 2]));
    await c.until(() => c.closed !== null, 'close');
    expect(c.closed?.code).toBe(CLOSE.PROTOCOL);

    const big = client('node-b');
    await big.opened();
    big.send(new Uint8Array(LIMITS.MAX_PAYLOAD + 10));
    await big.until(() => big.closed !== null, 'close');
    expect(big.closed?.code).toBe(1009);

    const ok = client('node-b');
    await ok.opened();
    ok.type('echo still-$((2+2))\r');
    await ok.untilText(/^still-4$/m);
    await ok.close();
  });

  it('applies resize to the shell', async () => {
    const c = client('node-a');
    await c.opened();
    await c.untilText(/\$ $/m);
    c.resize(123, 41);
    c.type('stty size\r');
    await c.untilText(/^41 123$/m);
    await c.close();
  });

  it('resolves a kill once the shell has exited: bash has saved its history; one that ignores SIGHUP is killed', async () => {
    const term = `lab1:node-c:${process.env.VITEST_POOL_ID}`;
    const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    const pidOf = async (c: TermClient) => {
      await c.opened();
      await c.untilText(/\$ $/m);
      c.type('echo pid-$$\r');
      await c.untilText(/^pid-\d+$/m);
      return Number(/^pid-(\d+)$/m.exec(c.text())![1]);
    };
    const a = client('node-c');
    const pid = await pidOf(a);
    await host.kill(term, 'the lab ended');
    expect(alive(pid)).toBe(false);
    // What the lab's teardown can now rely on: nothing is left to write into the shell's directories.
    expect(readFileSync(join(home, '.bash_history'), 'utf8')).toContain('echo pid-$$');
    await a.until(() => a.closed !== null, 'the connection to close');

    const b = client('node-c');
    const stubborn = await pidOf(b);
    b.type("trap '' HUP; echo trapped\r");
    await b.untilText(/^trapped$/m);
    await host.kill(term, 'the lab ended');
    expect(alive(stubborn)).toBe(false);
  });

  it('survives a crash of the pty host: connections close, the next one gets a new shell', async () => {
    const a = client('node-a');
    await a.opened();
    await a.untilText(/\$ $/m);
    const pid = host.pid!;
    process.kill(pid, 'SIGKILL');
    await a.until(() => a.closed !== null, 'the connection to close');
    expect(a.closed?.code).toBe(1011);
    const b = client('node-a');
    await b.opened();
    await b.untilText(/\$ $/m);
    b.type('echo again-$((1+1))\r');
    await b.untilText(/^again-2$/m);
    expect(host.pid).not.toBe(pid);
    await b.close();
  });

  it('closes a connection that stays idle past the limit, with the idle close code', async () => {
    const idleServer = createServer();
    const idleRelay = attachRelay(idleServer, {
      host, idleMs: 300, allowedOrigin: () => true,
      authorize: () => ({ term: `idle:${process.env.VITEST_POOL_ID}`, spec: () => ({ file: 'bash', args: ['--norc', '-i'], env: { PS1: '$ ', PATH: process.env.PATH ?? '/usr/bin:/bin' }, title: 'idle' }), typed: () => {} }),
    });
    await new Promise<void>((r) => idleServer.listen(0, '127.0.0.1', r));
    const c = new TermClient({ url: `ws://127.0.0.1:${(idleServer.address() as AddressInfo).port}/api/labs/lab1/terminal?target=x`, token: TOKEN, origin: 'http://x' });
    await c.opened();
    await c.until(() => c.closed !== null, 'the idle close', 10_000);
    expect(c.closed).toEqual({ code: CLOSE.IDLE, reason: 'idle' });
    idleRelay.close();
    await new Promise((r) => idleServer.close(r));
  });

  it('asks for the subprotocol', async () => {
    const ws = new WebSocket(`${base}?target=node-a`, ['other'], { origin, headers: { cookie: 'uid=alice' } });
    const status = await new Promise<number>((r) => ws.once('unexpected-response', (_q, res) => r(res.statusCode ?? 0)));
    expect(status).toBe(400);
    expect(SUBPROTOCOL).toMatch(/netdojo/);
  });
});
