import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Check, CheckResult, GradeReport } from '../../../grader/types.ts';
import type { Lab, LabFacts } from '../../lab/types.ts';
import type { CatalogEntry, LabBackend, StartedLab } from '../../manager/backend.ts';

// A stand-in backend for the HTTP layer's own tests ONLY: a "lab" is a temp directory, shells are local
// bash with a prompt naming the target, and the one check passes once `fixed` exists in that directory.
// It exercises the server (ownership, limits, records, relay) without kernel namespaces; the end-to-end
// tests use the real scenarios, provider and grader. The second scenario's labs have a second check
// worth two points (`tidy` exists), so a half-done fix earns part of the points.

export const STAND_IN_SCENARIO: CatalogEntry = {
  id: 'stand-in', title: 'Stand-in scenario', summary: 'A local shell whose "network" is a file.', difficulty: 'beginner',
  minutes: 5, tags: ['dns'], concepts: ['testing'], track: 'dns', competencies: ['coredns'], learned: 'A stand-in teaches how the server drives a lab.', providers: ['netns'], unproven: [],
};

/** The catalog the stand-in serves: across tracks, and not in catalog order (the server sorts it). */
export const STAND_IN_CATALOG: CatalogEntry[] = [
  STAND_IN_SCENARIO,
  { ...STAND_IN_SCENARIO, id: 'stand-in-2', title: 'Second', difficulty: 'advanced', tags: ['mtu'] },
  { ...STAND_IN_SCENARIO, id: 'stand-in-svc', title: 'Stand-in Service', summary: 'A Service whose endpoints are files.', track: 'services', difficulty: 'intermediate',
    minutes: 15, tags: ['services'], competencies: ['service-types', 'troubleshoot-networking'], learned: 'A Service stand-in teaches what `endpoints` are.' },
  { ...STAND_IN_SCENARIO, id: 'stand-in-kernel', title: 'Stand-in kernel', summary: 'A route table that is a file.', track: 'linux', minutes: 10,
    tags: ['routing'], competencies: ['troubleshoot-nodes'], learned: 'A kernel stand-in teaches where routes live.' },
];

export class LocalLab implements Lab {
  readonly facts: LabFacts;
  constructor(readonly dir: string, id: string, seed: number, scenario = 'stand-in') {
    this.facts = {
      id, scenario, provider: 'netns', seed,
      nodes: [{ name: 'control-plane', role: 'control-plane', ip: '172.18.0.2', podCIDR: '10.244.0.0/24' }, { name: 'worker', role: 'worker', ip: '172.18.0.3', podCIDR: '10.244.1.0/24' }],
      pods: [{ target: 'default/client-worker', node: 'worker', ip: '10.244.1.3', app: 'client' }],
      services: [], dns: { clusterIP: '10.96.0.10', domain: 'cluster.local' },
    };
  }
  exec(_target: string, argv: string[]) {
    const t0 = Date.now();
    return new Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean; ms: number }>((resolve) => {
      execFile(argv[0], argv.slice(1), { cwd: this.dir, timeout: 5000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr, timedOut: false, ms: Date.now() - t0 }));
    });
  }
  shell(target: string) {
    return { file: 'bash', args: ['--norc', '--noprofile', '-i'], title: target,
      env: { PS1: `root@${target}:~# `, HOME: this.dir, PATH: process.env.PATH ?? '/usr/bin:/bin', LAB_DIR: this.dir } };
  }
  targets() { return ['control-plane', 'worker', 'default/client-worker']; }
  async destroy() { rmSync(this.dir, { recursive: true, force: true }); }
}

export interface StandIn extends LabBackend {
  labs: Map<string, LocalLab>;
  startGate?: Promise<void>;
  failNext?: string;
  /** While set, a grade waits here after its first check is final (and reported). */
  checkGate?: Promise<void>;
  /** Each grade's `typedAt`, in order: when the learner last typed, as the manager saw it. */
  typedAt: (number | undefined)[];
}

export function standInBackend(): StandIn {
  let n = 0;
  const labs = new Map<string, LocalLab>();
  const checks: Check[] = [{ id: 'fixed', title: 'The file `fixed` exists', kind: 'state', from: 'control-plane', run: 'test -f fixed', weight: 1, broken: 'UNREACHABLE', hints: { default: 'Create it: `touch fixed`' } } as Check];
  const tidy = { id: 'tidy', title: 'The file `tidy` exists', kind: 'state', from: 'control-plane', run: 'test -f tidy', weight: 2, broken: 'UNREACHABLE', hints: { default: 'Create it: `touch tidy`' } } as Check;
  const rendered = (dir: string, scenario: string) => ({
    variant: {}, brief: `# Stand-in\nThe lab directory is \`${dir}\`.\n\n<script>alert(1)</script>`, hints: ['Look at the files.', 'Run `touch fixed`.'],
    checks: scenario === 'stand-in-2' ? [...checks, tidy] : checks,
    solution: { steps: [{ on: 'control-plane', run: 'touch fixed', name: 'fix it' }], markdown: 'Create the file.' },
  });
  const b: StandIn = {
    labs,
    typedAt: [],
    async scenarios() { return STAND_IN_CATALOG; },
    async start(o): Promise<StartedLab> {
      o.onProgress?.({ action: 'Building nodes', status: 'start' });
      if (b.startGate) await b.startGate;
      if (b.failNext) { const m = b.failNext; b.failNext = undefined; throw new Error(m); }
      const dir = mkdtempSync(join(tmpdir(), 'netdojo-standin-'));
      const lab = new LocalLab(dir, `s${++n}aaaaa`, o.seed ?? 1, o.scenario);
      labs.set(lab.facts.id, lab);
      o.onProgress?.({ action: 'Building nodes', status: 'done', ms: 1 });
      return { lab, rendered: rendered(dir, o.scenario) };
    },
    async reset(id) {
      const lab = labs.get(id)!;
      rmSync(join(lab.dir, 'fixed'), { force: true });
      return { lab, rendered: rendered(lab.dir, lab.facts.scenario) };
    },
    async grade(lab, cs, onCheck, typedAt): Promise<GradeReport> {
      const t0 = Date.now();
      b.typedAt.push(typedAt);
      const results: CheckResult[] = [];
      for (const c of cs) {
        const r = await lab.exec(c.from, ['sh', '-c', (c as { run: string }).run]);
        const pass = r.code === 0;
        results.push({ id: c.id, title: c.title, kind: c.kind, from: c.from, to: 'file', expected: 'exists', observed: pass ? 'exists' : 'missing',
          state: pass ? 'PASS' : 'UNREACHABLE', pass, weight: c.weight, target: c.broken !== undefined, attempts: 1, ms: r.ms, evidence: { command: (c as { run: string }).run, output: `exit ${r.code}` },
          hint: pass ? undefined : c.hints.default });
        onCheck?.(results.at(-1)!);
        if (results.length === 1 && b.checkGate) await b.checkGate;
      }
      const earned = results.reduce((s, r) => s + (r.pass ? r.weight : 0), 0);
      const possible = results.reduce((s, r) => s + r.weight, 0);
      return { lab: lab.facts.id, scenario: lab.facts.scenario, verdict: earned === possible ? 'pass' : 'fail', score: { earned, possible }, checks: results,
        matrix: { sources: ['control-plane'], targets: ['file'], cells: { 'control-plane': { file: { state: results[0].state, pass: results[0].pass, check: 'fixed' } } } }, ms: Date.now() - t0 };
    },
    async destroy(lab) { await lab.destroy(); },
    async reap() { return []; },
  };
  return b;
}
