import { execa } from 'execa';
import type { ExecResult } from '../lab/types.ts';

// One way to run host processes (ip, nsenter, docker, kind, kubectl...). A timeout kills the whole
// process group, not just the direct child: a command entered into a lab runs as a grandchild
// (nsenter forks into the PID namespace) and `bash -c 'sleep 100 | cat'` must not outlive its deadline.

export interface RunOptions {
  timeoutMs?: number;
  stdin?: string;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Output beyond this many bytes per stream ends the command (a runaway probe must not eat memory). */
  maxBytes?: number;
}

const DEFAULT_MAX_BYTES = 16 * 1024 * 1024;

export async function run(file: string, args: string[], opts: RunOptions = {}): Promise<ExecResult> {
  const started = performance.now();
  const child = execa(file, args, {
    input: opts.stdin ?? '',
    // The child's stdin is a socket (how Node makes pipes): at shell level 1, Debian's bash takes
    // that for a remote shell and reads ~/.bashrc (a user's pyenv init, say). A level of at least 1
    // here makes every bash we start level 2 or more, which reads nothing.
    env: { SHLVL: String(Math.max(1, Number(process.env.SHLVL) || 0)), ...opts.env },
    extendEnv: true,
    cwd: opts.cwd,
    reject: false,
    stripFinalNewline: false,
    detached: true,
    cleanup: true,
    encoding: 'utf8',
    maxBuffer: opts.maxBytes ?? DEFAULT_MAX_BYTES,
  });
  let timedOut = false;
  const killGroup = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  const timer = opts.timeoutMs ? setTimeout(() => { timedOut = true; killGroup(); }, opts.timeoutMs) : undefined;
  const r = await child;
  if (timer) clearTimeout(timer);
  // A member of the group left behind (a daemon a step forgot to detach) must not outlive a timeout.
  if (timedOut) killGroup();
  const spawnError = r.failed && r.exitCode === undefined && !r.signal ? (r.cause as Error | undefined)?.message ?? r.message : '';
  return {
    code: timedOut || r.exitCode === undefined ? null : r.exitCode,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? '') + (spawnError && !timedOut ? `${spawnError}\n` : ''),
    timedOut,
    ms: Math.round(performance.now() - started),
  };
}

/** Runs a command that must succeed; returns its stdout, or throws with its own words. */
export async function must(file: string, args: string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(file, args, opts);
  if (r.code !== 0) {
    const why = r.timedOut ? `timed out after ${opts.timeoutMs} ms` : `exit ${r.code}`;
    throw new Error(`${file} ${args.join(' ')}: ${why}: ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  }
  return r.stdout;
}

/** Polls cond until it returns a truthy value; throws the last reason when the deadline passes. */
export async function waitFor<T>(
  what: string,
  cond: () => Promise<T | undefined | false | null>,
  { timeoutMs = 180_000, intervalMs = 1000 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${last ? `: ${(last as Error).message ?? last}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
