import type { Page } from 'playwright-core';
import { EVALUATE_SHIM } from './browser.ts';

// Terminal measurements taken inside a real browser page (the lab page of netdojo), through the relay:
// keystroke echo latency, bulk output throughput and time for Ctrl-C to give the prompt back under a
// flood. Used by the browser tests (reported, never asserted) and reusable by `netdojo bench`.

export interface TerminalMeasurements {
  target: string;
  echo: { samples: number; p50: number; p95: number; max: number };
  throughput: { bytes: number; ms: number; mbPerS: number };
  ctrlC: { floodBytes: number; ms: number };
}

export interface MeasureOptions {
  /** Keystrokes timed for echo latency. */
  keystrokes?: number;
  /** Bytes printed for the throughput run. */
  bulkBytes?: number;
  /** Output to let through before pressing Ctrl-C. */
  floodBytes?: number;
  timeoutMs?: number;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/** Runs in the page: needs `window.netdojo.open(target)` (the lab page exposes it). */
export async function measureTerminal(page: Page, target: string, opts: MeasureOptions = {}): Promise<TerminalMeasurements> {
  const o = { keystrokes: 200, bulkBytes: 20 * 1024 * 1024, floodBytes: 2 * 1024 * 1024, timeoutMs: 120_000, ...opts };
  await page.evaluate(EVALUATE_SHIM);
  const raw = await page.evaluate(async ({ target, o }) => {
    type T = { term: { input(d: string, user?: boolean): void; onWriteParsed(cb: () => void): { dispose(): void };
      buffer: { active: { cursorY: number; baseY: number; length: number; getLine(i: number): { translateToString(trim?: boolean): string } | undefined } } };
      parsedBytes: number; status: string };
    const nd = (window as unknown as { netdojo: { open(t: string): T } }).netdojo;
    const t = nd.open(target);
    const deadline = performance.now() + o.timeoutMs;
    const lines = (n = 60) => {
      const b = t.term.buffer.active;
      const out: string[] = [];
      for (let i = Math.max(0, b.length - n); i < b.length; i++) out.push(b.getLine(i)?.translateToString(true) ?? '');
      return out;
    };
    const cursorLine = () => {
      const b = t.term.buffer.active;
      return b.getLine(b.baseY + b.cursorY)?.translateToString(true) ?? '';
    };
    const until = (cond: () => boolean, what: string) => new Promise<void>((resolve, reject) => {
      if (cond()) return resolve();
      const d = t.term.onWriteParsed(() => {
        if (cond()) { d.dispose(); clearTimeout(timer); resolve(); }
      });
      const timer = setTimeout(() => { d.dispose(); reject(new Error(`timed out waiting for ${what}; cursor line: ${JSON.stringify(cursorLine())}; last lines: ${lines(60).filter(Boolean).slice(-6).join(' | ')}`)); }, Math.max(0, deadline - performance.now()));
    });
    const run = async (cmd: string, marker: string) => {
      t.term.input(`${cmd}\r`, true);
      await until(() => lines().some((l) => l === marker), marker);
    };
    // A connected terminal at a prompt, with an empty line.
    await until(() => t.status === 'connected', 'a connection');
    // Ctrl-U (not Ctrl-C: a signal races with the keys typed after it) clears a half-typed line.
    t.term.input('\x15', true);
    await until(() => t.status === 'connected' && /[#$] ?$/.test(cursorLine().trimEnd()), 'a prompt');
    await run('echo ready-$((1+1))', 'ready-2');

    // Echo latency: one character at a time, each timed from input to the echo parsed by xterm.
    const echo: number[] = [];
    for (let i = 0; i < o.keystrokes; i++) {
      const ch = String.fromCharCode(97 + (i % 26));
      const before = cursorLine().trimEnd().length;
      const t0 = performance.now();
      t.term.input(ch, true);
      await until(() => cursorLine().trimEnd().length > before, 'an echoed key');
      echo.push(performance.now() - t0);
      if (i % 40 === 39) {
        // Ctrl-U: keep the line short; wait for the line to be back to the bare prompt.
        const long = cursorLine().trimEnd().length;
        t.term.input('\x15', true);
        await until(() => cursorLine().trimEnd().length < long, 'the line to clear');
      }
    }
    t.term.input('\x15', true);
    await run('echo echo-done-$((2+3))', 'echo-done-5');

    // Throughput: print bulkBytes of text lines, time until the end marker is parsed.
    const b0 = t.parsedBytes;
    const t0 = performance.now();
    await run(`yes 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz | head -c ${o.bulkBytes}; echo; echo bulk-$((4+5))`, 'bulk-9');
    const bulkMs = performance.now() - t0;
    const bulkBytes = t.parsedBytes - b0;

    // Ctrl-C under a flood: time from Ctrl-C to the prompt back. Keys typed before the prompt
    // returns race the shell's handling of the signal (bash can lose the first one), so the
    // next command waits for it.
    const f0 = t.parsedBytes;
    t.term.input('yes flood-flood-flood-flood-flood\r', true);
    await until(() => t.parsedBytes - f0 > o.floodBytes, 'the flood');
    const c0 = performance.now();
    t.term.input('\x03', true);
    await until(() => /[#$]$/.test(cursorLine().trimEnd()), 'the prompt after Ctrl-C');
    const ctrlMs = performance.now() - c0;
    await run('echo ctrlc-$((3+4))', 'ctrlc-7');
    return { echo, bulkMs, bulkBytes, flood: t.parsedBytes - f0, ctrlMs };
  }, { target, o });
  return {
    target,
    echo: { samples: raw.echo.length, p50: quantile(raw.echo, 0.5), p95: quantile(raw.echo, 0.95), max: Math.max(...raw.echo) },
    throughput: { bytes: raw.bulkBytes, ms: raw.bulkMs, mbPerS: raw.bulkBytes / 1e6 / (raw.bulkMs / 1000) },
    ctrlC: { floodBytes: raw.flood, ms: raw.ctrlMs },
  };
}

export function formatMeasurements(m: TerminalMeasurements): string {
  return [
    `terminal ${m.target}: keystroke echo p50 ${m.echo.p50.toFixed(1)} ms, p95 ${m.echo.p95.toFixed(1)} ms (n=${m.echo.samples}, max ${m.echo.max.toFixed(1)} ms)`,
    `bulk output ${(m.throughput.bytes / 1e6).toFixed(1)} MB in ${m.throughput.ms.toFixed(0)} ms = ${m.throughput.mbPerS.toFixed(1)} MB/s`,
    `Ctrl-C under a flood (${(m.ctrlC.floodBytes / 1e6).toFixed(1)} MB shown): prompt back and next command echoed in ${m.ctrlC.ms.toFixed(0)} ms`,
  ].join('\n');
}
