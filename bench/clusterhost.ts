import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { processMemory, type ProcessMemory } from './memory.ts';

// The cluster host: the one process per state directory that serves every netns lab's Kubernetes
// API and runs its controllers and kubelets (server/providers/netns/clusterd.ts). It starts with a
// state directory's first lab and writes its PID to clusterd.pid there; its memory is part of what
// each lab costs.

const pidFile = (home: string) => join(home, 'clusterd.pid');

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

/** The cluster host's PID for the state directory `home`, when it runs. */
export async function clusterHostPid(home: string): Promise<number | undefined> {
  const text = await readFile(pidFile(home), 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}

/** Rss and Pss of the cluster host (zeros when it does not run). */
export async function clusterHostMemory(home: string): Promise<ProcessMemory> {
  const pid = await clusterHostPid(home);
  return pid ? processMemory([pid]) : { processes: 0, rss: 0, pss: 0 };
}

/**
 * The cleanup step: the host exits by itself within a second or two once its state directory is
 * gone; one that is still there after `graceMs` is ended by its PID (read before the directory went).
 */
export async function stopClusterHost(pid: number | undefined, graceMs = 10_000): Promise<void> {
  if (!pid) return;
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && alive(pid)) await new Promise((r) => setTimeout(r, 50));
  if (!alive(pid)) return;
  process.kill(pid, 'SIGKILL');
  throw new Error(`the cluster host (PID ${pid}) did not exit within ${graceMs / 1000} s of its state directory going; killed`);
}
