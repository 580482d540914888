import { randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { CheckResult, GradeReport } from '../../grader/types.ts';
import type { Lab, ProviderName } from '../lab/types.ts';
import { newLabId } from '../lab/naming.ts';
import { DEFAULT_LAB_RESOURCES, type LabResources } from '../lab/resources.ts';
import type { ProgressStore } from '../store/store.ts';
import type { PtyHost } from '../terminal/host.ts';
import type { LabBackend, RenderedScenario } from './backend.ts';
import { labTimeline, type Timeline } from './timeline.ts';

// Owns the labs the web server runs: who owns which, limits per user and in total, time limits (TTL
// and idle), start-up clean-up after a crash, and the one teardown path per lab (terminals, lab,
// record). HTTP handlers and the terminal relay only call methods here.

export interface LabLimits {
  /** Labs one user may have at once. */
  perUser: number;
  /** Labs on this server at once. */
  total: number;
  /** A lab ends this long after it started, whatever happens. */
  ttlMs: number;
  /** A lab nobody used (terminal input, check, hint, page) for this long ends. */
  idleMs: number;
  /** How often the reaper looks. */
  sweepMs: number;
  /** Labs of exam attempts on this server at once: an exam's own allowance, apart from `perUser`
   * and `total` (an exam needs a lab per task at once; the full exam one per scenario). */
  examLabs: number;
  /** What each lab may use of the machine (processes, memory, CPU: server/lab/resources.ts). */
  resources: LabResources;
}

export const DEFAULT_LIMITS: LabLimits = {
  perUser: 2,
  total: 8,
  ttlMs: 2 * 60 * 60 * 1000,
  idleMs: 30 * 60 * 1000,
  sweepMs: 30 * 1000,
  examLabs: 16,
  resources: DEFAULT_LAB_RESOURCES,
};

export type Phase = 'starting' | 'ready' | 'resetting' | 'failed' | 'ended';

export interface ProgressEvent { action: string; status: 'start' | 'done' | 'fail'; ms?: number; error?: string; at: number }

/** An error meant for the user: HTTP status, a stable code and a sentence saying what to do. */
export class UserError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** A lab that is one task of an exam attempt: it lives until `until` whatever its activity, and
 * offers no hints, solution or reset. */
export interface ExamHold { attempt: string; until: number }

export class ManagedLab {
  phase: Phase = 'starting';
  exam: ExamHold | null = null;
  lab: Lab | null = null;
  rendered: RenderedScenario | null = null;
  error: string | null = null;
  endReason: string | null = null;
  readonly steps: ProgressEvent[] = [];
  readonly events = new EventEmitter();
  lastActive: number;
  /** When the learner last typed into one of its terminals (0: never). */
  lastTyped = 0;
  grading: Promise<GradeReport> | null = null;
  /** The running grade's checks that are final so far (each also emitted as a `check` event). */
  graded: CheckResult[] = [];
  /** Grades before this moment describe a lab state that a reset replaced. */
  resetAt = 0;
  private lastStored = 0;

  constructor(readonly id: string, readonly user: string, readonly scenario: string, readonly provider: ProviderName,
    public seed: number, readonly token: string, readonly createdAt: number) {
    this.lastActive = createdAt;
    this.events.setMaxListeners(50);
  }

  step(e: Omit<ProgressEvent, 'at'>) {
    const ev = { ...e, at: Date.now() };
    this.steps.push(ev);
    this.events.emit('progress', ev);
  }

  setPhase(p: Phase) {
    this.phase = p;
    this.events.emit('phase', p);
  }

  /** Throttled write of last activity to the store. */
  touch(store: ProgressStore, now = Date.now()) {
    this.lastActive = now;
    if (now - this.lastStored > 10_000) {
      this.lastStored = now;
      store.labActive(this.id, now);
    }
  }
}

export interface ManagerOptions {
  backend: LabBackend;
  store: ProgressStore;
  ptyHost: PtyHost;
  provider: ProviderName;
  limits?: Partial<LabLimits>;
  now?: () => number;
}

/** A lab's terminals in the pty host: `<lab>:<target>` (lab ids have no colon). */
export const terminalName = (lab: string, target: string) => `${lab}:${target}`;
const terminalsOf = (lab: string) => `${lab}:`;

export class LabManager {
  readonly limits: LabLimits;
  private readonly labs = new Map<string, ManagedLab>();
  private sweeper: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private readonly stopRecording: () => void;

  constructor(private readonly opts: ManagerOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.now = opts.now ?? Date.now;
    // The timeline's commands: each one entered in a lab's terminal, kept with the lab's record.
    this.stopRecording = opts.ptyHost.onCommand((term, command, at) => {
      const sep = term.indexOf(':');
      const m = this.labs.get(term.slice(0, sep));
      if (!m || m.phase === 'ended') return;
      this.opts.store.recordCommand(m.id, m.user, { at, target: term.slice(sep + 1), command });
    });
  }

  /** After a crash: labs the store thinks are open are closed, and the providers' leftovers reaped. */
  async startup(): Promise<{ closed: string[]; reaped: string[] }> {
    const closed: string[] = [];
    for (const row of this.opts.store.openLabs()) {
      this.opts.store.labEnded(row.id, 'server restarted', Math.max(row.lastActive, row.createdAt));
      closed.push(row.id);
    }
    let reaped: string[] = [];
    try {
      reaped = await this.opts.backend.reap(this.opts.provider);
    } catch (e) {
      console.error(`netdojo: could not reap labs left by an earlier run: ${(e as Error).message}`);
    }
    this.sweeper = setInterval(() => void this.sweep(), this.limits.sweepMs);
    this.sweeper.unref();
    return { closed, reaped };
  }

  private live(): ManagedLab[] {
    return [...this.labs.values()].filter((l) => l.phase !== 'ended' && l.phase !== 'failed');
  }

  /** Starts a lab for `user`; provisioning goes on in the background (see ManagedLab.events). */
  create(user: string, scenario: string, seed?: number): ManagedLab {
    const mine = this.practice().filter((l) => l.user === user);
    if (mine.length >= this.limits.perUser) {
      throw new UserError(429, 'limit_per_user',
        `You already have ${mine.length} lab${mine.length > 1 ? 's' : ''} running, the most one person may have at once (${this.limits.perUser}). Stop one (${mine.map((l) => l.id).join(', ')}) and try again.`);
    }
    if (this.practice().length >= this.limits.total) {
      throw new UserError(503, 'limit_total',
        `This server is running its maximum of ${this.limits.total} labs. Try again when one ends (labs end after ${Math.round(this.limits.idleMs / 60000)} idle minutes).`);
    }
    return this.launch(user, scenario, seed ?? randomBytes(4).readUInt32BE() % 100000, null);
  }

  private practice(): ManagedLab[] {
    return this.live().filter((l) => !l.exam);
  }

  /** Every lab of an exam attempt at once, one per task, or none when the exam allowance lacks room. */
  createExamLabs(user: string, attempt: string, tasks: { scenario: string; seed: number }[], until: number): ManagedLab[] {
    const running = this.live().filter((l) => l.exam).length;
    if (tasks.length > this.limits.examLabs) {
      throw new UserError(503, 'limit_exam_labs',
        `This exam needs ${tasks.length} labs at once, more than the ${this.limits.examLabs} this server allows for exams. Its operator can raise that (netdojo serve --max-exam-labs ${tasks.length}).`);
    }
    if (running + tasks.length > this.limits.examLabs) {
      throw new UserError(503, 'limit_exam_labs',
        `This server runs at most ${this.limits.examLabs} exam labs at once and ${running} are in use; this exam needs ${tasks.length}. Try again when another attempt ends.`);
    }
    return tasks.map((t) => this.launch(user, t.scenario, t.seed, { attempt, until }));
  }

  private launch(user: string, scenario: string, seed: number, exam: ExamHold | null): ManagedLab {
    const id = newLabId();
    const m = new ManagedLab(id, user, scenario, this.opts.provider, seed, randomBytes(24).toString('base64url'), this.now());
    m.exam = exam;
    this.labs.set(id, m);
    this.opts.store.labStarted({ id, user, scenario, provider: m.provider, seed }, m.createdAt);
    void this.provision(m);
    return m;
  }

  private async provision(m: ManagedLab) {
    m.step({ action: 'Creating the cluster', status: 'start' });
    try {
      const { lab, rendered } = await this.opts.backend.start({
        scenario: m.scenario, provider: m.provider, seed: m.seed, id: m.id, resources: this.limits.resources, onProgress: (p) => m.step(p),
      });
      if (m.phase === 'ended') { await this.opts.backend.destroy(lab).catch(() => {}); return; }
      m.lab = lab;
      m.rendered = rendered;
      m.seed = lab.facts.seed ?? m.seed;
      m.step({ action: 'Creating the cluster', status: 'done', ms: this.now() - m.createdAt });
      this.opts.store.labReady(m.id, this.now());
      m.setPhase('ready');
    } catch (e) {
      m.error = (e as Error).message;
      m.step({ action: 'Creating the cluster', status: 'fail', error: m.error });
      this.opts.store.labEnded(m.id, `failed to start: ${m.error}`.slice(0, 500), this.now());
      m.setPhase('failed');
    }
  }

  /** A lab that `user` owns, or a 404 that does not say whether someone else's exists. */
  get(user: string, id: string): ManagedLab {
    const m = this.labs.get(id);
    if (!m || m.user !== user) throw new UserError(404, 'lab_not_found', `No lab ${id} of yours is running. It may have ended; start a new one from the catalog.`);
    if (m.phase === 'ended') throw new UserError(410, 'lab_ended', `Lab ${id} has ended (${m.endReason}). Your progress is saved; start a new lab from the catalog.`);
    return m;
  }

  find(id: string) { return this.labs.get(id); }

  /** The user's practice labs (an exam's labs are reached through its attempt). */
  of(user: string): ManagedLab[] {
    return this.practice().filter((l) => l.user === user);
  }

  ready(user: string, id: string): ManagedLab & { lab: Lab; rendered: RenderedScenario } {
    const m = this.get(user, id);
    if (m.phase !== 'ready' || !m.lab || !m.rendered) {
      throw new UserError(409, 'lab_not_ready', `Lab ${id} is ${m.phase === 'starting' ? 'still starting' : m.phase === 'resetting' ? 'being reset' : m.phase}; wait for it to be ready.`);
    }
    return m as ManagedLab & { lab: Lab; rendered: RenderedScenario };
  }

  touch(m: ManagedLab) { m.touch(this.opts.store, this.now()); }

  /** The learner typed into one of the lab's terminals. */
  typed(m: ManagedLab) {
    m.lastTyped = this.now();
    this.touch(m);
  }

  /**
   * Grades the lab, or joins the grade already running. `onCheck` gets each check as it is final,
   * those final before a late caller joined first.
   */
  async grade(user: string, id: string, onCheck?: (result: CheckResult) => void): Promise<GradeReport> {
    const m = this.ready(user, id);
    this.touch(m);
    m.grading ??= (async () => {
      m.graded = [];
      const final = (r: CheckResult) => { m.graded.push(r); m.events.emit('check', r); };
      try {
        const report = await this.opts.backend.grade(m.lab, m.rendered.checks, final, m.lastTyped || undefined);
        this.opts.store.recordGrade(m.id, m.user, report, this.now());
        return report;
      } finally {
        m.grading = null;
      }
    })();
    if (!onCheck) return m.grading;
    for (const r of m.graded) onCheck(r);
    m.events.on('check', onCheck);
    try {
      return await m.grading;
    } finally {
      m.events.off('check', onCheck);
    }
  }

  /** Reveals the next hint (recorded); returns every hint revealed so far. */
  hint(user: string, id: string): { revealed: string[]; total: number } {
    const m = this.notExam(this.ready(user, id), 'hints');
    this.touch(m);
    const seen = this.opts.store.hints(m.id);
    const total = m.rendered.hints.length;
    if (seen.length >= total) throw new UserError(409, 'no_more_hints', `All ${total} hints are already shown.`);
    this.opts.store.recordHint(m.id, m.user, seen.length, this.now());
    return { revealed: m.rendered.hints.slice(0, seen.length + 1), total };
  }

  private notExam<T extends ManagedLab>(m: T, what: string): T {
    if (m.exam) throw new UserError(409, 'exam_lab', `Lab ${m.id} is a task of exam attempt ${m.exam.attempt}: no ${what} during an exam (the result shows each task's solution).`);
    return m;
  }

  hintsShown(m: ManagedLab): string[] {
    if (!m.rendered) return [];
    return this.opts.store.hints(m.id).map((i) => m.rendered!.hints[i]).filter((h) => h !== undefined);
  }

  reveal(user: string, id: string) {
    const m = this.notExam(this.ready(user, id), 'solution');
    this.touch(m);
    this.opts.store.recordReveal(m.id, m.user, this.now());
    return m.rendered.solution;
  }

  revealed(m: ManagedLab) { return this.opts.store.revealed(m.id); }

  /** A lab of `user`'s on one time axis, running or long ended (from the store); null if none is theirs. */
  timeline(user: string, id: string): Timeline | null {
    const row = this.opts.store.lab(id);
    if (!row || row.user !== user) return null;
    return labTimeline(row, this.opts.store.grades(id), this.opts.store.activity(id));
  }

  /** The lab's targets whose shell is running (someone opened its terminal). */
  terminals(m: ManagedLab): string[] {
    return m.lab ? m.lab.targets().filter((t) => this.opts.ptyHost.has(terminalName(m.id, t))) : [];
  }

  lastGrade(m: ManagedLab): GradeReport | null {
    const g = this.opts.store.grades(m.id).filter((x) => x.at >= m.resetAt);
    return g.length ? g[g.length - 1].report : null;
  }

  /** Back to freshly broken. Terminals end (the page reconnects to new shells). */
  async reset(user: string, id: string): Promise<void> {
    const m = this.notExam(this.ready(user, id), 'reset');
    this.touch(m);
    m.setPhase('resetting');
    m.step({ action: 'Resetting the lab', status: 'start' });
    const t0 = this.now();
    await this.opts.ptyHost.kill(terminalsOf(m.id), 'the lab was reset', true);
    try {
      const { lab, rendered } = await this.opts.backend.reset(m.lab!.facts.id, (p) => m.step(p));
      m.lab = lab;
      m.rendered = rendered;
      m.resetAt = this.now();
      m.step({ action: 'Resetting the lab', status: 'done', ms: this.now() - t0 });
      m.setPhase('ready');
    } catch (e) {
      m.error = (e as Error).message;
      m.step({ action: 'Resetting the lab', status: 'fail', error: m.error });
      await this.end(m, `reset failed: ${m.error}`);
      throw new UserError(500, 'reset_failed', `Resetting lab ${id} failed: ${m.error}. Start a new lab.`);
    }
  }

  async destroy(user: string, id: string): Promise<void> {
    await this.end(this.get(user, id), 'stopped by the learner');
  }

  /** The one teardown path: terminals, the lab itself, the record. Idempotent. */
  async end(m: ManagedLab, reason: string): Promise<void> {
    if (m.phase === 'ended') return;
    m.endReason = reason;
    m.setPhase('ended');
    this.opts.store.labEnded(m.id, reason, this.now());
    // The shells first: they run in the lab, and one hung up on still writes (bash its history).
    await this.opts.ptyHost.kill(terminalsOf(m.id), `the lab ended: ${reason}`, true);
    const lab = m.lab;
    m.lab = null;
    if (lab) {
      try { await this.opts.backend.destroy(lab); } catch (e) { console.error(`netdojo: destroying lab ${m.id}: ${(e as Error).message}`); }
    }
    // Keep a tombstone briefly so an open page can say why the lab went away.
    setTimeout(() => { if (this.labs.get(m.id) === m) this.labs.delete(m.id); }, 10 * 60 * 1000).unref();
  }

  /** Ends labs past their TTL or idle limit. */
  async sweep(): Promise<string[]> {
    const now = this.now();
    const ended: string[] = [];
    for (const m of this.live()) {
      if (m.phase === 'starting' || m.phase === 'resetting') continue;
      if (m.exam) { if (now >= m.exam.until) { await this.end(m, 'the exam time is over'); ended.push(m.id); } }
      else if (now - m.createdAt >= this.limits.ttlMs) { await this.end(m, 'time limit reached'); ended.push(m.id); }
      else if (now - m.lastActive >= this.limits.idleMs) { await this.end(m, 'idle too long'); ended.push(m.id); }
    }
    for (const m of [...this.labs.values()]) if (m.phase === 'failed' && now - m.createdAt > 10 * 60 * 1000) this.labs.delete(m.id);
    return ended;
  }

  expiresAt(m: ManagedLab) {
    if (m.exam) return m.exam.until;
    return Math.min(m.createdAt + this.limits.ttlMs, m.lastActive + this.limits.idleMs);
  }

  checkToken(m: ManagedLab, token: string): boolean {
    const a = Buffer.from(m.token), b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.stopRecording();
    await Promise.all([...this.labs.values()].map((m) => this.end(m, 'server stopped')));
  }
}
