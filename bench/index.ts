import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { labsDir } from '../server/lab/naming.ts';
import { findHolders } from '../server/providers/netns/sandbox.ts';
import { Cleanup } from './cleanup.ts';
import { clusterHostPid, stopClusterHost } from './clusterhost.ts';
import { benchCheck } from './check.ts';
import { benchContainers } from './containers.ts';
import type { BenchContext } from './context.ts';
import { benchKube } from './kube.ts';
import { benchLifecycle } from './lifecycle.ts';
import { benchLimits } from './limits.ts';
import { benchUserns } from './userns.ts';
import { benchExam } from './exam.ts';
import { benchNetpol } from './netpol.ts';
import { benchOutside } from './outside.ts';
import { machineFacts } from './machine.ts';
import { benchProbes } from './probes.ts';
import { formatMarkdown, formatText } from './report.ts';
import { benchScale } from './scale.ts';
import { benchTerminal } from './terminal.ts';
import type { BenchResult, Section, SECTIONS } from './types.ts';

// `netdojo bench [--json] [--quick]` (also `npm run bench`): measures netdojo on this machine and
// writes bench/RESULTS.md. Every lab lives under a temporary NETDOJO_HOME, so the user's labs are
// never touched; everything created is registered with one cleanup path that runs at the end, on
// failure and on Ctrl-C. Exit 0 when every section ran or was skipped for something the machine
// lacks; 1 when a section failed.

export const RESULTS_MD = fileURLToPath(new URL('./RESULTS.md', import.meta.url));

export interface BenchOptions {
  json: boolean;
  quick: boolean;
  /** Run only these sections; the others are skipped and bench/RESULTS.md is left as it is. */
  only?: string[];
}

/** Kills the holder of every lab still in the bench's state directory (each takes its sandbox with it). */
async function sweepLabs(): Promise<void> {
  const holders = await findHolders(labsDir());
  for (const pid of holders.values()) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  const gone = (pid: number) => { try { process.kill(pid, 0); return false; } catch { return true; } };
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && [...holders.values()].some((p) => !gone(p))) await new Promise((r) => setTimeout(r, 20));
}

async function section<T>(name: typeof SECTIONS[number], ctx: BenchContext, fn: () => Promise<Section<T>>): Promise<Section<T>> {
  if (ctx.only && !ctx.only.includes(name)) return { status: 'skipped', reason: `not selected (--only ${ctx.only.join(' ')})` };
  const t0 = performance.now();
  ctx.log(`${name}: start`);
  try {
    const s = await fn();
    ctx.log(`${name}: ${s.status === 'skipped' ? `skipped: ${s.reason}` : 'done'} (${Math.round((performance.now() - t0) / 1000)} s)`);
    return s;
  } catch (e) {
    const error = e instanceof Error ? e.message : String(e);
    ctx.log(`${name}: FAILED: ${error}`);
    return { status: 'failed', error };
  }
}

const ran = async <T>(p: Promise<T>): Promise<Section<T>> => ({ status: 'ok', data: await p });

export async function runBench(opts: BenchOptions): Promise<number> {
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const previousHome = process.env.NETDOJO_HOME;
  const home = mkdtempSync(join(tmpdir(), 'netdojo-bench-'));
  process.env.NETDOJO_HOME = home;
  const cleanup = new Cleanup();
  // Registered first, so they run last: after every lab, container and process is gone. The
  // cluster host leaves with its state directory.
  cleanup.add('bench state directory and its cluster host', async () => {
    const host = await clusterHostPid(home);
    rmSync(home, { recursive: true, force: true });
    await stopClusterHost(host);
  });
  cleanup.add('labs left in the bench state directory', sweepLabs);
  const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
  const offSignals = cleanup.onSignals(log);
  const ctx: BenchContext = { quick: opts.quick, cleanup, log, runId: randomBytes(4).toString('hex'), home, only: opts.only };

  let result: BenchResult;
  let cleanupProblems: string[] = [];
  try {
    const machine = await machineFacts();
    // First: its first lab is the run's first, so it is the one that starts the cluster host.
    const kube = await section('kube', ctx, () => ran(benchKube(ctx)));
    const netpol = await section('netpol', ctx, () => ran(benchNetpol(ctx)));
    const outside = await section('outside', ctx, () => ran(benchOutside(ctx)));
    const lifecycle = await section('lifecycle', ctx, () => ran(benchLifecycle(ctx)));
    const limits = await section('limits', ctx, () => ran(benchLimits(ctx)));
    const check = await section('check', ctx, () => ran(benchCheck(ctx)));
    const userns = await section('userns', ctx, () => benchUserns(ctx));
    const exam = await section('exam', ctx, () => ran(benchExam(ctx)));
    const containers = await section('containers', ctx, () => benchContainers(ctx));
    const probes = await section('probes', ctx, () => ran(benchProbes(ctx)));
    const terminal = await section('terminal', ctx, () => benchTerminal(ctx));
    const scale = await section('scale', ctx, () => ran(benchScale(ctx)));
    result = {
      version: 1, quick: opts.quick, command: `netdojo bench${opts.json ? ' --json' : ''}${opts.quick ? ' --quick' : ''}${opts.only ? ` --only ${opts.only.join(' ')}` : ''}`,
      startedAt, totalMs: 0, machine, lifecycle, check, scale, terminal, containers, probes, kube, netpol, outside, limits, userns, exam, cleanup: [],
    };
  } finally {
    cleanupProblems = await cleanup.run();
    offSignals();
    if (previousHome === undefined) delete process.env.NETDOJO_HOME;
    else process.env.NETDOJO_HOME = previousHome;
  }
  result.cleanup = cleanupProblems;
  result.machine.load.end = loadavg();
  result.totalMs = performance.now() - t0;

  // A run of some sections only would replace the others' figures with nothing.
  if (!opts.only) writeFileSync(RESULTS_MD, formatMarkdown(result));
  process.stdout.write(opts.json ? `${JSON.stringify(result, null, 2)}\n` : formatText(result, !opts.only));
  const failed = [result.lifecycle, result.check, result.scale, result.terminal, result.containers, result.probes, result.kube, result.netpol, result.outside, result.limits, result.userns, result.exam].some((s) => s.status === 'failed');
  return failed || result.cleanup.length ? 1 : 0;
}
