import { spawn } from 'node:child_process';
import type { ExecResult } from '../lab/types.ts';

export interface RunOptions {
  timeoutMs?: number;
  stdin?: string;
  env?: NodeJS.ProcessEnv;
  /** Output beyond this many bytes per stream is dropped (a runaway probe must not eat memory). */
  maxBytes?: number;
}

const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;

// execa kills only the direct child; a command entered into a lab's namespaces runs as a grandchild
// (nsenter forks into the PID namespace), so a timeout must kill the whole process group.
export function run(file: string, args: string[], opts: RunOptions = {}): Promise<ExecResult> {
  const started = performance.now();
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  return new Promise((resolve) => {
    const child = spawn(file, args, { detached: true, stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let timedOut = false;
    let spawnError: Error | undefined;
    child.stdout.on('data', (b: Buffer) => { if (outLen < maxBytes) { out.push(b); outLen += b.length; } });
    child.stderr.on('data', (b: Buffer) => { if (errLen < maxBytes) { err.push(b); errLen += b.length; } });
    const killGroup = () => { try { if (child.pid) process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ } };
    const timer = opts.timeoutMs ? setTimeout(() => { timedOut = true; killGroup(); }, opts.timeoutMs) : undefined;
    child.on('error', (e) => { spawnError = e; });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      // Leftover members of the group (a daemon a step forgot to detach) must not outlive the call.
      if (timedOut) killGroup();
      resolve({
        code: spawnError ? 127 : timedOut ? null : code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: spawnError ? `${file}: ${spawnError.message}` : Buffer.concat(err).toString('utf8'),
        timedOut,
        ms: Math.round(performance.now() - started),
      });
    });
    child.stdin.on('error', () => { /* the command may exit before reading its input */ });
    child.stdin.end(opts.stdin ?? '');
  });
}

/** Runs and throws with the command's own words when it fails: for setup steps that must succeed. */
export async function runOrThrow(file: string, args: string[], opts: RunOptions = {}, what = `${file} ${args.join(' ')}`): Promise<ExecResult> {
  const r = await run(file, args, opts);
  if (r.code !== 0) {
    const why = r.timedOut ? `timed out after ${opts.timeoutMs} ms` : `exit ${r.code}`;
    throw new Error(`${what}: ${why}${r.stderr.trim() ? `: ${r.stderr.trim().slice(-2000)}` : ''}`);
  }
  return r;
}
