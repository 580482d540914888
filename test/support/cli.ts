import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The netdojo CLI run as a user runs it: a real process, with its own state directory.

export const NETDOJO_BIN = fileURLToPath(new URL('../../server/netdojo.mjs', import.meta.url));

export interface CliRun { code: number; stdout: string; stderr: string }

/** `prefix` runs the CLI under another command (one that sets up its mount namespace, say). */
export function netdojo(home: string, args: string[], opts: { asUser?: number; prefix?: string[]; timeoutMs?: number } = {}): Promise<CliRun> {
  const argv = [...(opts.prefix ?? []), ...(opts.asUser === undefined ? [process.execPath, NETDOJO_BIN, ...args]
    : ['setpriv', `--reuid=${opts.asUser}`, `--regid=${opts.asUser}`, '--clear-groups', process.execPath, NETDOJO_BIN, ...args])];
  return new Promise((resolve) => {
    execFile(argv[0], argv.slice(1), { env: { ...process.env, NETDOJO_HOME: home, HOME: home }, maxBuffer: 64 << 20, timeout: opts.timeoutMs ?? 600_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}
