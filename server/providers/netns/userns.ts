import { existsSync, statSync } from 'node:fs';
import { chmod, chown, lchown, lstat, mkdir, readdir, readFile, readlink, symlink, unlink } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LabError } from '../../lab/types.ts';
import { sq } from '../../util/shell.ts';

// When netdojo runs as root, each lab's sandbox is a user namespace whose uids and gids 0..65535
// are a range of host ids of its own (the lab's root is the range's first uid): a learner is root
// over the lab's namespaces and nothing else. Host files are the range's "others": a mapped root's
// CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH count only for inodes whose owner and group are both
// mapped into its namespace (the kernel's capable_wrt_inode_uidgid), so /etc/shadow (0640) is
// unreadable, the checkout unwritable, and a 0700 directory (root's home) cannot even be searched.
// (Unprivileged, a lab maps the caller's own uid to root instead: the caller has no other ids.)
//
// Ranges are the machine's, not a state directory's (and never one /etc/subuid gives a user): a
// claim is a symlink, named by the range's number, to the lab's directory, in /run (emptied at
// boot, as the labs are). symlink(2) fails with EEXIST when another process, of any state
// directory, holds the number: no lock to take. The lab's teardown removes its claim; a claim whose
// lab directory is gone (a lab removed by hand, a crash in the middle of a teardown) goes with the
// next reap of that state directory.

/** Ids per lab: uid and gid 0..65535 inside, so nobody (65534), which dnsmasq and nginx drop to, is mapped. */
export const RANGE = 65536;
const FIRST = 1_000_000;
const RANGES = 4096;
const CLAIMS = '/run/netdojo/uid-ranges';

/** Where unshare finds newuidmap and newgidmap that write the maps as root may (see idmap/newuidmap). */
export const IDMAP_DIR = fileURLToPath(new URL('./idmap', import.meta.url));
const PROJECT = fileURLToPath(new URL('../../..', import.meta.url));

const claimOf = (base: number) => join(CLAIMS, String((base - FIRST) / RANGE));

/** Host ids that /etc/subuid and /etc/subgid give users for user namespaces of their own: [start, end). */
async function delegated(): Promise<[number, number][]> {
  const out: [number, number][] = [];
  for (const f of ['/etc/subuid', '/etc/subgid']) {
    for (const line of (await readFile(f, 'utf8').catch(() => '')).split('\n')) {
      const [, start, count] = line.trim().split(':');
      if (/^\d+$/.test(start ?? '') && /^\d+$/.test(count ?? '')) out.push([Number(start), Number(start) + Number(count)]);
    }
  }
  return out;
}

/** Claims a free range for the lab in `labDir` (none that users were given): the host uid (and gid) its root is. */
export async function claimRange(labDir: string): Promise<number> {
  await mkdir(CLAIMS, { recursive: true, mode: 0o700 });
  const taken = await delegated();
  for (let n = 0; n < RANGES; n++) {
    const base = FIRST + n * RANGE;
    if (taken.some(([start, end]) => start < base + RANGE && base < end)) continue;
    try {
      await symlink(labDir, join(CLAIMS, String(n)));
      return base;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  throw new LabError(`every one of the ${RANGES} uid ranges for labs is taken (claims in ${CLAIMS})`);
}

/** Gives the lab's range back (once its sandbox, and so every process of the range, is gone). */
export async function releaseRange(base: number | undefined, labDir: string): Promise<void> {
  if (base === undefined) return;
  if ((await readlink(claimOf(base)).catch(() => undefined)) === labDir) await unlink(claimOf(base)).catch(() => undefined);
}

/** Gives back the ranges of labs of `labsDir` whose directory is gone. */
export async function releaseOrphanRanges(labsDir: string): Promise<void> {
  for (const n of await readdir(CLAIMS).catch(() => [])) {
    const dir = await readlink(join(CLAIMS, n)).catch(() => undefined);
    if (dir && dirname(dir) === labsDir && !existsSync(dir)) await unlink(join(CLAIMS, n)).catch(() => undefined);
  }
}

/**
 * Hands the lab's directory to its root: every directory in it but `bin/` becomes the range's, setgid
 * (2775), with what it holds. The cluster host, as root outside the sandbox, keeps creating entries
 * there (volumes, logs, sockets, scripts): in a setgid directory a new entry takes the directory's
 * group, and new directories the setgid bit too, and the cluster host's umask leaves them group
 * writable (clusterd.ts), so the lab's root, whose gid is that group, may write them. The directory
 * itself (its record, the cluster's objects) and `bin/` (on the PATH of what the cluster host runs on
 * the host to enter the lab) stay root's: readable by the lab (group), writable by root alone.
 */
export async function handOver(labDir: string, base: number): Promise<void> {
  const own = async (p: string): Promise<void> => {
    const st = await lstat(p);
    await lchown(p, base, base);
    if (!st.isDirectory()) return;
    await chmod(p, 0o2775);
    await Promise.all((await readdir(p)).map((e) => own(join(p, e))));
  };
  await chown(labDir, 0, base);
  await chmod(labDir, 0o750);
  await Promise.all((await readdir(labDir, { withFileTypes: true })).filter((e) => e.isDirectory() && e.name !== 'bin').map((e) => own(join(labDir, e.name))));
}

const under = (p: string, dir: string) => { const r = relative(dir, p); return r === '' || (!r.startsWith('..') && !r.startsWith('/')); };

/** The host's world-writable directories, and /run (its sockets: Docker's, D-Bus's): a lab gets a tmpfs of its own over each. */
const PRIVATE = ['/tmp', '/var/tmp', '/dev/shm', '/run'];

/**
 * What the lab sees of the host's file system: of the state directory its own directory and
 * nothing else, and a /tmp, /var/tmp, /dev/shm and /run of its own. The script runs as the
 * sandbox's PID 1, in a mount namespace made before the lab's user namespace (by root; unprivileged,
 * in a user namespace of its own around the lab's), and mounts a tmpfs over the state directory, or
 * over its topmost ancestor that others may not search (root's home is 0700: a mapped uid could not
 * reach the lab's directory through it); a tmpfs over each of PRIVATE, so what a learner writes to
 * /tmp stays in the lab and the host's sockets in /run are out of sight (/run is `runOwner`'s: as
 * root, the lab's root, which makes /run/netns there); and the lab's directory bound back at its own
 * path, with the checkout read-only when a tmpfs hid it (the lab runs its workloads from it). The
 * mounts of a namespace made by a more privileged user namespace are locked in the lab's: its root
 * cannot unmount them to see what they cover. Returns the script that makes them and then runs the
 * rest of its arguments.
 */
export function viewScript(stateDir: string, labDir: string, runOwner?: number): string {
  const state = resolve(stateDir);
  const parts = state.split('/').filter(Boolean);
  let cover = state;
  for (let i = 1; i <= parts.length; i++) {
    const p = `/${parts.slice(0, i).join('/')}`;
    if ((statSync(p).mode & 0o001) === 0) { cover = p; break; }
  }
  const privates = PRIVATE.filter((d) => existsSync(d));
  // A cover inside another (a state directory below /tmp) is hidden by that one already.
  const covers = [...privates, ...(privates.some((d) => under(cover, d)) ? [] : [cover])];
  const project = resolve(PROJECT);
  const hidden = covers.some((c) => under(project, c));
  const binds = [{ path: labDir, ro: false }, ...(hidden ? [{ path: project, ro: true }] : [])];
  const tmpfs = (p: string, mode = 'mode=755') => `mkdir -p ${sq(p)} && mount -t tmpfs -o ${mode},nosuid,nodev tmpfs ${sq(p)}`;
  const modeOf = (c: string) => c === '/run' ? `mode=755${runOwner === undefined ? '' : `,uid=${runOwner},gid=${runOwner}`}` : privates.includes(c) ? 'mode=1777' : 'mode=755';
  const bind = (path: string, fd: number) => `mkdir -p ${sq(path)} && mount --no-canonicalize --bind /proc/self/fd/${fd} ${sq(path)}`;
  return [
    'set -e',
    // Opened before a tmpfs hides them; bound from /proc/self/fd (as given: no canonicalizing).
    ...binds.map((b, i) => `exec ${3 + i}<${sq(b.path)}`),
    // A bind made read-only keeps the flags of the mount it comes from: in a user namespace those
    // are locked (nosuid, nodev, noexec, atime), and a remount that would drop one is refused.
    ...(hidden ? [`flags=$(findmnt -no VFS-OPTIONS -T ${sq(project)} | sed -E 's/^r[ow](,|$)//')`] : []),
    ...covers.map((c) => tmpfs(c, modeOf(c))),
    ...binds.flatMap((b, i) => [
      bind(b.path, 3 + i),
      ...(b.ro ? [`mount --no-canonicalize -o "remount,bind,ro\${flags:+,$flags}" ${sq(b.path)}`] : []),
      // A checkout holding the state directory (.netdojo/) shows it again: hidden once more, but for the lab's.
      ...(b.ro && under(state, b.path) ? [tmpfs(under(cover, b.path) && cover !== b.path ? cover : state), bind(labDir, 3)] : []),
    ]),
    ...binds.map((_, i) => `exec ${3 + i}<&-`),
    'exec "$@"',
  ].join('\n');
}
