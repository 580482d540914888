import { readFile } from 'node:fs/promises';
import { cpus, loadavg, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import { LAB_PATH } from '../server/providers/netns/sandbox.ts';
import { run } from '../server/util/run.ts';
import { parseMeminfo } from './memory.ts';
import type { MachineFacts } from './types.ts';

// What the numbers were measured on: they mean little without it.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The tools labs run are found on the labs' PATH (not, say, a version manager's shims first). */
const PATH = LAB_PATH;

/** Tool → command printing its version; the first non-empty line of the output is kept. */
const TOOLS: Record<string, string> = {
  bash: 'bash --version',
  iproute2: 'ip -V',
  iptables: 'iptables -V',
  dnsmasq: 'dnsmasq --version',
  python3: 'python3 --version',
  'util-linux': 'unshare --version',
  curl: 'curl --version',
  dig: 'dig -v',
  // The client only: the engine may not run yet (the containers section reports its version).
  docker: "docker version --format 'client {{.Client.Version}}' 2>/dev/null | head -1",
  chromium: '${CHROMIUM:-chromium} --version',
};

/** The first line of /proc/cpuinfo's "model name" (or "Hardware"/"cpu model" on other arches). */
export function cpuModel(cpuinfo: string): string {
  const m = cpuinfo.match(/^(?:model name|Hardware|cpu model|Model)\s*:\s*(.+)$/m);
  return m ? m[1].trim() : 'unknown';
}

/** PRETTY_NAME of /etc/os-release. */
export function osName(osRelease: string): string {
  const m = osRelease.match(/^PRETTY_NAME="?([^"\n]*)"?$/m);
  return m ? m[1] : 'unknown';
}

/** The first line a command prints on stdout, else on stderr (dig -v); "not found" when it is not installed. */
export function versionLine(r: { code: number | null; stdout: string; stderr: string }): string {
  const first = (s: string) => s.split('\n').map((l) => l.trim()).find(Boolean);
  if (r.code === 127) return 'not found';
  const line = first(r.stdout) ?? first(r.stderr) ?? '';
  return r.code === 0 ? line : `${line} (exit ${r.code})`.trim();
}

async function firstLine(cmd: string): Promise<string> {
  return versionLine(await run('bash', ['-c', cmd], { timeoutMs: 10_000, env: { ...process.env, PATH } }));
}

export async function machineFacts(): Promise<MachineFacts> {
  const [cpuinfo, mem, osr] = await Promise.all([
    readFile('/proc/cpuinfo', 'utf8').catch(() => ''),
    readFile('/proc/meminfo', 'utf8').catch(() => ''),
    readFile('/etc/os-release', 'utf8').catch(() => ''),
  ]);
  const tools: Record<string, string> = {};
  for (const [name, cmd] of Object.entries(TOOLS)) tools[name] = await firstLine(cmd);
  const commit = await run('git', ['-C', ROOT, 'describe', '--always', '--dirty', '--abbrev=12'], { timeoutMs: 10_000 });
  return {
    cpu: cpuModel(cpuinfo) !== 'unknown' ? cpuModel(cpuinfo) : (cpus()[0]?.model ?? 'unknown'),
    cores: cpus().length,
    memoryBytes: parseMeminfo(mem).MemTotal ?? 0,
    kernel: release(),
    os: osName(osr),
    node: process.version,
    user: process.getuid?.() === 0 ? 'root' : 'rootless',
    commit: commit.code === 0 ? commit.stdout.trim() : 'unknown',
    load: { start: loadavg() },
    tools,
  };
}
