import { execFile } from 'node:child_process';
import { chownSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tempHome } from './env.ts';

// The netdojo CLI run as a user runs it: a real process, with its own state directory.

export const NETDOJO_BIN = fileURLToPath(new URL('../../server/netdojo.mjs', import.meta.url));

export interface CliRun { code: number; stdout: string; stderr: string }

/** Who a rootless run is: as root, the CLI drops to nobody (65534); unprivileged, it runs as us. */
export const rootlessUser = (): number | undefined => (process.getuid?.() === 0 ? 65534 : undefined);

/** A state directory of the rootless user's own (see rootlessUser). */
export function rootlessHome(prefix?: string): { dir: string; remove(): void } {
  const home = tempHome(prefix);
  const user = rootlessUser();
  if (user !== undefined) chownSync(home.dir, user, user);
  return home;
}

/**
 * `prefix` runs the CLI under another command (one that sets up its mount namespace, say);
 * `asUser` as that uid (and gid), with no supplementary groups but `groups`.
 */
export function netdojo(home: string, args: string[], opts: { asUser?: number; groups?: number[]; prefix?: string[]; cwd?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  const groups = opts.groups?.length ? `--groups=${opts.groups.join(',')}` : '--clear-groups';
  const argv = [...(opts.prefix ?? []), ...(opts.asUser === undefined ? [process.execPath, NETDOJO_BIN, ...args]
    : ['setpriv', `--reuid=${opts.asUser}`, `--regid=${opts.asUser}`, groups, process.execPath, NETDOJO_BIN, ...args])];
  return new Promise((resolve) => {
    execFile(argv[0], argv.slice(1), { env: { ...process.env, NETDOJO_HOME: home, HOME: home }, cwd: opts.cwd, maxBuffer: 64 << 20, timeout: opts.timeoutMs ?? 600_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}
