import { execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { netdojo, rootlessHome, rootlessUser, type CliRun } from '../../../test/support/cli.ts';
import { labsUnavailable, rootlessUnavailable, tempHome } from '../../../test/support/env.ts';
import { newLabId } from '../../lab/naming.ts';
import { baseTopology } from '../../lab/topology.ts';
import { sq } from '../../util/shell.ts';
import { netnsProvider, type NetnsLab } from './index.ts';
import { isAlive, procStartTime, type SandboxHandle } from './sandbox.ts';

// What a curious or hostile learner tries from their shell, on a node and in a pod, with the
// server run as root and as an unprivileged user: each attempt must fail, and the host is checked
// unchanged afterwards from outside the lab. One lab per mode; every attempt is a row below. Most
// are made together, one exec per target, before the rows check what each printed; the others
// (those that run the host's side too, and the reboot, last) run alone in their turn.

const PROJECT = fileURLToPath(new URL('../../..', import.meta.url));
const TARGETS = ['worker', 'default/client-worker'] as const;
const PATH = `${process.env.PATH}:/usr/sbin:/sbin`;
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { env: { ...process.env, PATH } }).status === 0;

/** A lab under attack, whoever runs the server. */
interface Subject {
  id: string;
  state: string;
  dir: string;
  /** The host uid the lab's root is. */
  hostUid: number;
  /** The server's uid, who owns the state directory. */
  serverUid: number;
  /** A supplementary group of the server's user (as a user in the docker group has), if it has one. */
  group?: number;
  sh(target: string, script: string): Promise<{ code: number; out: string; err: string }>;
  /** Runs `argv` in the lab as the server does, in a process of its own that `prefix` wraps on the host. */
  enter(target: string, argv: string[], prefix: string[]): Promise<CliRun>;
  sandbox(): SandboxHandle;
  apiPort(): number;
  destroy(): Promise<void>;
}

/** What the host holds that the lab must not reach, made once the lab is up; `close` removes it. */
interface Host {
  nonce: string;
  secret: string;
  otherLab: string;
  pidNs: string;
  userNs: string;
  bootId: string;
  /** How many mounts of the host's block device there are. */
  mounts?: number;
  /** /etc/shadow's mtime. */
  shadow: number;
  /** The cluster host (the server's process that serves the labs' APIs). */
  serverPid: number;
  tcp: Listener;
  /** Unix sockets: a stand-in for the Docker socket in the host's /run (root and a group of the
   *  server's user, 0660), one of root's alone (0600) in the lab's own directory, another lab's API. */
  docker: Listener;
  rootOnly: Listener;
  otherApi: Listener;
  /** A System V shared memory segment of the host's: its id, and its key as ipcs(1) prints it. Ids
   *  are small numbers counted per IPC namespace, so the lab's own segments take the same ids as the
   *  host's: only the key (random, from ipcmk) names the host's segment inside the lab. */
  shm?: { id: number; key: string };
  sysctls: Record<string, string>;
  /** Helper programs in the lab's directory (python: ptrace, connect, reboot, watch). */
  bin: string;
  close(): Promise<void>;
}

interface Listener { server: Server; path: string; port: number; connections: number }

function listen(where: string | { port: 0; host: string }): Promise<Listener> {
  return new Promise((resolve, reject) => {
    const l: Listener = { server: createServer((s) => { l.connections++; s.destroy(); }), path: typeof where === 'string' ? where : '', port: 0, connections: 0 };
    l.server.once('error', reject);
    const done = () => { const a = l.server.address(); if (a && typeof a === 'object') l.port = a.port; resolve(l); };
    if (typeof where === 'string') l.server.listen(where, done); else l.server.listen(where.port, where.host, done);
  });
}

const closeListener = (l?: Listener) => new Promise<void>((r) => (l ? l.server.close(() => r()) : r()));

/** The lines `name: result` a script prints, by name. */
function results(out: string): Record<string, string> {
  const r: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const i = line.indexOf(': ');
    if (i > 0) r[line.slice(0, i)] = line.slice(i + 2);
  }
  return r;
}

/** Host PIDs of the processes whose command line is `argv`. */
function hostProcesses(argv: string[]): number[] {
  return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).filter((pid) => {
    try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === `${argv.join('\0')}\0`; } catch { return false; }
  }).map(Number);
}

// `try NAME CMD...` runs CMD and prints "NAME: ok", or "NAME: failed: <the error>" (the last part
// of the first line of what it printed on stderr: "Permission denied", "No such process").
const PRELUDE = `try() { n=$1; shift; if e=$("$@" 2>&1 >/dev/null); then echo "$n: ok"; else echo "$n: failed: $(printf '%s\\n' "$e" | head -n1 | sed 's/.*: //')"; fi; }`;

/** Runs an attempt's script in the lab on `target`, with `try` and the helpers' directory ($B). */
const inLab = (lab: Subject, h: Host, target: string, script: string) => lab.sh(target, `${PRELUDE}\nB=${sq(h.bin)}\n${script}`);

const HELPERS: Record<string, string> = {
  'connect.py': `import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except OSError as e:
    sys.exit(e.strerror)
`,
  'attach.py': `import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
PTRACE_ATTACH = 16
if libc.ptrace(PTRACE_ATTACH, int(sys.argv[1]), None, None) != 0:
    sys.exit(os.strerror(ctypes.get_errno()))
`,
  'module.py': `import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(sys.argv[1], os.O_RDONLY)
# finit_module(2): its number on x86-64 and arm64
nr = {"x86_64": 313, "aarch64": 273}[os.uname().machine]
if libc.syscall(nr, fd, b"", 0) != 0:
    sys.exit(os.strerror(ctypes.get_errno()))
`,
  // Refuses unless it runs in a PID and a user namespace other than the host's (argv): in any PID
  // namespace but the machine's, reboot(2) never reaches the machine (the kernel's reboot_pid_ns).
  'reboot.py': `import ctypes, os, sys
if os.readlink("/proc/self/ns/pid") == sys.argv[1] or os.readlink("/proc/self/ns/user") == sys.argv[2]:
    sys.exit("refused: this is the host's PID or user namespace")
libc = ctypes.CDLL(None, use_errno=True)
RB_POWER_OFF = 0x4321FEDC
if libc.reboot(RB_POWER_OFF) != 0:
    sys.exit(os.strerror(ctypes.get_errno()))
`,
  // Prints every process it sees whose command line holds the marker (given reversed, so its own
  // and its shell's do not), with its uid, until the stop file exists.
  'watch.py': `import os, sys, time
marker = sys.argv[1][::-1].encode()
open(sys.argv[2], "w").close()
seen, me, deadline = {}, os.getpid(), time.time() + 60
while not os.path.exists(sys.argv[3]) and time.time() < deadline:
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == me:
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read()
            if marker not in cmd:
                continue
            with open(f"/proc/{p}/status", "rb") as f:
                status = f.read()
        except OSError:
            continue
        uid = status.split(b"\\nUid:\\t", 1)[1].split(b"\\t", 1)[0].decode()
        seen.setdefault((int(p), uid), cmd.split(b"\\0", 1)[0].decode())
    time.sleep(0.005)
for (pid, uid), cmd in sorted(seen.items()):
    print("seen", uid, cmd)
`,
};

/** A block device of the host's (a partition if it has one, else a disk): name, major:minor. */
function blockDevice(): { name: string; dev: string } | undefined {
  const lines = readFileSync('/proc/partitions', 'utf8').trim().split('\n').slice(2).map((l) => l.trim().split(/\s+/));
  const real = lines.filter(([, , , name]) => name && !/^(loop|ram|zram|nbd|sr|md|dm-)/.test(name));
  const pick = real.find(([, , , name]) => /\d$/.test(name) && real.some(([, , , d]) => d !== name && name.startsWith(d))) ?? real[0];
  return pick && existsSync(`/dev/${pick[3]}`) ? { name: pick[3], dev: `${pick[0]}:${pick[1]}` } : undefined;
}

/** How many of the host's mounts are of a device (major:minor). */
const mountsOf = (dev: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[2] === dev).length;

/** The host's System V shared memory segments: id → key (as ipcs(1) prints it, 0x%08x of the signed
 * decimal /proc shows) and owner uid. */
function shmSegments(): Map<number, { key: string; uid: number }> {
  const lines = readFileSync('/proc/sysvipc/shm', 'utf8').trim().split('\n').slice(1);
  return new Map(lines.filter(Boolean).map((l) => {
    const f = l.trim().split(/\s+/);
    return [Number(f[1]), { key: `0x${(Number(f[0]) >>> 0).toString(16).padStart(8, '0')}`, uid: Number(f[7]) }];
  }));
}

const SYSCTLS = ['vm/swappiness', 'vm/overcommit_ratio'];
const readSysctls = () => Object.fromEntries(SYSCTLS.map((k) => [k, readFileSync(`/proc/sys/${k}`, 'utf8').trim()]));

/** A gid no group of the host's has: the group of the server's user that stands in for `docker`. */
function freeGid(): number {
  const taken = new Set(readFileSync('/etc/group', 'utf8').split('\n').map((l) => Number(l.split(':')[2])));
  let gid = 60_000;
  while (taken.has(gid)) gid++;
  return gid;
}

async function makeHost(lab: Subject): Promise<Host> {
  const owner = lab.serverUid;
  const nonce = randomBytes(4).toString('hex');
  const secret = `every learner's progress ${nonce}`;
  // The store, as sqlite leaves it (0644): only what the lab sees of the state directory keeps it.
  writeFileSync(join(lab.state, 'progress.db'), `${secret}\n`, { mode: 0o644 });
  chownSync(join(lab.state, 'progress.db'), owner, owner);
  // Another lab: its record (with its API token) and its API socket.
  const otherLab = newLabId();
  const other = join(lab.state, 'labs', otherLab);
  mkdirSync(join(other, 'run'), { recursive: true });
  writeFileSync(join(other, 'lab.json'), JSON.stringify({ token: `other-${nonce}` }), { mode: 0o600 });
  const otherApi = await listen(join(other, 'run', 'api.sock'));
  for (const p of [other, join(other, 'run'), join(other, 'lab.json'), otherApi.path]) chownSync(p, owner, owner);

  const bin = join(lab.dir, 'run', `escape-${nonce}`);
  mkdirSync(bin, { mode: 0o755 });
  chmodSync(bin, 0o755);
  for (const [name, text] of Object.entries(HELPERS)) writeFileSync(join(bin, name), text, { mode: 0o644 });

  const tcp = await listen({ port: 0, host: '0.0.0.0' });
  // The listener counts what reaches it: once from the host itself, so a count of 0 means something.
  await new Promise<void>((resolve, reject) => { const s = connect(tcp.port, '127.0.0.1', () => { s.destroy(); resolve(); }); s.once('error', reject); });
  while (tcp.connections === 0) await new Promise((r) => setTimeout(r, 5));
  tcp.connections = 0;
  const docker = await listen(`/run/netdojo-escape-${nonce}.sock`);
  chownSync(docker.path, 0, lab.group ?? 0);
  chmodSync(docker.path, 0o660);
  const rootOnly = await listen(join(lab.dir, 'run', `escape-${nonce}.sock`));
  chmodSync(rootOnly.path, 0o600);
  const segments = new Set(shmSegments().keys());
  const ipc = spawnSync('ipcmk', ['-M', '4096', '-p', '0666'], { encoding: 'utf8', env: { ...process.env, PATH } });
  const shmId = /id: (\d+)/.exec(ipc.stdout)?.[1];
  const shm = shmId === undefined ? undefined : { id: Number(shmId), key: shmSegments().get(Number(shmId))!.key };
  const serverPid = Number(readFileSync(join(lab.state, 'clusterd.pid'), 'utf8'));
  const sysctls = readSysctls();
  return {
    nonce, secret, otherLab, bin, serverPid, tcp, docker, rootOnly, otherApi,
    mounts: blockDevice() && mountsOf(blockDevice()!.dev), shadow: statSync('/etc/shadow').mtimeMs,
    shm,
    pidNs: readlinkSync('/proc/self/ns/pid'), userNs: readlinkSync('/proc/self/ns/user'),
    bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), sysctls,
    async close() {
      await Promise.all([tcp, docker, rootOnly, otherApi].map(closeListener));
      if (shm !== undefined) spawnSync('ipcrm', ['-m', String(shm.id)], { env: { ...process.env, PATH } });
      // What an attempt left on the host where some protection failed, or where the row that checks
      // it did not run (the attempts run together, before any row): segments the lab made, files.
      for (const [id, { uid }] of shmSegments()) if (uid === lab.hostUid && !segments.has(id)) spawnSync('ipcrm', ['-m', String(id)], { env: { ...process.env, PATH } });
      for (const { dir } of writeTargets(lab)) for (const f of ['', '-r']) rmSync(`${dir}/netdojo-escape-${nonce}${f}`, { force: true });
      rmSync(`/tmp/netdojo-escape-${nonce}-blk`, { force: true });
      // A sysctl some protection failed to keep goes back to what it was.
      for (const [k, v] of Object.entries(sysctls)) if (readFileSync(`/proc/sys/${k}`, 'utf8').trim() !== v) writeFileSync(`/proc/sys/${k}`, v);
      rmSync(bin, { recursive: true, force: true });
    },
  };
}

interface Attempt {
  name: string;
  /** Why the row cannot run here, if it cannot. */
  skip?(lab: Subject, host: Host): string | undefined;
  /** Where it runs: a node and a pod unless said otherwise. */
  targets?: readonly string[];
  /** The attempt itself, a bash script run where a learner's shell runs. */
  script(lab: Subject, host: Host): string;
  /** What its output must say, by `try` name. */
  expect(r: Record<string, string>, lab: Subject, host: Host, target: string): void;
  /** The host afterwards, checked from outside the lab. */
  host(lab: Subject, host: Host): void | Promise<void>;
  /** Runs the row itself instead of script/expect on each target. */
  run?(lab: Subject, host: Host): Promise<void>;
  /** Made alone, in its turn (the others are made together first, one exec per target). */
  alone?: boolean;
}

const DENIED = 'failed: Permission denied';
const ABSENT = 'failed: No such file or directory';

/** Host directories a learner tries to write, and whether the lab has one of its own there (a
 * tmpfs; undefined: where a target may have a layer of its own over the host's, as a node has over
 * /etc for kindnet's CNI config, or as the state directory's tmpfs is the lab's root's unprivileged). */
const writeTargets = (lab: Subject) => [
  { dir: '/', own: false }, { dir: '/etc', own: undefined }, { dir: '/root', own: false }, { dir: '/home', own: false },
  { dir: PROJECT.replace(/\/$/, ''), own: false }, { dir: lab.state, own: undefined },
  { dir: '/tmp', own: true }, { dir: '/var/tmp', own: true }, { dir: '/dev/shm', own: true },
].filter((t) => existsSync(t.dir));

const ATTEMPTS: Attempt[] = [
  {
    // The lab's root is a uid the host's files do not know: /etc/shadow (0640 root:shadow) is
    // "others" to it, and a mapped root's CAP_DAC_OVERRIDE counts only for inodes whose owner and
    // group are mapped into its namespace. Nor is the path the way around: its working directory
    // and PID 1's root are the lab's.
    name: 'read /etc/shadow',
    script: () => 'try shadow cat /etc/shadow; try shadow-relative cat etc/shadow; try shadow-via-pid-1 cat /proc/1/root/etc/shadow',
    expect: (r) => expect(r).toEqual({ shadow: DENIED, 'shadow-relative': DENIED, 'shadow-via-pid-1': DENIED }),
    host: (_, h) => expect(statSync('/etc/shadow').mtimeMs).toBe(h.shadow),
  },
  {
    // The lab's mount namespace has a tmpfs over the state directory (its own directory bound back
    // at its path), made before the lab's user namespace: locked there, so its root cannot unmount
    // it. PID 1 started in the server's working directory (the state directory) and left it: no
    // /proc/1/cwd into what the tmpfs covers. Unprivileged, the lab's root is the server's user, who
    // owns the store: that tmpfs is all that keeps it.
    name: 'read and change the store, the CA key and the cluster host\'s socket',
    script: (lab) => [
      `try store cat ${sq(`${lab.state}/progress.db`)}`,
      `try store-relative cat ${sq(`${lab.state.slice(1)}/progress.db`)}`,
      'try store-via-pid-1-cwd cat /proc/1/cwd/progress.db',
      `try store-write dd if=/dev/null of=${sq(`${lab.state}/progress.db`)} conv=notrunc,nocreat status=none`,
      `try ca-key cat ${sq(`${lab.state}/pki/ca.key`)}`,
      `try cluster-host python3 "$B/connect.py" ${sq(`${lab.state}/clusterd.sock`)}`,
    ].join('\n'),
    expect: (r) => expect(r).toEqual({ store: ABSENT, 'store-relative': ABSENT, 'store-via-pid-1-cwd': ABSENT, 'store-write': ABSENT, 'ca-key': ABSENT, 'cluster-host': ABSENT }),
    host: (lab, h) => expect(readFileSync(join(lab.state, 'progress.db'), 'utf8')).toBe(`${h.secret}\n`),
  },
  {
    // Another lab's directory lies under the same tmpfs: the lab's view holds its own directory
    // alone, so another's record (its API token) and API socket are not there to open.
    name: 'list and open other labs',
    script: (lab, h) => [
      `echo "labs: $(ls ${sq(join(lab.state, 'labs'))} | tr '\\n' ' ')"`,
      `try record cat ${sq(join(lab.state, 'labs', h.otherLab, 'lab.json'))}`,
      `try api python3 "$B/connect.py" ${sq(join(lab.state, 'labs', h.otherLab, 'run', 'api.sock'))}`,
    ].join('\n'),
    expect: (r, lab) => expect(r).toEqual({ labs: `${lab.id} `, record: ABSENT, api: ABSENT }),
    host: (lab, h) => {
      expect(h.otherApi.connections).toBe(0);
      expect(readFileSync(join(lab.state, 'labs', h.otherLab, 'lab.json'), 'utf8')).toContain(`other-${h.nonce}`);
    },
  },
  {
    // The host's directories are root's, and the lab's root is another uid of the host's (a range's
    // as root, the server user's unprivileged): to it they are others'. The world-writable ones
    // (/tmp, /var/tmp, /dev/shm) are tmpfs of the lab's own, so what is written there never
    // reaches the host, nor does what a target writes to a layer of its own over a host directory
    // (an overlay whose upper directory is in the lab's directory).
    name: 'write outside the lab',
    script: (lab, h) => writeTargets(lab).flatMap(({ dir }) => [
      `try ${sq(`write ${dir}`)} touch ${sq(`${dir}/netdojo-escape-${h.nonce}`)}`,
      `try ${sq(`write-relative ${dir}`)} touch ${sq(`${dir.slice(1) || '.'}/netdojo-escape-${h.nonce}-r`)}`,
    ]).join('\n'),
    expect: (r, lab) => {
      for (const { dir, own } of writeTargets(lab)) {
        if (own === undefined) continue;
        expect([r[`write ${dir}`], r[`write-relative ${dir}`]], dir).toEqual(own ? ['ok', 'ok'] : [expect.stringMatching(/^failed: (Permission denied|Read-only file system)$/), expect.stringMatching(/^failed: (Permission denied|Read-only file system)$/)]);
      }
    },
    host: (lab, h) => {
      const written = writeTargets(lab).flatMap(({ dir }) => [`${dir}/netdojo-escape-${h.nonce}`, `${dir}/netdojo-escape-${h.nonce}-r`]).filter((f) => existsSync(f));
      for (const f of written) rmSync(f, { force: true });
      expect(written).toEqual([]);
    },
  },
  {
    // The lab has an IPC namespace of its own: the host's System V objects are not its to see, and
    // what it makes goes with it.
    name: 'reach the host\'s System V shared memory',
    skip: (_, h) => (h.shm === undefined ? 'ipcmk (util-linux) could not make a segment on the host' : undefined),
    script: (_, h) => [
      `echo "sees-host-segment: $(ipcs -m | awk '$1 == "${h.shm!.key}"' | wc -l)"`,
      `try remove-host-segment ipcrm -M ${h.shm!.key}`,
      'try own-segment ipcmk -M 4096',
    ].join('\n'),
    expect: (r) => expect(r).toMatchObject({ 'sees-host-segment': '0', 'remove-host-segment': expect.stringMatching(/^failed/), 'own-segment': 'ok' }),
    host: (lab, h) => {
      const segments = shmSegments();
      expect(segments.get(h.shm!.id)?.key).toBe(h.shm!.key);
      expect([...segments.values()].filter(({ uid }) => uid === lab.hostUid)).toEqual([]);
    },
  },
  {
    // mount(2) of a block device's file system needs CAP_SYS_ADMIN in the initial user namespace
    // (ext4, xfs are not mountable from a user namespace); mknod(2) of a device, CAP_MKNOD there;
    // and the device node itself (root's, 0600 or 0660 disk) is others' to the lab's root.
    name: 'mount a host block device',
    skip: () => (blockDevice() ? undefined : 'the host has no block device but loop, ram and zram ones'),
    script: (_, h) => {
      const { name, dev } = blockDevice()!;
      const [major, minor] = dev.split(':');
      return [
        `try mount mount -o ro /dev/${name} /mnt`,
        `try read-device head -c 512 /dev/${name}`,
        `try mknod mknod /tmp/netdojo-escape-${h.nonce}-blk b ${major} ${minor}`,
        'echo "mounted: $(mountpoint -q /mnt && echo yes || echo no)"',
      ].join('\n');
    },
    expect: (r) => expect(r).toEqual({ mount: expect.stringMatching(/^failed/), 'read-device': DENIED, mknod: 'failed: Operation not permitted', mounted: 'no' }),
    host: (_, h) => {
      expect(mountsOf(blockDevice()!.dev)).toBe(h.mounts);
      expect(existsSync(`/tmp/netdojo-escape-${h.nonce}-blk`)).toBe(false);
    },
  },
  {
    // The Docker socket lives in the host's /run (root:docker 0660): the lab has a /run of its own,
    // made before its user namespace, so unmounting it is refused. Unprivileged, the lab keeps the
    // server user's supplementary groups (a user namespace cannot drop them: setgroups is denied
    // there), docker's too: not seeing the socket is what keeps it closed. A socket of root's alone
    // that the lab does see is others' to its root: connect(2) needs write permission on it.
    name: 'open the Docker socket',
    script: (lab, h) => [
      'umount -l /run 2>/dev/null',
      ...['/var/run/docker.sock', '/run/docker.sock'].filter((p) => existsSync(p)).map((p) => `try ${sq(`docker ${p}`)} python3 "$B/connect.py" ${p}`),
      `try docker-stand-in python3 "$B/connect.py" ${h.docker.path}`,
      `try root-only python3 "$B/connect.py" ${sq(h.rootOnly.path)}`,
    ].join('\n'),
    expect: (r) => {
      expect(r).toMatchObject({ 'docker-stand-in': ABSENT, 'root-only': DENIED });
      for (const [k, v] of Object.entries(r)) if (k.startsWith('docker ')) expect(v, k).toMatch(/^failed/);
    },
    host: (lab, h) => {
      expect([h.docker.connections, h.rootOnly.connections]).toEqual([0, 0]);
      if (lab.group !== undefined) expect(readFileSync(`/proc/${lab.sandbox().initPid}/status`, 'utf8')).toMatch(new RegExp(`^Groups:.*\\b${lab.group}\\b`, 'm'));
    },
  },
  {
    // The lab has a PID namespace of its own, with its /proc: a host process has no PID there, so
    // kill(2) and ptrace(2) find nothing, and /proc/<pid> is not there. That /proc was mounted
    // before the lab's user namespace: unmounting it, to find the host's /proc beneath, is refused.
    // A host PID may be a lab process's number too (PIDs of different namespaces overlap): /proc
    // tells them apart by the command line, and a number the lab uses is not tried (another host
    // process is made instead).
    name: 'signal or ptrace a host process',
    script: () => '',
    expect: () => undefined,
    host: () => undefined,
    async run(lab, h) {
      for (const target of TARGETS) {
        for (let tries = 1; ; tries++) {
          const mark = `600.${randomBytes(3).readUIntBE(0, 3)}`;
          const sleep = spawn('sleep', [mark], { stdio: 'ignore' });
          const start = await procStartTime(sleep.pid!);
          try {
            const cmdline = (pid: number) => `$(tr '\\0' ' ' < /proc/${pid}/cmdline)`;
            const r = results((await inLab(lab, h, target, [
              'umount -l /proc 2>/dev/null',
              'echo "pid-namespace: $(readlink /proc/self/ns/pid)"',
              `if [ -e /proc/${sleep.pid} ]; then echo "in-lab: ${cmdline(sleep.pid!)}"; else`,
              `  try kill kill -KILL ${sleep.pid}`,
              `  try ptrace python3 "$B/attach.py" ${sleep.pid}`,
              `  try environ cat /proc/${sleep.pid}/environ`,
              'fi',
              `if [ -e /proc/${h.serverPid} ]; then echo "server-in-lab: ${cmdline(h.serverPid)}"; else`,
              `  try signal-server kill -CONT ${h.serverPid}`,
              `  try server-memory cat /proc/${h.serverPid}/mem`,
              'fi',
            ].join('\n'))).out);
            expect(r['pid-namespace']).not.toBe(h.pidNs);
            expect(r['in-lab'] ?? '', 'the host process is visible in the lab').not.toContain(`sleep ${mark}`);
            expect(r['server-in-lab'] ?? '', 'the server is visible in the lab').not.toContain('__clusterd');
            if (r['in-lab'] && tries < 5) continue;
            expect(r).toMatchObject({ kill: expect.stringMatching(/^failed: .*No such process$/), ptrace: 'failed: No such process', environ: ABSENT });
            if (!r['server-in-lab']) expect(r).toMatchObject({ 'signal-server': expect.stringMatching(/^failed: .*No such process$/), 'server-memory': ABSENT });
            expect(await procStartTime(sleep.pid!)).toBe(start);
            expect(await procStartTime(h.serverPid)).toBeDefined();
            break;
          } finally {
            sleep.kill('SIGKILL');
          }
        }
      }
    },
  },
  {
    // As root, nsenter --user switches to the lab's uid only after forking into the lab's PID
    // namespace: that process, for a moment the host's root with every capability over the lab's
    // user namespace, is one the lab's root may ptrace(2) and make run code as the host's root.
    // strace holds each credential change on the way in (0.3 s), so any such moment is long enough
    // for a watcher in the lab to see it: every process the host starts there must be the lab's root.
    name: 'ptrace a process the host starts in the lab before it is the lab\'s',
    skip: () => (has('strace') ? undefined : 'strace is missing (it holds the credential changes of an entry into the lab open)'),
    script: () => '',
    expect: () => undefined,
    host: () => undefined,
    async run(lab, h) {
      for (const target of TARGETS) {
        const marker = `netdojo-escape-${h.nonce}-${target.length}`;
        const [ready, stop] = ['ready', 'stop'].map((s) => join(lab.dir, 'run', `${marker}.${s}`));
        const watcher = inLab(lab, h, target, `python3 "$B/watch.py" ${[...marker].reverse().join('')} ${sq(ready)} ${sq(stop)}`);
        const deadline = Date.now() + 20_000;
        while (!existsSync(ready) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(existsSync(ready), 'the watcher started').toBe(true);
        // The command itself lasts a moment, so the watcher sees the entry at all.
        const cred = 'setgroups,setgid,setuid,setresgid,setresuid,setfsuid,setfsgid';
        const entry = await lab.enter(target, ['sh', '-c', `sleep 0.3; : ${marker}`],
          ['strace', '-f', '-qq', '-o', '/dev/null', '-e', `trace=${cred}`, '-e', `inject=${cred}:delay_enter=300000`]);
        writeFileSync(stop, '');
        const seen = (await watcher).out.split('\n').filter((l) => l.startsWith('seen '));
        expect(entry.code, entry.stderr).toBe(0);
        expect(seen.length, `the watcher on ${target} saw the entry`).toBeGreaterThan(0);
        expect(seen.filter((l) => !l.startsWith('seen 0 ')), target).toEqual([]);
      }
    },
  },
  {
    // The lab's network namespaces are its own: 127.0.0.1 there is the lab's loopback, and nothing
    // routes from the lab to the host's namespace. Only the host's own addresses are tried.
    name: 'reach the host\'s loopback services and addresses',
    script: (lab, h) => {
      const addrs = ['127.0.0.1', ...Object.values(networkInterfaces()).flat().filter((a) => a && a.family === 'IPv4' && !a.internal).map((a) => a!.address)];
      return [
        ...addrs.flatMap((a) => [
          `(try ${sq(`tcp ${a}`)} timeout 3 bash -c ${sq(`exec 3<>/dev/tcp/${a}/${h.tcp.port}`)}) &`,
          `(try ${sq(`http ${a}`)} curl -sS -m 3 http://${a}:${h.tcp.port}/) &`,
        ]),
        `(try server-api curl -sSk -m 3 https://127.0.0.1:${lab.apiPort()}/version) &`,
        'wait',
      ].join('\n');
    },
    expect: (r) => {
      expect(Object.keys(r).length).toBeGreaterThanOrEqual(3);
      for (const [k, v] of Object.entries(r)) expect(v, k).toMatch(/^failed/);
    },
    host: (_, h) => expect(h.tcp.connections).toBe(0),
  },
  {
    // init_module(2) and finit_module(2) need CAP_SYS_MODULE in the initial user namespace.
    name: 'load a kernel module',
    skip: () => {
      if (!existsSync('/proc/modules')) return 'the kernel has no loadable module support (no /proc/modules): there is nothing to load';
      return moduleToLoad() ? undefined : 'no module that is not loaded was found (modinfo dummy, ifb, vcan, nlmon)';
    },
    script: () => {
      const m = moduleToLoad()!;
      return [`try modprobe modprobe ${m.name}`, `try finit-module python3 "$B/module.py" ${sq(m.file)}`].join('\n');
    },
    expect: (r) => expect(r).toEqual({ modprobe: expect.stringMatching(/^failed/), 'finit-module': 'failed: Operation not permitted' }),
    host: () => expect(readFileSync('/proc/modules', 'utf8')).not.toMatch(new RegExp(`^${moduleToLoad()!.name} `, 'm')),
  },
  {
    // These sysctls are the machine's, not a namespace's: their files in /proc/sys are root's in
    // the initial user namespace, others' to the lab's root.
    name: 'change a host sysctl',
    script: (_, h) => Object.entries(h.sysctls).flatMap(([k, v]) => {
      const other = String(Number(v) === 0 ? 1 : Number(v) - 1);
      return [`try ${sq(`sysctl ${k}`)} sysctl -w ${k.replace('/', '.')}=${other}`, `try ${sq(`write ${k}`)} sh -c ${sq(`echo ${other} > /proc/sys/${k}`)}`];
    }).join('\n'),
    expect: (r) => { for (const [k, v] of Object.entries(r)) expect(v, k).toMatch(/^failed/); },
    host: (_, h) => expect(readSysctls()).toEqual(h.sysctls),
  },
  {
    // The lab's cgroup bounds its processes, memory and CPU; the cgroups above it are root's, so
    // moving a process out (writing its PID to another cgroup's cgroup.procs) is refused.
    name: 'leave the lab\'s cgroup',
    skip: (lab) => (lab.sandbox().limits?.cgroup ? undefined : 'labs are not limited by cgroups here (rlimits stand in): there is no cgroup to leave'),
    // The sandbox's own mount namespace shows the host's cgroup file systems (a node's has a sysfs of its own).
    script: (_, h) => `nsenter -t 1 -m sh -c ${sq([
      'for f in /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/*/cgroup.procs; do',
      '  [ -e "$f" ] || continue',
      '  if echo $$ > "$f" 2>/dev/null; then echo "moved: $f"; else echo "refused: $f"; fi',
      'done',
      // Still in the lab's cgroup: a process it starts now is found there from the host.
      `setsid -f sleep 300.${parseInt(h.nonce, 16)} </dev/null >/dev/null 2>&1`,
    ].join('\n'))}`,
    expect: (r) => {
      expect(r.moved).toBeUndefined();
      expect(r.refused).toBeDefined();
    },
    host: (lab, h) => {
      const left = hostProcesses(['sleep', `300.${parseInt(h.nonce, 16)}`]);
      try {
        expect(left.length).toBeGreaterThan(0);
        for (const pid of left) {
          const cgroups = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n').map((l) => l.split(':'));
          const { version, dirs } = lab.sandbox().limits!.cgroup!;
          const mine = version === 2 ? cgroups.filter(([, c]) => c === '') : cgroups.filter(([, c]) => Object.keys(dirs).some((d) => c.split(',').includes(d)));
          expect(mine.length).toBeGreaterThan(0);
          for (const [, c, path] of mine) expect(path, c || 'cgroup v2').toMatch(new RegExp(`/${lab.id}(/|$)`));
        }
      } finally {
        for (const pid of left) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
      }
    },
  },
  {
    // reboot(2) takes CAP_SYS_BOOT in the user namespace that owns the caller's PID namespace, and in
    // any PID namespace but the machine's only ever acts on that namespace. The lab's is owned by a
    // user namespace above the lab's own (made before it): its root holds no capability there.
    // (The helper refuses to run at all in the host's PID or user namespace.) Last: had the reboot
    // worked, it would have ended the lab.
    name: 'reboot',
    alone: true,
    script: (_, h) => `try reboot python3 "$B/reboot.py" ${sq(h.pidNs)} ${sq(h.userNs)}`,
    expect: (r) => expect(r).toEqual({ reboot: 'failed: Operation not permitted' }),
    host: async (lab, h) => {
      expect(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()).toBe(h.bootId);
      expect(await isAlive(lab.sandbox())).toBe(true);
    },
  },
];

function moduleToLoad(): { name: string; file: string } | undefined {
  const loaded = readFileSync('/proc/modules', 'utf8');
  for (const name of ['dummy', 'ifb', 'vcan', 'nlmon']) {
    if (new RegExp(`^${name} `, 'm').test(loaded)) continue;
    const file = spawnSync('modinfo', ['-n', name], { encoding: 'utf8', env: { ...process.env, PATH } }).stdout?.trim();
    if (file && existsSync(file)) return { name, file };
  }
  return undefined;
}

/** As root: a lab made in this process, a uid range of its own. The state directory is one others
 * may search, with the store readable by all, so only what the lab sees of it keeps the store. */
async function labAsRoot(): Promise<Subject> {
  const home = tempHome('netdojo-escape-');
  chmodSync(home.dir, 0o755);
  const state = join(home.dir, 'state');
  mkdirSync(state, { mode: 0o755 });
  process.env.NETDOJO_HOME = state;
  // The server's working directory is the state directory: where the sandbox's PID 1 starts.
  const cwd = process.cwd();
  process.chdir(state);
  let lab: NetnsLab;
  try {
    lab = await netnsProvider.create(baseTopology(), { id: newLabId(), scenario: 'test', seed: 1 });
  } catch (e) {
    home.remove();
    throw e;
  } finally {
    process.chdir(cwd);
  }
  const sandbox = () => JSON.parse(readFileSync(join(lab.dir, 'lab.json'), 'utf8')).handle.sandbox as SandboxHandle;
  return {
    id: lab.record.id, state, dir: lab.dir, hostUid: sandbox().uidBase!, serverUid: 0, sandbox,
    apiPort: () => JSON.parse(readFileSync(join(lab.dir, 'lab.json'), 'utf8')).handle.port,
    sh: async (target, script) => {
      const r = await lab.exec(target, ['bash', '-c', script], { timeoutMs: 90_000 });
      return { code: r.code ?? 1, out: r.stdout, err: r.stderr };
    },
    // The provider's own exec (`netdojo exec` knows no lab of the test scenario).
    enter: (target, argv, prefix) => new Promise((resolve) => {
      const script = "import { register } from 'tsx/esm/api'; register(); const { netnsProvider } = await import('./server/providers/netns/index.ts'); " +
        'const [id, target, ...argv] = process.argv.slice(1); const r = await (await netnsProvider.open(id)).exec(target, argv); process.stdout.write(r.stdout); process.stderr.write(r.stderr); process.exitCode = r.code ?? 1;';
      const argv0 = [...prefix, process.execPath, '--input-type=module', '-e', script, lab.record.id, target, ...argv];
      execFile(argv0[0], argv0.slice(1), { cwd: PROJECT, env: { ...process.env, NETDOJO_HOME: state }, timeout: 60_000 },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    }),
    destroy: async () => {
      await lab.destroy();
      home.remove();
    },
  };
}

/** Unprivileged: a lab made by the CLI run as nobody (as root) or as us, with a supplementary group
 * (as root) as a user in the docker group has one, from its state directory. */
async function labRootless(): Promise<Subject> {
  const user = rootlessUser();
  const group = user === undefined ? undefined : freeGid();
  const home = rootlessHome('netdojo-escape-');
  const opts = { asUser: user, groups: group === undefined ? undefined : [group] };
  const up = await netdojo(home.dir, ['up', 'coredns-down', '--healthy', '--json'], { ...opts, cwd: home.dir });
  if (up.code !== 0) {
    await netdojo(home.dir, ['down', '--all'], opts);
    home.remove();
    throw new Error(`netdojo up failed: ${up.stderr}`);
  }
  const id = JSON.parse(up.stdout).lab.id as string;
  const dir = join(home.dir, 'labs', id);
  const record = () => JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8'));
  return {
    id, state: home.dir, dir, hostUid: user ?? process.getuid!(), serverUid: user ?? process.getuid!(), group,
    sandbox: () => record().handle.sandbox, apiPort: () => record().handle.port,
    sh: async (target, script) => {
      const r = await netdojo(home.dir, ['exec', id, target, '--', 'bash', '-c', script], { ...opts, timeoutMs: 90_000 });
      return { code: r.code, out: r.stdout, err: r.stderr };
    },
    enter: (target, argv, prefix) => netdojo(home.dir, ['exec', id, target, '--', ...argv], { ...opts, prefix }),
    destroy: async () => {
      await netdojo(home.dir, ['down', '--all'], opts);
      home.remove();
    },
  };
}

const asRoot = process.getuid?.() !== 0 ? 'needs root (the server as root gives labs uid ranges)' : labsUnavailable();
const MODES = [
  { name: 'the server as root', why: asRoot, up: labAsRoot },
  { name: 'the server as an unprivileged user', why: rootlessUnavailable(), up: labRootless },
];

/** The attempts made together, one exec per target (the others run alone, each in its turn). */
const together = (a: Attempt) => !a.run && !a.alone;

for (const mode of MODES) {
  if (mode.why) console.warn(`skipping the escape attempts with ${mode.name}: ${mode.why}`);
  describe.skipIf(mode.why)(`a learner's escape attempts, with ${mode.name}`, () => {
    let lab: Subject;
    let host: Host;
    /** What each attempt made together printed, by target. */
    const outputs = new Map<Attempt, Map<string, string>>();

    beforeAll(async () => {
      lab = await mode.up();
      host = await makeHost(lab);
      // Each attempt in a subshell of its own, after a line naming it.
      const rows = ATTEMPTS.filter((a) => together(a) && !a.skip?.(lab, host));
      await Promise.all(TARGETS.map(async (target) => {
        const mine = rows.filter((a) => (a.targets ?? TARGETS).includes(target));
        const r = await inLab(lab, host, target, mine.map((a) => `echo '@@ ${ATTEMPTS.indexOf(a)}'\n(\n${a.script(lab, host)}\n)`).join('\n'));
        for (const section of r.out.split(/^@@ /m).slice(1)) {
          const nl = section.indexOf('\n');
          const a = ATTEMPTS[Number(section.slice(0, nl))];
          if (!outputs.has(a)) outputs.set(a, new Map());
          outputs.get(a)!.set(target, section.slice(nl + 1));
        }
      }));
    });
    afterAll(async () => {
      await host?.close();
      await lab?.destroy();
    });

    for (const a of ATTEMPTS) {
      it(a.name, async (ctx) => {
        const why = a.skip?.(lab, host);
        if (why) {
          console.warn(`skipping "${a.name}" with ${mode.name}: ${why}`);
          ctx.skip();
        }
        if (a.run) {
          await a.run(lab, host);
        } else {
          const targets = a.targets ?? TARGETS;
          const out = together(a) ? targets.map((t) => outputs.get(a)?.get(t) ?? '')
            : (await Promise.all(targets.map((t) => inLab(lab, host, t, a.script(lab, host))))).map((r) => r.out);
          out.forEach((o, i) => a.expect(results(o), lab, host, targets[i]));
        }
        await a.host(lab, host);
      });
    }
  });
}
