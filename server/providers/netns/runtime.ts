import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, watch } from 'node:fs';
import { chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerConfig, ContainerState, PodRuntime, PodSandboxConfig } from '../../cluster/kubelet/runtime.ts';
import type { ExecResult } from '../../lab/types.ts';
import { shq, sq } from '../../util/shell.ts';
import { createInterface } from 'node:readline';
import { enterPrefix, type SandboxHandle } from './sandbox.ts';
import { child, createCgroup, killAll, oomKills, PODS_CGROUP, procsFiles, removeCgroup, type Cgroup } from './cgroups.ts';

// The container runtime and CNI of a netns lab: what the kubelet asks of a node. A pod sandbox is a
// network namespace on a veth into the node's cni0 (kind's kindnet uses the ptp plugin; a bridge
// with hairpin gives the same reachability and lets `brctl`/`bridge link` show it), with its own
// hostname, resolv.conf and hosts; a container is a process started in it through `bin/container`,
// which records the process's PID and, when it ends, its exit code, in run/containers/, the way
// containerd's shim keeps a task's state apart from the kubelet. So containers outlive the process
// that hosts the controllers, and their exit is seen through the file system. Where the lab has a
// cgroup, each container gets a child cgroup of it with the limits of its Pod spec; the kernel's
// OOM kills there are what the kubelet reports as OOMKilled.

const vethName = (netns: string) => `veth${Buffer.from(netns).reduce((h, b) => (Math.imul(h ^ b, 16777619) >>> 0), 2166136261).toString(16).padStart(8, '0')}`;

/**
 * The wrapper every container runs under: records its PID, forwards TERM, records the exit code.
 * The start and end times are the mtimes of the `.start` and `.end` files (no `date` to run).
 *
 * Where the container has a cgroup (its cgroup.procs files, one a line, in `.cgroup`), `enter` has
 * opened them as descriptors 7, 8, 9 (a pod's mount namespace has a sysfs of its own over /sys,
 * without the host's cgroup file systems); the container's process writes 0 to each, which moves
 * it there, closes them and becomes the container's command. The wrapper stays outside, so an OOM
 * kill of the whole container (v2's memory.oom.group) leaves it there to record the exit.
 */
export const CONTAINER_SCRIPT = `#!/bin/sh
# container <state-prefix> <log> <workdir|-> <argv...>
state=$1 log=$2 wd=$3; shift 3
[ "$wd" = - ] || cd "$wd" 2>>"$log" || { echo 128 > "$state.exit.tmp"; mv "$state.exit.tmp" "$state.exit"; exit 128; }
n=0; if [ -f "$state.cgroup" ]; then while IFS= read -r _; do n=$((n+1)); done < "$state.cgroup"; fi
: > "$state.start"
(
  fd=7; while [ $fd -lt $((7 + n)) ]; do eval "echo 0 >&$fd" || exit 125; fd=$((fd + 1)); done
  exec 7>&- 8>&- 9>&-
  exec "$@"
) >>"$log" 2>&1 </dev/null &
pid=$!
exec 7>&- 8>&- 9>&-
echo $pid > "$state.pid"
trap 'kill -TERM $pid 2>/dev/null' TERM
trap 'kill -INT $pid 2>/dev/null' INT
while :; do
  wait $pid; rc=$?
  kill -0 $pid 2>/dev/null || break
done
: > "$state.end"
echo $rc > "$state.exit.tmp"; mv "$state.exit.tmp" "$state.exit"
`;

/**
 * The one way into a target: its network namespace, its hostname, resolv.conf and hosts, and the
 * volume mounts of NETDOJO_MOUNTS (lines "source<TAB>target<TAB>ro|rw"; by default the target's own
 * `mounts`: a node's directories of its own file system), in a mount namespace of its own. A mount target that does not exist is made in a private layer over its parent directory, so
 * the host's file system is never written; in the lab's own tmpfs (/run, /tmp, /var/tmp, /dev/shm:
 * userns.ts) it is made there (a layer over /tmp would hide the lab's directory when it lies below). With NETDOJO_DETACH set, the command starts in a session
 * of its own once every mount is made, and enter returns: a failed mount is enter's error, as a
 * container runtime's task creation fails before the container's process exists.
 */
/** What `enter` prints on stderr (then the name) for a target the lab does not have. */
export const NO_TARGET = 'enter: no such target:';

export function enterScript(dir: string, kubectlEnv: string): string {
  // Shell builtins where a program would do (read, parameter expansion): a pod start runs this
  // once per container, and every program started costs a fork and an exec.
  return `#!/bin/sh
set -e
ns=$1; shift
export PATH="${dir}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
[ -f "${dir}/etc/$ns/target" ] || { echo "${NO_TARGET} $ns" >&2; exit 1; }
# (read fails on a last line without a newline, after setting the variable: hence the "|| :")
read -r NETDOJO_TARGET < "${dir}/etc/$ns/target" || :; export NETDOJO_TARGET
${kubectlEnv}
netns=$ns; if [ -f "${dir}/etc/$ns/netns" ]; then read -r netns < "${dir}/etc/$ns/netns" || :; fi
# A container's cgroup (NETDOJO_CGROUP: its cgroup.procs files), opened as descriptors 7, 8, 9 while
# the host's cgroup file systems are in sight: ip netns exec mounts a sysfs of its own over /sys.
if [ -n "$NETDOJO_CGROUP" ]; then fd=7; while IFS= read -r f; do eval "exec $fd>\\"\\$f\\""; fd=$((fd + 1)); done < "$NETDOJO_CGROUP"; fi
exec ip netns exec "$netns" unshare --uts -- sh -c '
  d=$1; shift
  # In a user namespace /proc/sys is writable by the machine root only: there sethostname(2) works.
  read -r h < "$d/hostname"; { echo "$h" > /proc/sys/kernel/hostname; } 2>/dev/null || hostname "$h"
  fail() { echo "$*" >&2; exit 1; }
  # A layer over the directory $1 for new entries. An overlay keeps it as it is and writes beside
  # it. In a user namespace the kernel refuses to overlay (or bind alone) a directory with mounts of
  # a more privileged namespace beneath it (/var/lib/docker, /etc/hosts in a container): those are
  # locked, as undoing them would show what they cover. There the directory becomes a tmpfs of
  # links into a recursive bind of itself.
  layer() {
    l=$(mktemp -d "${dir}/ovl/XXXXXXXX") && mkdir "$l/u" "$l/w" || return 1
    mount -t overlay overlay -o "lowerdir=$1,upperdir=$l/u,workdir=$l/w" "$1" 2>/dev/null && return 0
    mkdir "$l/l" && mount --rbind "$1" "$l/l" && mount -t tmpfs -o "mode=$(stat -c %a "$1")" tmpfs "$1" || return 1
    p=$1; set --
    for e in "$l/l"/* "$l/l"/.[!.]*; do if [ -e "$e" ] || [ -L "$e" ]; then set -- "$@" "$e"; fi; done
    [ $# -eq 0 ] || ln -s "$@" "$p"/
  }
  mounts=\${NETDOJO_MOUNTS:-$d/mounts}
  if [ -f "$mounts" ]; then
    mkdir -p "${dir}/ovl"
    while IFS="$(printf "\t")" read -r src dst mode; do
      [ -n "$dst" ] || continue
      if [ ! -e "$dst" ]; then
        parent=\${dst%/*}; parent=\${parent:-/}; while [ ! -d "$parent" ]; do parent=\${parent%/*}; parent=\${parent:-/}; done
        case "$parent" in
          /run|/run/*|/tmp|/tmp/*|/var/tmp|/var/tmp/*|/dev/shm|/dev/shm/*) ;;
          /) fail "error mounting \\"$src\\" to rootfs at \\"$dst\\": this lab mounts volumes under an existing directory other than /" ;;
          *) layer "$parent" || fail "error mounting \\"$src\\" to rootfs at \\"$dst\\": cannot add to $parent" ;;
        esac
        if [ -d "$src" ]; then mkdir -p "$dst"; else mkdir -p "\${dst%/*}" && : > "$dst"; fi || fail "error mounting \\"$src\\" to rootfs at \\"$dst\\": cannot create it"
      fi
      if [ "$mode" = ro ]; then err=$(mount --bind -o ro "$src" "$dst" 2>&1); else err=$(mount --bind "$src" "$dst" 2>&1); fi ||
        fail "error mounting \\"$src\\" to rootfs at \\"$dst\\": $err"
    done < "$mounts"
  fi
  # After the volumes: a volume under /etc is mounted on a layer over /etc, which would hide these.
  mount --bind "$d/resolv.conf" /etc/resolv.conf
  mount --bind "$d/hosts" /etc/hosts
  [ -z "$NETDOJO_DETACH" ] || exec setsid -f "$@" 2>/dev/null
  exec "$@"' enter "${dir}/etc/$ns" "$@"
`;
}

/**
 * Runs scripts in a lab's sandbox through one long-lived bash inside it, so a script costs a fork
 * rather than entering the sandbox's namespaces and starting a shell each time. Each script runs in
 * its own background subshell, side by side with the others, so one slow or failing script is its
 * own. Scripts and their output pass through files in the lab's directory (`run/shell/`, which the
 * sandbox sees too); the shell's stdout carries one short line per finished script, written in one
 * piece, so lines from scripts that finish together never interleave.
 */
export class SandboxShell {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, { resolve: (r: ExecResult) => void; started: number; timer: NodeJS.Timeout }>();
  private next = 0;
  private readonly dir: string;

  constructor(private readonly labDir: string, private readonly sandbox: SandboxHandle, private readonly inside: boolean, private readonly env: NodeJS.ProcessEnv, private readonly timeoutMs = 60_000) {
    this.dir = join(labDir, 'run', 'shell');
  }

  private start(): ChildProcess {
    // A lab directory that is gone (the lab was removed) must stay gone.
    if (!existsSync(this.labDir)) throw new Error(`${this.labDir} does not exist`);
    mkdirSync(this.dir, { recursive: true });
    // set -m: each script runs as a job in a process group of its own, apart from the shell and
    // from the subshell that reports it, so a script's `kill 0` ends only itself.
    const loop = `cd / || exit 1
while IFS= read -r n; do
  { set -m; ( set -e; . "$0/$n.sh" ) >"$0/$n.out" 2>&1 & wait $!; echo "$n $?"; } &
done`;
    const [file, ...args] = [...enterPrefix(this.sandbox, this.inside), 'bash', '--norc', '--noprofile', '-c', loop, this.dir];
    // At shell level 1 with a socket for stdin, Debian's bash reads ~/.bashrc (see util/run.ts).
    // A process group of its own: a script's `kill 0` must not reach the process that hosts the lab.
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'ignore'], env: { ...this.env, SHLVL: '2' }, detached: true });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [n, rc] = line.split(' ').map(Number);
      void this.finish(n, rc);
    });
    const fail = () => {
      if (this.child === child) this.child = undefined;
      for (const n of [...this.pending.keys()]) void this.finish(n, undefined);
    };
    child.on('exit', fail);
    child.on('error', fail);
    child.stdin!.on('error', () => undefined);
    return child;
  }

  private async finish(n: number, rc: number | undefined): Promise<void> {
    const p = this.pending.get(n);
    const base = join(this.dir, String(n));
    const out = await readFile(`${base}.out`, 'utf8').catch(() => '');
    await Promise.all([rm(`${base}.sh`, { force: true }), rm(`${base}.out`, { force: true })]);
    if (!p) return;
    this.pending.delete(n);
    clearTimeout(p.timer);
    const ms = performance.now() - p.started;
    p.resolve(rc === undefined
      ? { code: 1, stdout: out, stderr: 'the lab sandbox shell exited (is the lab gone?)', timedOut: false, ms }
      : { code: rc, stdout: out, stderr: '', timedOut: false, ms });
  }

  async run(script: string): Promise<ExecResult> {
    const n = this.next++;
    try {
      this.child ??= this.start();
      await writeFile(join(this.dir, `${n}.sh`), `${script}\n`);
    } catch (e) {
      return { code: 1, stdout: '', stderr: `the lab's directory is gone: ${(e as Error).message}`, timedOut: false, ms: 0 };
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(n);
        resolve({ code: 124, stdout: '', stderr: `the script did not finish within ${this.timeoutMs / 1000} s`, timedOut: true, ms: this.timeoutMs });
      }, this.timeoutMs);
      this.pending.set(n, { resolve, started: performance.now(), timer });
      this.child!.stdin!.write(`${n}\n`);
    });
  }

  /** Ends the shell (scripts still running finish on their own). */
  close(): void {
    this.child?.stdin?.end();
    this.child = undefined;
  }
}

export class NetnsRuntime implements PodRuntime {
  readonly shell: SandboxShell;
  private nodeScripts = 0;
  private readonly limits: SandboxHandle['limits'];
  private readonly uidBase: number | undefined;

  /** `containerPids`: the tasks a container may have (where the lab has a cgroup). */
  constructor(readonly dir: string, sandbox: SandboxHandle, inside: boolean, env: NodeJS.ProcessEnv, private readonly opts: { containerPids?: number } = {}) {
    this.shell = new SandboxShell(dir, sandbox, inside, env);
    this.limits = sandbox.limits;
    this.uidBase = sandbox.uidBase;
  }

  /** A container's cgroup, when the lab has one: named by the container's id, in the lab's kubepods. */
  private cgroupOf(id: string): Cgroup | undefined {
    return this.limits?.cgroup && child(child(this.limits.cgroup, PODS_CGROUP), id);
  }

  get dataDir() { return this.dir; }

  private etc(netns: string) { return join(this.dir, 'etc', netns); }
  stateOf(id: string) { return join(this.dir, 'run', 'containers', id); }
  get containersDir() { return join(this.dir, 'run', 'containers'); }

  private async must(script: string, what: string): Promise<string> {
    const r = await this.shell.run(script);
    if (r.code !== 0) throw new Error(`${what}: ${(r.stdout + r.stderr).trim().slice(-1500)}`);
    return r.stdout;
  }

  /** Creates the pod's network namespace and links (CNI ADD), and its files. */
  async runPodSandbox(p: PodSandboxConfig): Promise<void> {
    const etc = this.etc(p.netns);
    await mkdir(etc, { recursive: true });
    await Promise.all([
      writeFile(join(etc, 'target'), p.target),
      writeFile(join(etc, 'hostname'), p.hostname),
      writeFile(join(etc, 'resolv.conf'), p.resolvConf),
      writeFile(join(etc, 'hosts'), p.hosts),
      writeFile(join(etc, 'netns'), p.hostNetwork ? p.node : p.netns),
    ]);
    if (p.hostNetwork) return;
    const v = vethName(p.netns);
    await this.must([
      `ip netns add ${shq(p.netns)} 2>/dev/null || { ip netns del ${shq(p.netns)}; ip netns add ${shq(p.netns)}; }`,
      `ip -n ${shq(p.node)} link del ${v} 2>/dev/null || true`,
      `ip -n ${shq(p.node)} -batch - <<'EOF'`,
      `link add ${v} mtu ${p.mtu} type veth peer name eth0 netns ${p.netns}`,
      `link set ${v} master cni0 up`,
      // kubelet's --hairpin-mode=hairpin-veth: a pod can reach itself through its Service.
      `link set ${v} type bridge_slave hairpin on`,
      'EOF',
      `ip -n ${shq(p.netns)} -batch - <<'EOF'`,
      'link set lo up',
      `addr add ${p.ip}/${p.prefixLen} dev eth0`,
      'link set eth0 up',
      ...(p.routes ?? []).map((dst) => `route add ${dst} via ${p.gateway} dev eth0`),
      'EOF',
      // An address freed by another pod may still be in the node's neighbour table with that pod's
      // MAC: forget it, or the node reaches the new pod only once the entry goes stale (~30 s).
      `ip -n ${shq(p.node)} neigh flush to ${p.ip} 2>/dev/null || true`,
    ].join('\n'), `setting up the network of ${p.target}`);
  }

  sandboxExists(netns: string): Promise<boolean> {
    return readFile(join(this.etc(netns), 'target'), 'utf8').then(() => true, () => false);
  }

  /** Kills every process in the pod's namespace and removes it (CNI DEL). */
  async stopPodSandbox(netns: string, hostNetwork: boolean): Promise<void> {
    if (!hostNetwork) {
      await this.must(`if ip netns pids ${shq(netns)} >/dev/null 2>&1; then
  for pid in $(ip netns pids ${shq(netns)}); do kill -9 $pid 2>/dev/null || true; done
  ip netns del ${shq(netns)} 2>/dev/null || true
fi`, `removing the network of ${netns}`);
    }
    await rm(this.etc(netns), { recursive: true, force: true });
  }

  async startContainer(netns: string, c: ContainerConfig): Promise<void> {
    const state = this.stateOf(c.id);
    await mkdir(this.containersDir, { recursive: true });
    await Promise.all(['pid', 'exit', 'start', 'end', 'cgroup'].map((s) => rm(`${state}.${s}`, { force: true })));
    if (this.limits?.cgroup) {
      // As the kubelet sizes a container's cgroup: limits.memory, limits.cpu as a CFS quota,
      // requests.cpu as its weight against its siblings (Kubernetes' shares, 2 for none); and no
      // more tasks than a pod may have.
      const r = c.resources ?? {};
      const cg = await createCgroup(child(this.limits.cgroup, PODS_CGROUP), c.id, {
        pids: this.opts.containerPids, memoryBytes: r.memoryBytes, cpuQuotaMillis: r.cpuLimitMillis,
        cpuShares: Math.min(262144, Math.max(2, Math.floor(((r.cpuRequestMillis ?? 0) * 1024) / 1000))), oomGroup: true,
      });
      // Joined from inside the lab (enter opens these files): as root, by the lab's root, whose uid
      // owns them as a delegated cgroup's are (a cgroup's processes move with write access to it).
      if (this.uidBase !== undefined) await Promise.all(procsFiles(cg).map((f) => chown(f, this.uidBase!, this.uidBase!)));
      await writeFile(`${state}.cgroup`, procsFiles(cg).join('\n') + '\n');
    }
    const mounts = join(this.dir, 'run', 'containers', `${c.id}.mounts`);
    await writeFile(mounts, c.mounts.map((m) => `${m.source}\t${m.target}\t${m.readOnly ? 'ro' : 'rw'}`).join('\n') + '\n');
    // What `kubectl exec` into this container gets: its environment (and, through the mounts file, its volumes).
    await writeFile(`${state}.env`, JSON.stringify(c.env));
    const env = Object.entries(c.env).map(([k, v]) => shq(`${k}=${v}`)).join(' ');
    // enter returns once the container's mounts are made and its process started on its own.
    const cgroup = this.limits?.cgroup ? `NETDOJO_CGROUP=${sq(`${state}.cgroup`)} ` : '';
    const r = await this.shell.run(`${cgroup}NETDOJO_DETACH=1 NETDOJO_MOUNTS=${sq(mounts)} ${sq(join(this.dir, 'bin/enter'))} ${shq(netns)} env -i ${env} ${sq(join(this.dir, 'bin/container'))} ${sq(state)} ${sq(c.logPath)} ${shq(c.workingDir || '-')} ${c.argv.map(shq).join(' ')} >/dev/null </dev/null`);
    // As containerd reports a container whose mounts runc could not make.
    if (r.code !== 0) throw new Error(`failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: ${(r.stdout + r.stderr).trim().slice(-1500)}`);
  }

  /**
   * Sends a signal to a container's process (its PID as the sandbox sees it); KILL takes every
   * process of the container's cgroup with it, as a runtime's kill of a container does.
   */
  async signalContainer(id: string, signal: 'TERM' | 'KILL'): Promise<void> {
    const cg = this.cgroupOf(id);
    if (signal === 'KILL' && cg) await killAll(cg);
    const pid = Number(await readFile(`${this.stateOf(id)}.pid`, 'utf8').catch(() => ''));
    if (!pid) return;
    await this.shell.run(`kill -${signal} ${pid} 2>/dev/null || true`);
  }

  async containerState(id: string): Promise<ContainerState | undefined> {
    const read = (s: string) => readFile(`${this.stateOf(id)}.${s}`, 'utf8').then((t) => t.trim(), () => undefined);
    const mtime = (s: string) => stat(`${this.stateOf(id)}.${s}`).then((st) => st.mtime, () => undefined);
    const [pid, exit, startedAt, finishedAt] = await Promise.all([read('pid'), read('exit'), mtime('start'), mtime('end')]);
    if (pid === undefined && exit === undefined) return undefined;
    const cg = exit !== undefined ? this.cgroupOf(id) : undefined;
    // A container ends with its process, as a PID namespace does: what it left running is killed.
    if (cg) await killAll(cg);
    const oomKilled = cg ? (await oomKills(cg)) > 0 : undefined;
    return { running: exit === undefined, exitCode: exit !== undefined ? Number(exit) : undefined, startedAt, finishedAt, ...(oomKilled ? { oomKilled } : {}) };
  }

  async forgetContainer(id: string): Promise<void> {
    const cg = this.cgroupOf(id);
    if (cg) await removeCgroup(cg);
    await Promise.all(['pid', 'exit', 'start', 'end', 'mounts', 'env', 'cgroup'].map((s) => rm(`${this.stateOf(id)}.${s}`, { force: true })));
  }

  /** How to run a command in a running container: its mounts file, environment and cgroup, when it has them. */
  async containerContext(id: string): Promise<{ mounts?: string; env?: Record<string, string>; cgroup?: Cgroup }> {
    const env = await readFile(`${this.stateOf(id)}.env`, 'utf8').then((t) => JSON.parse(t) as Record<string, string>, () => undefined);
    const cgroup = existsSync(`${this.stateOf(id)}.cgroup`) ? this.cgroupOf(id) : undefined;
    return env ? { mounts: `${this.stateOf(id)}.mounts`, env, ...(cgroup ? { cgroup } : {}) } : {};
  }

  inPod(netns: string, argv: string[], timeoutMs: number): Promise<ExecResult> {
    const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
    return this.shell.run(`timeout -s KILL ${secs} ${sq(join(this.dir, 'bin/enter'))} ${shq(netns)} ${argv.map(shq).join(' ')}`);
  }

  onContainerChange(cb: (id: string) => void): () => void {
    const w = watch(this.containersDir, (_event, file) => {
      const f = String(file ?? '');
      if (f.endsWith('.exit') || f.endsWith('.pid')) cb(f.replace(/\.(exit|pid)$/, ''));
    });
    w.on('error', () => undefined);
    return () => w.close();
  }

  /** Ends the runtime's shell in the sandbox (the lab's cluster stopped). */
  close(): void {
    this.shell.close();
  }

  /** Runs a script in the sandbox's own network namespace: the host the nodes' network hangs off. */
  async inSandbox(script: string, what: string): Promise<void> {
    await this.must(script, what);
  }

  /** Runs a script in a node's network namespace (probes, kube-proxy's rules). */
  async inNode(node: string, script: string): Promise<ExecResult> {
    // From a file, not `sh -c`: one argument may not pass 128 KiB (MAX_ARG_STRLEN), and a node's
    // rules for many policies or Services do.
    const file = join(this.dir, 'run', `node-script-${this.nodeScripts++}.sh`);
    await writeFile(file, script);
    try {
      return await this.shell.run(`ip netns exec ${shq(node)} sh ${sq(file)}`);
    } finally {
      await rm(file, { force: true });
    }
  }
}
