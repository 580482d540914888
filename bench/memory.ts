import { readdir, readFile, readlink } from 'node:fs/promises';

// Memory of a lab, two ways:
// - processes: the sum of Rss and Pss (/proc/<pid>/smaps_rollup) of every process in the lab's
//   sandbox, found as the processes sharing the sandbox's PID namespace (plus its holder, which
//   lives outside it). Pss splits shared pages (libraries, the python binary) among their users,
//   so it is the fair "cost of one more lab"; Rss counts shared pages in full for every process.
// - kernel: how far MemAvailable and Slab (/proc/meminfo) moved per lab as labs were added. This
//   covers what no process owns: namespaces, bridges, veths, conntrack and iptables tables, tmpfs.

/** /proc/meminfo → bytes per field ("MemAvailable: 123 kB" → 125952). */
export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = line.match(/^([A-Za-z0-9_()]+):\s+(\d+)(?:\s+kB)?\s*$/);
    if (!m) continue;
    out[m[1]] = Number(m[2]) * (line.trimEnd().endsWith('kB') ? 1024 : 1);
  }
  return out;
}

/** Rss and Pss in bytes from /proc/<pid>/smaps_rollup. */
export function parseSmapsRollup(text: string): { rss: number; pss: number } {
  const field = (name: string) => {
    const m = text.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'));
    if (!m) throw new Error(`smaps_rollup has no ${name} line`);
    return Number(m[1]) * 1024;
  };
  return { rss: field('Rss'), pss: field('Pss') };
}

export async function meminfo(): Promise<Record<string, number>> {
  return parseMeminfo(await readFile('/proc/meminfo', 'utf8'));
}

/** The PID namespace a process lives in ("pid:[4026532301]"). */
export async function pidNamespace(pid: number): Promise<string> {
  return readlink(`/proc/${pid}/ns/pid`);
}

/** Every process whose PID namespace is `ns`. */
export async function processesIn(ns: string): Promise<number[]> {
  const pids: number[] = [];
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const n = await readlink(`/proc/${e}/ns/pid`).catch(() => undefined);
    if (n === ns) pids.push(Number(e));
  }
  return pids;
}

export interface ProcessMemory { processes: number; rss: number; pss: number }

/** Summed memory of the given processes; ones that exit meanwhile are skipped. */
export async function processMemory(pids: readonly number[]): Promise<ProcessMemory> {
  const total: ProcessMemory = { processes: 0, rss: 0, pss: 0 };
  for (const pid of pids) {
    const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => undefined);
    if (!text) continue;
    const m = parseSmapsRollup(text);
    total.processes++;
    total.rss += m.rss;
    total.pss += m.pss;
  }
  return total;
}

/** Every process on the host, grouped by PID namespace (one pass over /proc for many labs). */
export async function processesByNamespace(): Promise<Map<string, number[]>> {
  const by = new Map<string, number[]>();
  for (const e of await readdir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const n = await readlink(`/proc/${e}/ns/pid`).catch(() => undefined);
    if (!n) continue;
    const list = by.get(n) ?? [];
    list.push(Number(e));
    by.set(n, list);
  }
  return by;
}

/** A netns lab's processes: the holder, and everything in the PID namespace of the sandbox's init. */
export async function labMemory(handle: { holderPid: number; initPid: number }, byNs?: Map<string, number[]>): Promise<ProcessMemory> {
  const ns = await pidNamespace(handle.initPid);
  const pids = new Set(byNs ? byNs.get(ns) ?? [] : await processesIn(ns));
  pids.add(handle.holderPid);
  return processMemory([...pids]);
}
