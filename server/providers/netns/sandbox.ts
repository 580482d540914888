import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { run, type RunOptions } from '../../util/run.ts';
import type { ExecResult } from '../../lab/types.ts';
import type { Cgroup } from './cgroups.ts';
import { holderPrefix, limitPrefix, type SandboxLimits } from './limits.ts';
import { IDMAP_DIR } from './userns.ts';

// Each lab lives in a sandbox: its own user, network, mount, IPC and PID namespaces. The holder is
// `unshare`; the sandbox's PID 1 is a bash that reaps orphans and dies with the holder
// (--kill-child), and when PID 1 dies the kernel kills every process in the sandbox, which frees
// every namespace and mount inside. So nothing is created in the host's network namespace, /run or
// System V IPC, and a lab cannot outlive its holder. The holder starts in the lab's cgroup, and
// everything that enters the sandbox joins it first (limits.ts), so the lab's limits bound all of
// the lab.
//
// The PID namespace, its /proc and the view (userns.ts: what the lab sees of the host's files, its
// own /tmp and /run) are made first, by a user namespace more privileged than the lab's (root's;
// unprivileged, one of our own around the lab's), and the lab's user, network, mount and IPC
// namespaces inside: so every mount the lab starts with is locked (its root cannot unmount /proc to
// find the host's /proc beneath, nor a tmpfs to find what it hides), and its root, holding no
// capability over the PID namespace, cannot reboot(2) it (which would kill its PID 1).

export interface SandboxHandle {
  holderPid: number;
  /** The holder's start time (/proc/<pid>/stat field 22), so a reused PID is not mistaken for it. */
  holderStart: string;
  /** PID 1 of the sandbox, as seen from outside: what nsenter targets. */
  initPid: number;
  userns: boolean;
  /** As root: the host uid and gid the lab's root is, the first of the lab's range (userns.ts). */
  uidBase?: number;
  /** What enforces the lab's resource limits (absent in labs from before limits, or made without). */
  limits?: SandboxLimits;
  /** Made as above: PID namespace and view outside the lab's user namespace, an IPC namespace of its
   * own (absent in labs from before, which are entered as they were made). */
  layered?: boolean;
}

/** The PATH of everything run in a lab (the lab's own programs go in front of it). */
export const LAB_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Marks the holder's command line with its lab directory, so a holder whose record is lost can
 * still be found, and only by the netdojo whose state directory it belongs to. */
export const HOLDER_MARK = 'netdojo-lab:';

/** The sandbox's PID 1. It starts in the working directory of the server, a directory the view
 * may cover, which /proc/1/cwd would open to the lab: it leaves it first. Without a view, it
 * mounts the sandbox's /run itself. */
const initScript = (ownRun: boolean) => `cd / || exit 1
${ownRun ? 'mount -t tmpfs -o mode=755 tmpfs /run || exit 1\n' : ''}mkdir -p /run/netns || exit 1
echo ready
exec >/dev/null 2>&1 </dev/null
while :; do sleep 3600 & wait $!; done`;

/** A running (not zombie) process's start time (/proc/<pid>/stat field 22); undefined when gone. */
export async function procStartTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, starttime field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' || fields[0] === 'X' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

export async function isAlive(h: Pick<SandboxHandle, 'holderPid' | 'holderStart'>): Promise<boolean> {
  return (await procStartTime(h.holderPid)) === h.holderStart;
}

const pause = () => new Promise((r) => setTimeout(r, 2));

/** How a sandbox maps its ids: root's uid range for the lab, the caller's uid, or none (root as
 * root); `view` is the script that makes what the lab sees of the host's files (userns.ts). */
export type SandboxIds = { range: { base: number; count: number; view: string } } | { caller: true; view?: string } | { none: true; view?: string };

/**
 * Starts a sandbox for the lab in `dir`; resolves once its PID 1 has made its /run/netns.
 */
export async function startSandbox(dir: string, ids: SandboxIds, limits?: SandboxLimits): Promise<SandboxHandle> {
  const outer = ['--mount', '--pid', '--fork', '--kill-child', '--mount-proc', '--propagation', 'private'];
  const inner = ['--net', '--mount', '--ipc', '--propagation', 'private'];
  const view = 'range' in ids ? ids.range.view : ids.view;
  const init = ['bash', '-c', initScript(view === undefined), `${HOLDER_MARK}${dir}`];
  const viewThen = view === undefined ? [] : ['sh', '-c', view, 'view'];
  const argv = 'range' in ids
    // The sandbox's PID 1 becomes the namespace's root (the range's first id) before it runs
    // anything; the maps written by root leave setgroups allowed, so it drops its groups. Until
    // then it runs as our uid 0, which the namespace does not map, and an exec would drop the
    // capabilities it has there: --keep-caps keeps them for setpriv. The kernel clears the
    // parent-death signal (--kill-child) when a process's uids or gids change: setpriv sets it again.
    ? ['unshare', ...outer, ...viewThen,
      'unshare', `--map-users=${ids.range.base},0,${ids.range.count}`, `--map-groups=${ids.range.base},0,${ids.range.count}`, '--keep-caps', ...inner,
      'setpriv', '--reuid=0', '--regid=0', '--clear-groups', '--pdeathsig=keep', '--no-new-privs', ...init]
    : 'caller' in ids
      // Our uid is root in both user namespaces, the view's and the lab's inside it.
      ? ['unshare', '--user', '--map-root-user', ...outer, ...viewThen, 'unshare', '--user', '--map-root-user', ...inner, ...init]
      : ['unshare', '--net', '--ipc', ...outer, ...viewThen, ...init];
  const userns = !('none' in ids);
  // Detached: the lab must survive the CLI process that created it (`netdojo up` exits).
  const [file, ...rest] = [...holderPrefix(limits), ...argv];
  const env = 'range' in ids ? { ...process.env, PATH: `${IDMAP_DIR}:${process.env.PATH ?? LAB_PATH}` } : process.env;
  const child = spawn(file, rest, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  const holderPid = child.pid;
  let stderr = '';
  child.stderr!.on('data', (b) => { stderr += b; });
  const ready = await new Promise<boolean>((resolve) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (line) => resolve(line === 'ready'));
    child.once('exit', () => resolve(false));
    child.once('error', (e) => { stderr += e.message; resolve(false); });
  });
  child.stdout!.destroy();
  child.stderr!.destroy();
  child.unref();
  if (!ready || !holderPid) {
    throw new Error(`could not create the lab sandbox (unshare ${'range' in ids ? `with host uids ${ids.range.base}+` : userns ? 'with a user namespace' : 'as root'}): ${stderr.trim() || 'it exited'}` +
      ('caller' in ids ? '; unprivileged user namespaces must be enabled (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)' : ''));
  }
  const children = (await readFile(`/proc/${holderPid}/task/${holderPid}/children`, 'utf8')).trim().split(/\s+/);
  return {
    holderPid, holderStart: (await procStartTime(holderPid))!, initPid: Number(children[0]), userns,
    ...('range' in ids ? { uidBase: ids.range.base } : {}), ...(limits ? { limits } : {}), layered: true,
  };
}

/** What entering a lab as root takes, kept as the lab's uid until the lab's user namespace gives
 * it its own: joining the lab's namespaces (CAP_SYS_ADMIN, CAP_SYS_CHROOT for its mount namespace)
 * and opening them in /proc/<pid>/ns of a process of another user namespace (CAP_SYS_PTRACE). */
const ENTER_CAPS = '+sys_admin,+sys_chroot,+sys_ptrace';

/**
 * argv prefix that runs a command inside the sandbox, under the lab's limits (in `cgroup`, a
 * container's, when given: `kubectl exec` runs in the container's); empty when this process
 * already is inside.
 */
export function enterPrefix(h: SandboxHandle, inside: boolean, cgroup?: Cgroup): string[] {
  if (inside) return [];
  const namespaces = ['--net', '--mount', ...(h.layered ? ['--ipc'] : []), '--pid'];
  const nsenter = (...opts: string[]) => ['nsenter', '-t', String(h.initPid), ...opts, ...namespaces, '--'];
  // no_new_privs: no exec in the lab gains privileges (setuid and setgid bits, file capabilities are
  // ignored), so a host's setuid program (su, mount) runs as whoever runs it, in the lab's namespaces.
  // Joining a mount namespace makes its root the working directory too: none is the host's.
  let enter: string[];
  if (h.uidBase !== undefined) {
    // As root: our uid 0 is not mapped in the lab's namespace. We become the lab's root (the
    // range's first uid, no groups) first, keeping for nsenter only what joining takes, which the
    // lab's user namespace then replaces with its own. So the process nsenter forks into the lab's
    // PID namespace is the lab's root from its start. (Left to nsenter --user, the switch comes
    // after that fork: for a moment a process of the host's root, with every capability over the
    // lab's user namespace, would stand in the lab, where its root could ptrace(2) it and have it
    // run code as the host's root.)
    enter = ['setpriv', '--no-new-privs', `--reuid=${h.uidBase}`, `--regid=${h.uidBase}`, '--clear-groups', `--inh-caps=${ENTER_CAPS}`, `--ambient-caps=${ENTER_CAPS}`,
      ...nsenter('--user', '--preserve-credentials')];
  } else if (h.userns) {
    // Unprivileged, our own uid is the one mapped to root, so keeping our credentials makes us root
    // inside; letting nsenter switch them fails, as setgroups is denied in such a namespace. The PID
    // namespace is the view's user namespace's (the holder's): we join that one first, which gives
    // us the capabilities over it that joining its PID namespace takes.
    enter = ['setpriv', '--no-new-privs', ...(h.layered ? ['nsenter', '-t', String(h.holderPid), '--user', '--preserve-credentials', '--'] : []),
      ...nsenter('--user', '--preserve-credentials')];
  } else {
    enter = nsenter();
  }
  return [...limitPrefix(h.limits, cgroup), ...enter];
}

export function runIn(h: SandboxHandle, inside: boolean, argv: string[], opts: RunOptions = {}): Promise<ExecResult> {
  const [file, ...args] = [...enterPrefix(h, inside), ...argv];
  return run(file, args, opts);
}

/** Kills the holder and waits until the sandbox's PID 1 is gone: then so is every namespace in it. */
export async function stopSandbox(h: SandboxHandle): Promise<void> {
  if (!(await isAlive(h))) return;
  const initStart = await procStartTime(h.initPid);
  try { process.kill(h.holderPid, 'SIGKILL'); } catch { /* already gone */ }
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && ((await isAlive(h)) || (initStart && (await procStartTime(h.initPid)) === initStart))) await pause();
}

/** Holders running on this host whose lab directory lies in `labsDir`: lab directory → holder PID. */
export async function findHolders(labsDir: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmd = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const args = cmd.split('\0');
    if (args[0] !== 'unshare') continue;
    const dir = args.find((a) => a.startsWith(HOLDER_MARK))?.slice(HOLDER_MARK.length);
    if (dir && dirname(dir) === labsDir) found.set(dir, Number(entry));
  }
  return found;
}
