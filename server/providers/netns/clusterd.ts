import { spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labDir, stateDir } from '../../lab/naming.ts';
import { readRecord } from '../../lab/records.ts';
import { LabError } from '../../lab/types.ts';
import type { Settledness } from '../../cluster/settled.ts';
import { labHandle } from './handle.ts';
import { isAlive } from './sandbox.ts';

// The cluster host: one process per state directory that serves every netns lab's Kubernetes API
// and runs its controllers, so a lab costs a few MiB of heap rather than a Node.js process of its
// own. It starts on demand (the first `netdojo up`, or the server), outlives the command that
// started it, drops a lab when the lab's sandbox goes, and exits when it has hosted no lab for a
// while. Commands talk to it over HTTP on a unix socket in the state directory.
//
// One lab's failure stays that lab's: every request and reconcile runs in its own try/catch, and
// an error that escapes anyway is logged, not fatal.

const CLI = fileURLToPath(new URL('../../netdojo.mjs', import.meta.url));
export const socketPath = () => join(stateDir(), 'clusterd.sock');
const IDLE_EXIT_MS = 30_000;

export interface HostedLab { id: string; port: number; ms: number }

/** What the daemon needs from a lab implementation; the netns cluster wiring provides it. */
export interface LabHost {
  start(id: string): Promise<HostedLab>;
  stop(id: string): Promise<void>;
  ids(): string[];
  /** Whether a lab's cluster has stopped moving; undefined for a lab this host does not serve. */
  settled(id: string): Settledness | undefined;
  /** Labs to serve again at start: those a host before this one served (it crashed, or was killed). */
  resumable(): Promise<string[]>;
}

function send(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

const lockPath = () => join(stateDir(), 'clusterd.lock');
const supervisorPath = () => join(stateDir(), 'clusterd.supervisor');

/** Whether a PID is a live process of ours running `what` (a PID file can outlive its process). */
function runs(pid: number, what: string): boolean {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(what); } catch { return false; }
}

/** The one cluster host of this state directory: an exclusive lock file holding its PID. */
function takeLock(): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockPath(), String(process.pid), { flag: 'wx' });
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(readFileSync(lockPath(), 'utf8'));
      if (holder && holder !== process.pid && runs(holder, '__clusterd')) return false;
      rmSync(lockPath(), { force: true });
    }
  }
  return false;
}

/** Runs the daemon in this process until it has been idle for a while. */
export async function serveClusterd(host: LabHost): Promise<void> {
  const path = socketPath();
  // A state directory that is gone has nothing to serve; another host already serving it wins.
  if (!existsSync(stateDir()) || !takeLock()) return;
  process.on('uncaughtException', (e) => console.error(`clusterd: uncaught: ${e.stack ?? e}`));
  process.on('unhandledRejection', (e) => console.error(`clusterd: unhandled rejection: ${(e as Error)?.stack ?? e}`));
  let idleSince = Date.now();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      try {
        const m = /^\/labs\/([a-z0-9]+)$/.exec(req.url ?? '');
        if (req.method === 'GET' && req.url === '/labs') return send(res, 200, { labs: host.ids() });
        const settled = /^\/labs\/([a-z0-9]+)\/settled$/.exec(req.url ?? '');
        if (req.method === 'GET' && settled) {
          const s = host.settled(settled[1]);
          return s ? send(res, 200, s) : send(res, 404, { error: `lab ${settled[1]} is not served here` });
        }
        if (!m) return send(res, 404, { error: `no such endpoint ${req.method} ${req.url}` });
        if (req.method === 'POST') return send(res, 200, await host.start(m[1]));
        if (req.method === 'DELETE') { await host.stop(m[1]); return send(res, 200, { ok: true }); }
        send(res, 405, { error: 'method not allowed' });
      } catch (e) {
        send(res, 500, { error: (e as Error).message });
      }
    })();
  });
  // A socket left by a host that died is removed (the lock says no other host is alive).
  await rm(path, { force: true });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(path, resolve); });
  await writeFile(join(stateDir(), 'clusterd.pid'), String(process.pid));
  for (const id of await host.resumable()) {
    await host.start(id).catch((e) => console.error(`clusterd: could not resume lab ${id}: ${(e as Error).message}`));
  }
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      void (async () => {
        // Labs whose sandbox died are dropped, as a kubelet without a node would be.
        for (const id of host.ids()) {
          const rec = await readRecord(id).catch(() => undefined);
          const alive = rec && await isAlive(labHandle(rec).sandbox).catch(() => false);
          if (!alive) await host.stop(id).catch(() => undefined);
        }
        if (host.ids().length) idleSince = Date.now();
        if (!existsSync(stateDir()) || Date.now() - idleSince > IDLE_EXIT_MS) { clearInterval(timer); server.close(); resolve(); }
      })();
    }, 1000);
  });
  await rm(path, { force: true });
  rmSync(lockPath(), { force: true });
}

function call<T>(method: string, path: string, timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socketPath(), method, path, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        try {
          const v = JSON.parse(body) as T & { error?: string };
          if (res.statusCode !== 200) reject(new LabError(`the cluster host could not ${what}: ${v.error}`));
          else resolve(v);
        } catch (e) { reject(e); }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`the cluster host did not answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

async function ping(): Promise<boolean> {
  try { await call('GET', '/labs', 2000, 'list its labs'); return true; } catch { return false; }
}

/**
 * Makes sure the daemon runs for this state directory, starting it when needed. It runs under a
 * supervisor (one per state directory): a host that crashes, or is killed, is started again and
 * resumes its labs; one that exits because it has been idle (status 0), or whose state directory
 * is gone, is not.
 */
export async function ensureClusterd(): Promise<void> {
  if (await ping()) return;
  await mkdir(stateDir(), { recursive: true, mode: 0o700 });
  const supervisor = Number(await readFile(supervisorPath(), 'utf8').catch(() => '0'));
  if (!(supervisor && runs(supervisor, '__clusterd'))) {
    const log = openSync(join(stateDir(), 'clusterd.log'), 'a');
    const loop = 'echo $$ > "$2"; while [ -d "$3" ]; do "$0" "$1" __clusterd && break; sleep 0.2; done; rm -f "$2"';
    const child = spawn('sh', ['-c', loop, process.execPath, CLI, supervisorPath(), stateDir(), '__clusterd'],
      { detached: true, stdio: ['ignore', log, log], env: process.env });
    child.unref();
  }
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (await ping()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new LabError(`the cluster host did not start (see ${join(stateDir(), 'clusterd.log')})`);
}

export async function hostLab(id: string): Promise<HostedLab> {
  await ensureClusterd();
  return call<HostedLab>('POST', `/labs/${id}`, 60_000, 'start the lab\'s cluster');
}

export async function unhostLab(id: string): Promise<void> {
  if (!(await ping())) return;
  await call('DELETE', `/labs/${id}`, 30_000, 'stop the lab\'s cluster');
}

/** Whether the lab's cluster has stopped moving (cluster/settled.ts), as its host sees it now. */
export function labSettledness(id: string): Promise<Settledness> {
  return call<Settledness>('GET', `/labs/${id}/settled`, 2000, 'say whether the lab\'s cluster has settled');
}

export const apiSocket = (id: string) => join(labDir(id), 'run', 'api.sock');
