import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { NETDOJO_BIN, netdojo } from '../../test/support/cli.ts';
import { labsUnavailable, tempHome } from '../../test/support/env.ts';

// `netdojo exam` as a script drives it: real processes, real labs. The attempt runs in one process;
// another works on its labs with `netdojo exec` and ends it with `netdojo exam finish`, or the
// attempt's own process is interrupted.

describe('netdojo exam: input errors', () => {
  const home = tempHome();
  afterAll(() => home.remove());

  it('names what was wrong and what was expected, and exits non-zero', async () => {
    const unknown = await netdojo(home.dir, ['exam', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('netdojo: no exam "nope"; available: drill, full');
    expect((await netdojo(home.dir, ['exam', 'drill', '--minutes', 'soon'])).stderr).toContain('--minutes must be a whole number ≥ 1, got "soon"');
    expect((await netdojo(home.dir, ['exam', 'drill', '--minutes', '5000'])).stderr).toContain('--minutes must be at most 1440');
    expect((await netdojo(home.dir, ['exam', 'finish', 'a0123456789a'])).stderr).toContain('netdojo: no exam attempt "a0123456789a" on this machine');
    const list = await netdojo(home.dir, ['exams', '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).exams.map((e: { id: string }) => e.id)).toEqual(['drill', 'full']);
  });
});

const why = labsUnavailable();
if (why) console.warn(`skipping netdojo exam lab tests: ${why}`);

/** A running `netdojo exam`: its output so far, the labs and attempt it printed, its exit. */
function examProcess(home: string, args: string[]) {
  const child: ChildProcess = spawn(process.execPath, [NETDOJO_BIN, 'exam', ...args], { env: { ...process.env, NETDOJO_HOME: home, HOME: home } });
  let stdout = '', stderr = '';
  child.stdout!.on('data', (d) => { stdout += d; });
  child.stderr!.on('data', (d) => { stderr += d; });
  const exit = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  return {
    child, exit,
    get stdout() { return stdout; },
    get stderr() { return stderr; },
    /** Once the labs are up: the attempt id and each task's lab, from the table it prints. */
    async ready(): Promise<{ attempt: string; labs: string[] }> {
      await expect.poll(() => /end earlier with: netdojo exam finish (a[0-9a-f]{11})/.test(stderr) || child.exitCode !== null, { timeout: 240_000, interval: 200 }).toBe(true);
      const attempt = /netdojo exam finish (a[0-9a-f]{11})/.exec(stderr)?.[1];
      expect(attempt, stderr).toBeTruthy();
      const labs = [...stderr.matchAll(/^\d+\s+\d+\s+\S+\s+(l[a-z0-9]+)\s+ready$/gm)].map((m) => m[1]);
      return { attempt: attempt!, labs };
    },
  };
}

describe.skipIf(why)('netdojo exam with real labs', () => {
  const home = tempHome();
  afterAll(async () => {
    await netdojo(home.dir, ['down', '--all']);
    home.remove();
  });
  const labsLeft = async () => JSON.parse((await netdojo(home.dir, ['list', '--json'])).stdout).labs.filter((l: { state: string }) => l.state === 'alive');

  it('brings up every task, the user fixes one with netdojo exec, `exam finish` ends it: a partial score as one JSON document', async () => {
    const run = examProcess(home.dir, ['drill', '--json']);
    const { attempt, labs } = await run.ready();
    expect(labs).toHaveLength(3);
    // Task 1 is coredns-down: whichever way it broke CoreDNS, this undoes it.
    const fix = await netdojo(home.dir, ['exec', labs[0], 'admin', '--', 'bash', '-c',
      "kubectl -n kube-system get configmap coredns -o yaml | sed 's/kubernets cluster/kubernetes cluster/' | kubectl replace -f - && kubectl -n kube-system scale deployment/coredns --replicas=2 && kubectl -n kube-system rollout restart deployment/coredns && kubectl -n kube-system rollout status deployment/coredns --timeout=90s"]);
    expect(fix.code, fix.stderr).toBe(0);
    const finish = await netdojo(home.dir, ['exam', 'finish', attempt, '--json']);
    expect(finish.code).toBe(1); // not passed
    expect(await run.exit).toBe(1);
    const { attempt: r } = JSON.parse(run.stdout);
    expect(JSON.parse(finish.stdout).attempt.score).toEqual(r.score);
    expect(r).toMatchObject({ id: attempt, exam: 'drill', endReason: 'finished with netdojo exam finish', passMark: 66 });
    const [t1, t2, t3] = r.tasks;
    expect(t1).toMatchObject({ scenario: 'coredns-down', lab: labs[0], weight: 30, score: 30, graded: 'final', timeMs: null });
    expect(t2.score).toBeLessThan(30);
    expect(t3.score).toBeLessThan(40);
    expect(r.score.earned).toBeCloseTo(t1.score + t2.score + t3.score, 2);
    expect(t2.checks.some((c: { pass: boolean; evidence: { command: string } }) => !c.pass && c.evidence.command)).toBe(true);
    expect(r.passed).toBe(r.percent >= 66);
    expect(await labsLeft()).toEqual([]);
  }, 600_000);

  it('Ctrl-C grades what is there and stops the labs', async () => {
    const run = examProcess(home.dir, ['drill', '--minutes', '10']);
    const { labs } = await run.ready();
    expect(labs).toHaveLength(3);
    run.child.kill('SIGINT');
    expect(await run.exit).toBe(1);
    expect(run.stderr).toContain('Grading every task as it stands');
    expect(run.stdout).toMatch(/30-minute drill: [\d.]+ \/ 100 points, [\d.]+ % — not passed \(pass mark 66 %; stopped by the user\)/);
    expect(run.stdout).toMatch(/^Task 1: CoreDNS is down — [\d.]+ of 30 points/m);
    expect(await labsLeft()).toEqual([]);
  }, 600_000);
});
