import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// What the real-lab tests need, so each skips with a message naming exactly what is missing.

export const LAB_TOOLS = ['ip', 'iptables', 'iptables-restore', 'conntrack', 'dnsmasq', 'python3', 'unshare', 'nsenter', 'setsid', 'dig', 'curl', 'ping', 'ss', 'timeout', 'base64', 'socat', 'openssl', 'kubectl', 'dtach', 'nginx'];

const PATH = `${process.env.PATH}:/usr/sbin:/sbin`;
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { env: { ...process.env, PATH } }).status === 0;

/** Why real netns labs cannot be built here, or undefined when they can (as root or rootless). */
export function labsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'netns labs need Linux';
  const missing = LAB_TOOLS.filter((t) => !has(t));
  if (missing.length) return `netns labs need these tools on PATH: ${missing.join(', ')}`;
  if (process.getuid?.() !== 0 && spawnSync('unshare', ['--user', '--map-root-user', '--net', 'true']).status !== 0) {
    return 'netns labs need root or unprivileged user namespaces (unshare --user --map-root-user failed)';
  }
  return undefined;
}

/** Why a rootless run (as an unprivileged user) cannot be tested here, or undefined. */
export function rootlessUnavailable(): string | undefined {
  const labs = labsUnavailable();
  if (labs) return labs;
  if (process.getuid?.() !== 0) return undefined; // already unprivileged: every lab test is rootless
  if (!has('setpriv')) return 'rootless test needs setpriv (util-linux) to drop to an unprivileged user';
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'unshare', '--user', '--map-root-user', '--net', 'true']);
  if (r.status !== 0) return `unprivileged user namespaces are disabled here: ${r.stderr.toString().trim()}`;
  const cli = join(REPO, 'server', 'netdojo.mjs');
  const reads = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', `test -r '${cli}' && test -x '${process.execPath}'`]);
  if (reads.status !== 0) return `rootless test runs as uid 65534, which cannot read ${cli} or run ${process.execPath} (a directory on the way is not world-readable)`;
  return undefined;
}

/** A private state directory for a test's labs, so tests never see (or reap) each other's labs. */
export function tempHome(prefix = 'netdojo-test-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The versioned kubectl binaries beside the machine's kubectl (its dispatcher), by minor: "1.30" → path. */
export function kubectlMinors(): Map<string, string> {
  const r = spawnSync('sh', ['-c', 'd=$(dirname "$(readlink -f "$(command -v kubectl)")") && ls "$d" | sed -n "s/^kubectl\\.\\(1\\.[0-9]*\\)$/\\1/p" | while read m; do echo "$m $d/kubectl.$m"; done'], { encoding: 'utf8' });
  return new Map(r.stdout.trim().split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}

/** The host's network namespaces with names a lab's nodes and pods have (other test files build
 *  host namespaces of their own meanwhile, under other names). */
export const hostNetns = () => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', env: { ...process.env, PATH } }).stdout
  .split('\n').filter((n) => /^(control-plane|worker|laptop|internet|pod_)/.test(n)).join('\n');
