import { access, constants, mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { LABS_CGROUP, labCgroupName } from '../../lab/naming.ts';

// Control groups: how the kernel bounds what a group of processes may use. A lab's cgroup holds
// every process of the lab (its sandbox's holder, nodes, pods, shells); its limits bound the whole
// lab, and each container gets a child cgroup with the limits its Pod spec gives it.
//
// Two kernel interfaces, one layout:
// - cgroup v2: one hierarchy (usually /sys/fs/cgroup). A controller works in a cgroup only when its
//   parent lists it in cgroup.subtree_control, and a cgroup other than the root may not both hold
//   processes and give controllers to children (the "no internal processes" rule). So a lab's
//   cgroup holds no process itself: the sandbox's processes live in its `sandbox` child, the
//   containers each in a child of its `kubepods` child. An unprivileged user may manage a subtree delegated to it
//   (owned by its uid: systemd's Delegate=yes); moving a process needs write access to cgroup.procs
//   of the common ancestor of where it is and where it goes, so netdojo must run inside it.
// - cgroup v1: one hierarchy per controller (/sys/fs/cgroup/pids, .../memory, .../cpu or
//   cpu,cpuacct), each with its own tree, and no rule against a cgroup with both processes and
//   children. Nothing delegates v1 to unprivileged users: it takes root. The same layout is made in
//   each hierarchy, and a process joins a cgroup by writing to cgroup.procs in each.
// Writing 0 to cgroup.procs moves the writing process itself (both versions); a process's children
// are born in its cgroup. A user namespace changes none of this: its root may write where the
// files' owner (mapped to it) may, and no more.
//
// Labs' cgroups go under `netdojo/`: in v1 below the cgroup netdojo itself runs in, in each
// hierarchy, so whatever bounds netdojo (a container, a service's MemoryMax) bounds its labs too;
// in v2 below the hierarchy's root when root (the root alone is exempt from the rule above), or,
// unprivileged, below the delegated parent of the cgroup netdojo runs in.

export type Controller = 'pids' | 'memory' | 'cpu';
/** Without these, cgroups do not protect the machine: the lab falls back to rlimits. */
const REQUIRED: readonly Controller[] = ['pids', 'memory'];
const WANTED: readonly Controller[] = ['pids', 'memory', 'cpu'];

/** The child of a lab's cgroup that holds its sandbox's processes: holder, nodes, shells. */
export const SANDBOX_CGROUP = 'sandbox';
/**
 * The child that holds the containers, one cgroup each, as the kubelet's kubepods does: weighed
 * against the sandbox as one (so pods without a CPU request, at Kubernetes' 2 shares, are not
 * starved by a busy shell on a node), and against each other by their requests.
 */
export const PODS_CGROUP = 'kubepods';

/** A cgroup as a directory per controller: in v2 one directory for all, in v1 one per hierarchy. */
export interface Cgroup { version: 1 | 2; dirs: Partial<Record<Controller, string>> }

/** Where labs' cgroups are made on this host: the parent of `netdojo/`, per controller. */
export type CgroupHost = Cgroup;

export type CgroupProbe = { ok: true; host: CgroupHost } | { ok: false; why: string };

/** What the probe reads about this process and host (tests pass their own). */
export interface HostFacts {
  /** /proc/self/mountinfo */
  mountinfo: string;
  /** /proc/self/cgroup */
  selfCgroup: string;
  uid: number;
  /** A v2 cgroup directory to put labs under instead of the one found. */
  v2Parent?: string;
}

export async function hostFacts(v2Parent?: string): Promise<HostFacts> {
  const [mountinfo, selfCgroup] = await Promise.all([readFile('/proc/self/mountinfo', 'utf8'), readFile('/proc/self/cgroup', 'utf8')]);
  return { mountinfo, selfCgroup, uid: process.getuid?.() ?? 0, v2Parent };
}

interface Mount { root: string; point: string; fstype: string; options: string[] }

/** mountinfo lines: "id parent dev root mountpoint opts [optional...] - fstype source superopts". */
function cgroupMounts(mountinfo: string): Mount[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const out: Mount[] = [];
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 0 || !['cgroup', 'cgroup2'].includes(f[sep + 1])) continue;
    out.push({ root: unescape(f[3]), point: unescape(f[4]), fstype: f[sep + 1], options: (f[sep + 3] ?? '').split(',') });
  }
  return out;
}

/** A process's cgroups (/proc/<pid>/cgroup) as directories: the v2 one and the v1 one per controller. */
function cgroupDirs(procCgroup: string, mounts: Mount[]): { v2?: string; v1: Partial<Record<Controller, string>> } {
  const out: { v2?: string; v1: Partial<Record<Controller, string>> } = { v1: {} };
  const under = (m: Mount, path: string) => {
    const rel = relative(m.root, path);
    return rel.startsWith('..') ? undefined : join(m.point, rel);
  };
  for (const line of procCgroup.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') {
      const mount = mounts.find((x) => x.fstype === 'cgroup2');
      if (mount) out.v2 = under(mount, m[3]);
      continue;
    }
    for (const c of m[2].split(',')) {
      if (!WANTED.includes(c as Controller)) continue;
      const mount = mounts.find((x) => x.fstype === 'cgroup' && x.options.includes(c));
      const dir = mount && under(mount, m[3]);
      if (dir) out.v1[c as Controller] = dir;
    }
  }
  return out;
}

const words = (p: string) => readFile(p, 'utf8').then((t) => t.trim().split(/\s+/).filter(Boolean), () => undefined);
const writable = (p: string) => access(p, constants.W_OK).then(() => true, () => false);
const exists = (p: string) => access(p).then(() => true, () => false);

/** Why the v2 cgroup `dir` cannot hold labs, or undefined when it can. */
async function v2Unusable(dir: string): Promise<string | undefined> {
  const available = await words(join(dir, 'cgroup.controllers'));
  if (!available) return `cannot read ${join(dir, 'cgroup.controllers')}`;
  const missing = REQUIRED.filter((c) => !available.includes(c));
  if (missing.length) return `cgroup v2 at ${dir} has no ${missing.join(' or ')} controller to give (on a hybrid host cgroup v1 holds them)`;
  if (!(await writable(dir))) return `cgroup v2 ${dir} is not delegated to this user (not writable)`;
  const enabled = (await words(join(dir, 'cgroup.subtree_control'))) ?? [];
  if (REQUIRED.every((c) => enabled.includes(c))) return undefined;
  if (!(await writable(join(dir, 'cgroup.subtree_control')))) return `cgroup v2 ${dir} does not let this user enable controllers for its children`;
  // The root cgroup has no cgroup.type, and alone may hold processes and give controllers at once.
  const root = !(await exists(join(dir, 'cgroup.type')));
  const procs = (await words(join(dir, 'cgroup.procs'))) ?? [];
  if (!root && procs.length) {
    return `cgroup v2 ${dir} holds processes of its own, so it cannot give controllers to children (the no-internal-processes rule): ` +
      'run netdojo in a leaf below a delegated cgroup (systemd: Delegate=yes and DelegateSubgroup=), or name a delegated cgroup without processes in NETDOJO_CGROUP_PARENT';
  }
  return undefined;
}

/** Where this host lets netdojo make labs' cgroups, or why it does not. */
export async function probeCgroups(f: HostFacts): Promise<CgroupProbe> {
  const mounts = cgroupMounts(f.mountinfo);
  const own = cgroupDirs(f.selfCgroup, mounts);
  const v2mount = mounts.find((m) => m.fstype === 'cgroup2');
  const why: string[] = [];
  if (v2mount) {
    // Root starts from the top it sees; a user from the parent of its own cgroup (it runs in a
    // leaf of the subtree delegated to it).
    const parent = f.v2Parent ?? (f.uid === 0 || own.v2 === v2mount.point ? v2mount.point : own.v2 && dirname(own.v2));
    const bad = parent ? await v2Unusable(parent) : 'this process is in no cgroup v2';
    if (!bad) {
      const available = (await words(join(parent!, 'cgroup.controllers'))) ?? [];
      return { ok: true, host: { version: 2, dirs: Object.fromEntries(WANTED.filter((c) => available.includes(c)).map((c) => [c, parent!])) } };
    }
    why.push(bad);
  }
  if (f.uid !== 0) {
    why.push('cgroup v1 takes root (it is never delegated)');
    return { ok: false, why: why.join('; ') };
  }
  const missing = REQUIRED.filter((c) => !own.v1[c]);
  if (missing.length) {
    why.push(`no cgroup v1 hierarchy for ${missing.join(' and ')}`);
    return { ok: false, why: why.join('; ') };
  }
  return { ok: true, host: { version: 1, dirs: Object.fromEntries(WANTED.filter((c) => own.v1[c]).map((c) => [c, own.v1[c]!])) } };
}

/** What a cgroup's limit files are given. */
export interface CgroupLimits {
  /** Tasks (processes and threads). */
  pids?: number;
  memoryBytes?: number;
  /** A cap on CPU time, in thousandths of a core per period (CFS bandwidth control). */
  cpuQuotaMillis?: number;
  /** Relative weight against siblings when the CPU is contended, in v1 shares (2..262144, 1024 = default). */
  cpuShares?: number;
  /** The same weight as that many siblings of the default weight (v1 1024 shares each, v2 a weight of 100). */
  cpuWeightOf?: number;
  /** v2: an OOM kill takes every process of the cgroup, as the kubelet sets for containers. */
  oomGroup?: boolean;
}

const CFS_PERIOD_US = 100_000;

interface LimitWrite { controller: Controller; file: string; value: string; optional?: boolean }

/** The files and values a cgroup's limits come down to, in the order they must be written. */
export function limitWrites(version: 1 | 2, l: CgroupLimits): LimitWrite[] {
  const w: LimitWrite[] = [];
  // The kernel's smallest CFS quota is 1 ms a period (Kubernetes' MilliCPUToQuota floors there too).
  const quota = l.cpuQuotaMillis ? Math.max(1000, Math.round((l.cpuQuotaMillis * CFS_PERIOD_US) / 1000)) : undefined;
  if (version === 2) {
    if (l.pids !== undefined) w.push({ controller: 'pids', file: 'pids.max', value: String(l.pids) });
    if (l.memoryBytes !== undefined) {
      w.push({ controller: 'memory', file: 'memory.max', value: String(l.memoryBytes) });
      // Swap would only delay the OOM kill the limit means (absent without swap accounting).
      w.push({ controller: 'memory', file: 'memory.swap.max', value: '0', optional: true });
    }
    if (l.oomGroup) w.push({ controller: 'memory', file: 'memory.oom.group', value: '1', optional: true });
    if (quota) w.push({ controller: 'cpu', file: 'cpu.max', value: `${quota} ${CFS_PERIOD_US}` });
    // Kubernetes' CpuSharesToCpuWeight: shares 2..262144 onto weights 1..10000.
    if (l.cpuShares !== undefined) w.push({ controller: 'cpu', file: 'cpu.weight', value: String(Math.floor(1 + ((l.cpuShares - 2) * 9999) / 262142)) });
    if (l.cpuWeightOf !== undefined) w.push({ controller: 'cpu', file: 'cpu.weight', value: String(Math.min(10000, Math.max(1, Math.round(l.cpuWeightOf * 100)))) });
  } else {
    if (l.pids !== undefined) w.push({ controller: 'pids', file: 'pids.max', value: String(l.pids) });
    if (l.memoryBytes !== undefined) {
      w.push({ controller: 'memory', file: 'memory.limit_in_bytes', value: String(l.memoryBytes) });
      // memory+swap, set after memory (it may not be below it); absent without swap accounting.
      w.push({ controller: 'memory', file: 'memory.memsw.limit_in_bytes', value: String(l.memoryBytes), optional: true });
    }
    if (quota) {
      w.push({ controller: 'cpu', file: 'cpu.cfs_period_us', value: String(CFS_PERIOD_US) });
      w.push({ controller: 'cpu', file: 'cpu.cfs_quota_us', value: String(quota) });
    }
    if (l.cpuShares !== undefined) w.push({ controller: 'cpu', file: 'cpu.shares', value: String(l.cpuShares) });
    if (l.cpuWeightOf !== undefined) w.push({ controller: 'cpu', file: 'cpu.shares', value: String(Math.min(262144, Math.max(2, Math.round(l.cpuWeightOf * 1024)))) });
  }
  return w;
}

async function writeLimits(cg: Cgroup, l: CgroupLimits): Promise<void> {
  for (const w of limitWrites(cg.version, l)) {
    const dir = cg.dirs[w.controller];
    if (!dir) continue;
    try {
      await writeFile(join(dir, w.file), w.value);
    } catch (e) {
      if (w.optional) continue;
      throw new Error(`cannot set ${join(dir, w.file)} to ${w.value}: ${(e as Error).message}`);
    }
  }
}

const uniqueDirs = (cg: Cgroup) => [...new Set(Object.values(cg.dirs))];

/** v2: lets the children of `dir` use the controllers (a no-op for those already given). */
async function enableControllers(dir: string, controllers: Controller[]): Promise<void> {
  const enabled = (await words(join(dir, 'cgroup.subtree_control'))) ?? [];
  const add = controllers.filter((c) => !enabled.includes(c));
  if (add.length) await writeFile(join(dir, 'cgroup.subtree_control'), add.map((c) => `+${c}`).join(' '));
}

/** A child cgroup of `parent` with limits; in v2 its own children may use the same controllers. */
export async function createCgroup(parent: Cgroup, name: string, l: CgroupLimits, opts: { parentOfChildren?: boolean } = {}): Promise<Cgroup> {
  const cg: Cgroup = { version: parent.version, dirs: Object.fromEntries(Object.entries(parent.dirs).map(([c, d]) => [c, join(d, name)])) };
  for (const d of uniqueDirs(cg)) await mkdir(d, { recursive: true });
  await writeLimits(cg, l);
  if (cg.version === 2 && opts.parentOfChildren) await enableControllers(uniqueDirs(cg)[0], Object.keys(cg.dirs) as Controller[]);
  return cg;
}

/**
 * Makes a lab's cgroup (`netdojo/<id>`, with its `sandbox` and `kubepods` children) with the lab's
 * limits, and `netdojo/` with `all` (what every lab together gets). Another lab's teardown may
 * remove an empty `netdojo/` meanwhile: creating is tried again then.
 */
export async function createLabCgroup(host: CgroupHost, id: string, l: CgroupLimits, all: CgroupLimits = {}): Promise<Cgroup> {
  for (let attempt = 0; ; attempt++) {
    try {
      if (host.version === 2) await enableControllers(uniqueDirs(host)[0], Object.keys(host.dirs) as Controller[]);
      const labs = await createCgroup(host, LABS_CGROUP, all, { parentOfChildren: true });
      const lab = await createCgroup(labs, id, l, { parentOfChildren: true });
      await createCgroup(lab, SANDBOX_CGROUP, {});
      await createCgroup(lab, PODS_CGROUP, {}, { parentOfChildren: true });
      return lab;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw e;
    }
  }
}

export const child = (cg: Cgroup, name: string): Cgroup => ({ version: cg.version, dirs: Object.fromEntries(Object.entries(cg.dirs).map(([c, d]) => [c, join(d, name)])) });

/** The files a process writes 0 to in order to join the cgroup (one per hierarchy). */
export const procsFiles = (cg: Cgroup) => uniqueDirs(cg).map((d) => join(d, 'cgroup.procs'));

/**
 * How many times the kernel's OOM killer killed a process of this cgroup (or its children) for
 * going over its memory limit. v2 counts it in memory.events; v1 in memory.oom_control (since
 * Linux 4.13; memory.failcnt, the times the limit was hit, is not a kill).
 */
export async function oomKills(cg: Cgroup): Promise<number> {
  const dir = cg.dirs.memory;
  if (!dir) return 0;
  const text = await readFile(join(dir, cg.version === 2 ? 'memory.events' : 'memory.oom_control'), 'utf8').catch(() => '');
  return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);
}

/** The memory the kernel charges the cgroup (its processes', page cache, kernel memory): what its limit is held to. */
export async function memoryCharged(cg: Cgroup): Promise<number | undefined> {
  const dir = cg.dirs.memory;
  if (!dir) return undefined;
  const text = await readFile(join(dir, cg.version === 2 ? 'memory.current' : 'memory.usage_in_bytes'), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : Number(text.trim());
}

/** Every process in the cgroup and its descendants (PIDs as this process's PID namespace sees them). */
export async function processesIn(cg: Cgroup): Promise<number[]> {
  const pids = new Set<number>();
  const walk = async (dir: string): Promise<void> => {
    for (const p of (await words(join(dir, 'cgroup.procs'))) ?? []) pids.add(Number(p));
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    await Promise.all(entries.filter((e) => e.isDirectory()).map((e) => walk(join(dir, e.name))));
  };
  await Promise.all(uniqueDirs(cg).map(walk));
  return [...pids];
}

/** SIGKILL to every process of the cgroup and its descendants (v2 has cgroup.kill for that, Linux 5.14+). */
export async function killAll(cg: Cgroup): Promise<void> {
  if (cg.version === 2) {
    const done = await writeFile(join(uniqueDirs(cg)[0], 'cgroup.kill'), '1').then(() => true, () => false);
    if (done) return;
  }
  for (const pid of await processesIn(cg)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
}

const pause = () => new Promise((r) => setTimeout(r, 5));

/**
 * Removes a cgroup and its descendants, killing what still runs there. A cgroup can be removed
 * only once no process is left in it (a killed process leaves when it has exited) and its children
 * are gone: so it is emptied, then removed from the leaves up.
 */
export async function removeCgroup(cg: Cgroup, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await processesIn(cg);
    if (!left.length) break;
    if (Date.now() > deadline) throw new Error(`processes ${left.slice(0, 10).join(', ')} stay in cgroup ${uniqueDirs(cg)[0]}`);
    await killAll(cg);
    await pause();
  }
  const rmTree = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => { if (e.code === 'ENOENT') return null; throw e; });
    if (entries === null) return;
    await Promise.all(entries.filter((e) => e.isDirectory()).map((e) => rmTree(join(dir, e.name))));
    for (;;) {
      try { await rmdir(dir); return; } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return;
        // EBUSY while the last exiting task is still being taken out of it.
        if (code !== 'EBUSY' || Date.now() > deadline) throw new Error(`cannot remove cgroup ${dir}: ${(e as Error).message}`);
        await pause();
      }
    }
  };
  await Promise.all(uniqueDirs(cg).map(rmTree));
}

/** Removes a lab's cgroup, and `netdojo/` when no other lab's is left in it. */
export async function removeLabCgroup(cg: Cgroup): Promise<void> {
  await removeCgroup(cg);
  for (const d of uniqueDirs(cg)) {
    if (basename(dirname(d)) === LABS_CGROUP) await rmdir(dirname(d)).catch(() => undefined);
  }
}

/** The lab cgroup a lab's holder runs in (its `sandbox` child), read from /proc/<pid>/cgroup. */
export async function labCgroupOf(pid: number, mountinfo: string): Promise<Cgroup | undefined> {
  const text = await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '');
  const dirs = cgroupDirs(text, cgroupMounts(mountinfo));
  const isLab = (d: string | undefined) => d && basename(d) === SANDBOX_CGROUP && basename(dirname(dirname(d))) === LABS_CGROUP;
  if (isLab(dirs.v2)) return { version: 2, dirs: Object.fromEntries(WANTED.map((c) => [c, dirname(dirs.v2!)])) };
  const v1 = Object.entries(dirs.v1).filter(([, d]) => isLab(d));
  return v1.length ? { version: 1, dirs: Object.fromEntries(v1.map(([c, d]) => [c, dirname(d)])) } : undefined;
}

/** The directories of lab `id`'s cgroup that exist under `host` (a test's or verify's "nothing left"). */
export async function existingLabCgroup(host: CgroupHost, id: string): Promise<string[]> {
  const dirs = uniqueDirs(host).map((d) => join(d, labCgroupName(id)));
  return (await Promise.all(dirs.map(async (d) => ((await exists(d)) ? d : undefined)))).filter((d): d is string => Boolean(d));
}
