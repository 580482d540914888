import { execFileSync } from 'node:child_process';
import { copyFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { WEB_PY, WEB_PY_IN_IMAGE } from '../../cluster/images.ts';
import { DOCKER, imageExists } from './docker.ts';
import { must, run } from '../../util/run.ts';

// The probe/backend image every kind lab runs (client pods and the web Deployment), built offline.
//
// Why this way: netdojo must work where no registry is reachable, and `docker build FROM debian`
// pulls a base image. debootstrap needs a Debian mirror and minutes. Instead we assemble a root
// filesystem from binaries already on the host (bash, coreutils, curl, dig, ping, ip, ss, python3)
// plus exactly the shared libraries `ldd` says they load, and `docker import` it: no pull, no
// mirror, a few seconds, ~60 MB. The same file server/workloads/web.py that the netns provider runs
// is the web backend, so both providers answer /hostname, /bytes/N and /upload identically.

export const PROBE_IMAGE = 'netdojo/probe:0.1.0';
export const IMAGE_LABEL = 'io.netdojo.image';

export { WEB_PY, WEB_PY_IN_IMAGE } from '../../cluster/images.ts';

const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Tools put into the image: required ones fail the build when missing on the host. */
export const IMAGE_TOOLS: { name: string; required: boolean; pkg: string }[] = [
  // coreutils the grader's batch scripts and a learner's shell rely on (mktemp, base64, timeout…)
  ...['bash', 'cat', 'sleep', 'timeout', 'env', 'ls', 'head', 'tail', 'wc', 'tr', 'cut', 'sort', 'uniq', 'date', 'mkdir', 'rm', 'rmdir',
    'cp', 'mv', 'ln', 'touch', 'chmod', 'printf', 'echo', 'id', 'uname', 'tee', 'seq', 'mktemp', 'base64', 'od', 'dd', 'stat', 'basename',
    'dirname', 'sha256sum', 'expr', 'true', 'false', 'yes', 'nproc', 'readlink', 'realpath']
    .map((name) => ({ name, required: true, pkg: name === 'bash' ? 'bash' : 'coreutils' })),
  { name: 'sh', required: true, pkg: 'dash' },
  { name: 'grep', required: true, pkg: 'grep' },
  { name: 'xargs', required: false, pkg: 'findutils' },
  { name: 'find', required: false, pkg: 'findutils' },
  { name: 'sed', required: true, pkg: 'sed' },
  { name: 'awk', required: false, pkg: 'mawk' },
  { name: 'hostname', required: false, pkg: 'hostname' },
  { name: 'ps', required: false, pkg: 'procps' },
  { name: 'kill', required: false, pkg: 'procps' },
  { name: 'curl', required: true, pkg: 'curl' },
  { name: 'dig', required: true, pkg: 'bind9-dnsutils' },
  { name: 'nslookup', required: false, pkg: 'bind9-dnsutils' },
  { name: 'ping', required: true, pkg: 'iputils-ping' },
  { name: 'tracepath', required: false, pkg: 'iputils-tracepath' },
  { name: 'ip', required: true, pkg: 'iproute2' },
  { name: 'ss', required: false, pkg: 'iproute2' },
  { name: 'nc', required: false, pkg: 'netcat-openbsd' },
  { name: 'tcpdump', required: false, pkg: 'tcpdump' },
  { name: 'python3', required: true, pkg: 'python3' },
];

function which(name: string): string | undefined {
  for (const dir of SYSTEM_PATH.split(':')) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** Host tools the image needs but the host lacks, with the Debian package that provides each. */
export function missingImageTools(): { name: string; pkg: string }[] {
  return IMAGE_TOOLS.filter((t) => t.required && !which(t.name)).map(({ name, pkg }) => ({ name, pkg }));
}

function ldd(file: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return []; // static binaries, scripts
  }
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = line.match(/=>\s*(\/\S+)/) ?? line.match(/^\s*(\/\S+)\s+\(/);
    if (m) libs.push(m[1]);
  }
  return libs;
}

/** Copies a host file to the same path under root, following symlinks for the content. */
function copyInto(root: string, hostPath: string, at = hostPath): void {
  const dest = join(root, at);
  if (existsSync(dest)) return;
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(realpathSync(hostPath), dest);
  chmodSync(dest, statSync(realpathSync(hostPath)).mode & 0o7777);
}

function copyTree(root: string, src: string, skip: (rel: string) => boolean, onFile: (p: string) => void): void {
  for (const ent of readdirSync(src, { withFileTypes: true })) {
    const p = join(src, ent.name);
    const rel = relative(src, p);
    if (skip(ent.name) || skip(rel)) continue;
    if (ent.isDirectory()) copyTree(root, p, skip, onFile);
    else if (ent.isFile() || ent.isSymbolicLink()) {
      if (ent.isSymbolicLink() && !existsSync(p)) continue;
      if (statSync(p).isDirectory()) continue;
      copyInto(root, p);
      onFile(p);
    }
  }
}

const PY_SKIP = new Set(['test', 'tests', 'idlelib', 'tkinter', 'turtledemo', 'ensurepip', 'lib2to3', '__pycache__', 'site-packages', 'dist-packages', 'pydoc_data']);

/** Assembles the image's root filesystem in dir; returns the files (host paths) it took. */
export function assembleRootfs(dir: string): string[] {
  const missing = missingImageTools();
  if (missing.length) {
    throw new Error(`cannot build ${PROBE_IMAGE}: the host lacks ${missing.map((m) => m.name).join(', ')} (apt-get install ${[...new Set(missing.map((m) => m.pkg))].join(' ')})`);
  }
  // Merged /usr, as on Debian 12 and the hosts the binaries come from.
  for (const d of ['usr/bin', 'usr/sbin', 'usr/lib', 'usr/lib64', 'etc', 'tmp', 'root', 'opt/netdojo', 'proc', 'sys', 'dev', 'run', 'var/tmp']) mkdirSync(join(dir, d), { recursive: true });
  for (const [link, to] of [['bin', 'usr/bin'], ['sbin', 'usr/sbin'], ['lib', 'usr/lib'], ['lib64', 'usr/lib64']]) {
    if (!existsSync(join(dir, link))) symlinkSync(to, join(dir, link));
  }
  chmodSync(join(dir, 'tmp'), 0o1777);
  const taken: string[] = [];
  const libs = new Set<string>();
  for (const t of IMAGE_TOOLS) {
    const p = which(t.name);
    if (!p) continue;
    // Every tool lands in /usr/bin under its own name (content of the symlink target: awk → mawk).
    copyInto(dir, p, `/usr/bin/${t.name}`);
    taken.push(p);
    for (const l of ldd(p)) libs.add(l);
  }
  // python3: the interpreter at its real path (it finds its stdlib relative to itself) and the stdlib.
  const py = which('python3')!;
  const [exe, stdlib, platstdlib] = execFileSync(py, ['-c', 'import sys,sysconfig;p=sysconfig.get_paths();print(sys.executable);print(p["stdlib"]);print(p["platstdlib"])'], { encoding: 'utf8' }).trim().split('\n');
  const realExe = realpathSync(exe);
  copyInto(dir, realExe);
  for (const lib of [stdlib, platstdlib]) {
    copyTree(dir, lib, (rel) => PY_SKIP.has(rel) || rel.startsWith('config-'), (f) => {
      if (f.endsWith('.so')) for (const l of ldd(f)) libs.add(l);
    });
  }
  for (const l of libs) copyInto(dir, l);
  // The loader and glibc's NSS modules that getaddrinfo may dlopen.
  for (const l of [...libs]) {
    const d = dirname(l);
    for (const f of existsSync(d) ? readdirSync(d) : []) {
      if (/^libnss_(files|dns)\.so\.\d+$/.test(f) || /^libresolv\.so\.\d+$/.test(f)) copyInto(dir, join(d, f));
    }
  }
  for (const ti of ['x/xterm', 'x/xterm-256color', 'd/dumb', 'v/vt100', 'l/linux']) {
    for (const base of ['/usr/share/terminfo', '/lib/terminfo']) {
      const p = join(base, ti);
      if (existsSync(p)) copyInto(dir, p);
    }
  }
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(join(dir, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n');
  writeFileSync(join(dir, 'etc/hosts'), '127.0.0.1 localhost\n');
  if (existsSync('/etc/protocols')) copyInto(dir, '/etc/protocols');
  if (existsSync('/etc/services')) copyInto(dir, '/etc/services');
  writeFileSync(join(dir, 'etc/os-release'), 'NAME="netdojo probe"\nID=netdojo\n');
  writeFileSync(join(dir, 'root/.bashrc'), 'PS1="[\\h] \\w# "\n');
  // python3 finds its stdlib relative to its real path: make /usr/bin/python3 a symlink to it.
  if (realExe !== '/usr/bin/python3') {
    rmSync(join(dir, 'usr/bin/python3'), { force: true });
    symlinkSync(realExe, join(dir, 'usr/bin/python3'));
  }
  copyFileSync(WEB_PY, join(dir, WEB_PY_IN_IMAGE.slice(1)));
  return taken;
}

export interface BuildOptions {
  ref?: string;
  /** Extra image labels (tests put KIND_LAB_LABEL on theirs so cleanup finds them). */
  labels?: Record<string, string>;
  onLine?: (line: string) => void;
}

/** Builds the probe/backend image into the local Docker engine with `docker import`; returns its ref. */
export async function buildProbeImage(opts: BuildOptions = {}): Promise<string> {
  const ref = opts.ref ?? PROBE_IMAGE;
  const dir = mkdtempSync(join(tmpdir(), 'netdojo-rootfs-'));
  try {
    const root = join(dir, 'rootfs');
    mkdirSync(root);
    const taken = assembleRootfs(root);
    opts.onLine?.(`assembled a root filesystem from ${taken.length} host tools`);
    const tarball = join(dir, 'rootfs.tar');
    await must('tar', ['-C', root, '--numeric-owner', '--owner=0', '--group=0', '-cf', tarball, '.'], { timeoutMs: 120_000 });
    const labels = { [IMAGE_LABEL]: 'probe', ...opts.labels };
    const changes = [
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'WORKDIR /root',
      'CMD ["/usr/bin/sleep","infinity"]',
      ...Object.entries(labels).map(([k, v]) => `LABEL ${k}=${v}`),
    ];
    await must(DOCKER, ['import', ...changes.flatMap((c) => ['--change', c]), tarball, ref], { timeoutMs: 300_000 });
    opts.onLine?.(`imported ${ref}`);
    return ref;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Images a lab needs inside its nodes. */
export const LAB_IMAGES = [PROBE_IMAGE];

/** `kind load docker-image` of every lab image into a cluster (nothing is pulled inside nodes). */
export async function loadImages(kind: string, cluster: string, images = LAB_IMAGES): Promise<void> {
  for (const img of images) {
    if (!(await imageExists(img))) {
      throw new Error(`image ${img} is not in the local Docker engine: run \`netdojo images\` first`);
    }
    await must(kind, ['load', 'docker-image', img, '--name', cluster], { timeoutMs: 600_000 });
  }
}

/** `netdojo images`: builds the lab images when absent (or when rebuild), then loads them into clusters given. */
export async function prepareImages(opts: { rebuild?: boolean; kind?: string; clusters?: string[]; onLine?: (l: string) => void } = {}): Promise<string[]> {
  const done: string[] = [];
  if (opts.rebuild || !(await imageExists(PROBE_IMAGE))) {
    await buildProbeImage({ onLine: opts.onLine });
    done.push(`built ${PROBE_IMAGE}`);
  } else {
    done.push(`${PROBE_IMAGE} present`);
  }
  for (const c of opts.clusters ?? []) {
    await loadImages(opts.kind ?? 'kind', c);
    done.push(`loaded into ${c}`);
  }
  return done;
}

export async function removeImage(ref: string): Promise<void> {
  await run(DOCKER, ['image', 'rm', '-f', ref], { timeoutMs: 60_000 });
}

