import { userInfo } from 'node:os';
import { basename, join } from 'node:path';
import { formatReport } from '../../grader/report.ts';
import { stateDir } from '../lab/naming.ts';
import { LabError, type ProviderName } from '../lab/types.ts';
import { realBackend } from '../manager/backend.ts';
import { LabManager, UserError } from '../manager/manager.ts';
import type { AttemptRow } from '../store/exams.ts';
import { SqliteStore } from '../store/store.ts';
import { PtyHost } from '../terminal/host.ts';
import { formatTable } from '../util/table.ts';
import { ExamAttempts } from './attempt.ts';
import { libraryScenarios, loadExams } from './load.ts';

// `netdojo exam <id>`: an attempt without the web server, for scripts and CI. The same attempt
// engine, lab manager and store as the web server, in this process: the labs come up, the user works
// on them with `netdojo exec` / `netdojo shell`, and the attempt ends when time is up, on
// `netdojo exam finish <attempt>` (from another shell: a request in the store, which this process
// watches) or on Ctrl-C; then every task is graded as it stands and the labs are stopped.

export interface HeadlessOptions {
  exam: string;
  minutes?: number;
  provider?: ProviderName;
  /** Progress and the labs' table (stderr). */
  log: (line: string) => void;
  /** How often a finish request is looked for. */
  pollMs?: number;
}

/** Who runs exams from the command line, in the progress store. */
const cliUser = () => `cli-${userInfo().username}`;

const WATCHED_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export async function runExam(o: HeadlessOptions): Promise<AttemptRow> {
  const catalog = await loadExams(await libraryScenarios());
  const store = new SqliteStore(join(stateDir(), 'progress.db'));
  const ptyHost = new PtyHost();
  const manager = new LabManager({ backend: realBackend(), store, ptyHost, provider: o.provider ?? 'netns', limits: { examLabs: 30 } });
  const attempts = new ExamAttempts({ manager, store, runner: 'cli', exams: async () => catalog, log: o.log });
  try {
    // An exam file with problems says what they are, rather than that there is no such exam.
    const invalid = catalog.errors.find((e) => basename(e.file) === `${o.exam}.yaml`);
    if (invalid) throw invalid;
    if (!catalog.exams.some((e) => e.spec.id === o.exam)) {
      throw new LabError(`no exam "${o.exam}"; available: ${catalog.exams.map((e) => e.spec.id).join(', ') || '(none)'}`, 'netdojo exams lists them');
    }
    let a: AttemptRow;
    try {
      a = await attempts.start(cliUser(), o.exam, { minutes: o.minutes });
    } catch (e) {
      if (e instanceof UserError) throw new LabError(e.message);
      throw e;
    }
    const end = (reason: string) => void attempts.end(a.id, reason).catch((e) => o.log(`netdojo: grading failed: ${(e as Error).message}`));
    let signalled = 0;
    const onSignal = () => {
      if (signalled++) o.log('Still grading; the labs are stopped once it is done.');
      else { o.log('Grading every task as it stands…'); end('stopped by the user'); }
    };
    for (const s of WATCHED_SIGNALS) process.on(s, onSignal);
    const watch = setInterval(() => { if (store.exams.attempt(a.id)?.finishRequestedAt) end('finished with netdojo exam finish'); }, o.pollMs ?? 500);
    try {
      o.log(`${a.title}: attempt ${a.id}, ${a.tasks.length} tasks, ${Math.round((a.deadline - a.startedAt) / 60_000)} minutes, pass at ${a.passMark} %. Bringing up the labs…`);
      const t0 = Date.now();
      await attempts.started(a);
      o.log(`Labs ready in ${((Date.now() - t0) / 1000).toFixed(1)} s:\n`);
      o.log(formatTable([['TASK', 'WEIGHT', 'SCENARIO', 'LAB', 'STATE'], ...a.tasks.map((t) => {
        const m = attempts.lab(a, t.n);
        return [String(t.n), String(t.weight), t.scenario, t.lab ?? '-', m?.phase === 'failed' ? `failed: ${m.error}` : m?.phase ?? 'gone'];
      })]));
      const until = new Date(a.deadline).toTimeString().slice(0, 5);
      o.log(`\nWork on a task's lab: netdojo shell <lab> [target], netdojo exec <lab> <target> -- <argv...>\nTime is up at ${until}; end earlier with: netdojo exam finish ${a.id} (or Ctrl-C)`);
      return await attempts.ended(a.id);
    } finally {
      clearInterval(watch);
      for (const s of WATCHED_SIGNALS) process.off(s, onSignal);
    }
  } finally {
    attempts.close();
    await manager.close();
    await ptyHost.dispose();
    store.close();
  }
}

/** Asks the process running a CLI attempt to end it, and waits for its result. */
export async function finishExam(id: string, o: { timeoutMs?: number; pollMs?: number } = {}): Promise<AttemptRow> {
  const store = new SqliteStore(join(stateDir(), 'progress.db'));
  try {
    const a = store.exams.attempt(id);
    if (!a) throw new LabError(`no exam attempt "${id}" on this machine`, 'netdojo exam <exam> prints the id of the attempt it runs');
    if (a.finishedAt !== null) return a;
    if (a.runner !== 'cli') throw new LabError(`exam attempt ${id} runs in the web server`, `finish it on its page, /attempts/${id}`);
    store.exams.finishRequested(id);
    const deadline = Date.now() + (o.timeoutMs ?? 10 * 60_000);
    for (;;) {
      const now = store.exams.attempt(id)!;
      if (now.finishedAt !== null) return now;
      if (Date.now() > deadline) throw new LabError(`exam attempt ${id} has not ended`, 'is the `netdojo exam` process that runs it still running?');
      await new Promise((r) => setTimeout(r, o.pollMs ?? 250));
    }
  } finally {
    store.close();
  }
}

/** The result as one JSON document's content (`--json`). */
export function resultJson(a: AttemptRow) {
  const r = a.result!;
  return {
    attempt: {
      id: a.id, exam: a.exam, title: a.title, startedAt: a.startedAt, deadline: a.deadline, finishedAt: a.finishedAt, endReason: a.endReason,
      score: r.score, percent: r.percent, passed: r.passed, passMark: r.passMark, tasks: r.tasks,
    },
  };
}

/** The result for a terminal: each task's grade as `netdojo grade` shows it, then the total. */
export function formatResult(a: AttemptRow, color: boolean): string {
  const r = a.result!;
  const out: string[] = [];
  for (const t of r.tasks) {
    out.push(`Task ${t.n}: ${t.title} — ${t.score} of ${t.weight} points${t.timeMs !== null ? `, ${Math.round(t.timeMs / 1000)} s` : ''}${t.note ? ` (${t.note})` : ''}`);
    if (t.graded !== 'none') {
      out.push(formatReport({
        lab: t.lab ?? '-', scenario: t.scenario, verdict: t.points.possible > 0 && t.points.earned === t.points.possible ? 'pass' : 'fail',
        score: t.points, checks: t.checks, matrix: t.matrix ?? { sources: [], targets: [], cells: {} }, ms: t.ms ?? 0,
      }, { color }));
    }
    out.push('');
  }
  out.push(formatTable([['TASK', 'SCENARIO', 'SCORE', 'CHECKS'], ...r.tasks.map((t) => [String(t.n), t.scenario, `${t.score} / ${t.weight}`, `${t.points.earned} / ${t.points.possible}`])]));
  out.push('', `${a.title}: ${r.score.earned} / ${r.score.possible} points, ${r.percent} % — ${r.passed ? 'passed' : 'not passed'} (pass mark ${r.passMark} %; ${r.reason})`);
  return out.join('\n');
}
