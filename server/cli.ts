import { spawn } from 'node:child_process';
import { Command, CommanderError, Option } from 'commander';
import { getProvider, PROVIDERS } from './providers/index.ts';
import { LabError, type ProgressFn, type ProviderName } from './lab/types.ts';
import { SECTIONS } from '../bench/types.ts';
import { formatTable } from './util/table.ts';
import { byTrackOrder } from './scenario/tracks.ts';
import { DEFAULT_LAB_RESOURCES as LAB, describeResources, parseLabResources } from './lab/resources.ts';
import { DEFAULT_WARM_LABS } from './lab/warm.ts';

// `netdojo`: the command-line face of the product (DESIGN.md "CLI contract"). Every command with
// --json prints exactly one JSON document on stdout; progress and errors go to stderr.

// Modules are loaded by the commands that need them: `lab`, typed by learners inside a lab, and
// quick commands such as `list` should not pay for the grader, the scenario loader and zod.
const session = () => import('./lab/session.ts');

const print = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const json = (v: unknown) => print(JSON.stringify(v, null, 2));

/** Progress lines for long steps, on a terminal only, so pipes and --json stay clean. */
function progress(enabled: boolean): ProgressFn | undefined {
  if (!enabled || !process.stderr.isTTY) return undefined;
  return (s) => {
    if (s.status === 'start') process.stderr.write(`  … ${s.action}\r`);
    else process.stderr.write(`\x1b[2K  ${s.status === 'done' ? '\x1b[32m✓\x1b[0m' : '\x1b[31m✗\x1b[0m'} ${s.action}${s.ms !== undefined ? ` \x1b[2m(${s.ms} ms)\x1b[0m` : ''}\n`);
  };
}

const parseSeed = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new LabError(`--seed must be a whole number ≥ 0, got "${v}"`);
  return n;
};

const providerOption = () => new Option('--provider <name>', 'cluster provider').choices(PROVIDERS).default('netns');

/** What each lab may use of the machine (netns labs): the same flags on `up` and `serve`. */
const labResourceOptions = (cmd: Command) => cmd
  .option('--lab-processes <n>', `tasks (processes and threads) a lab may run at once (default ${LAB.processes})`)
  .option('--lab-memory <quantity>', `memory of a lab, as Kubernetes writes it (default ${LAB.memoryBytes / 2 ** 30}Gi)`)
  .option('--lab-cpu <cores>', `CPU of a lab, in cores (default ${LAB.cpuMillis / 1000}; 0: no cap)`);
function labResources(o: { provider: string; labProcesses?: string; labMemory?: string; labCpu?: string }) {
  if (o.provider !== 'netns' && [o.labProcesses, o.labMemory, o.labCpu].some((v) => v !== undefined)) {
    throw new LabError('--lab-processes, --lab-memory and --lab-cpu limit netns labs; a kind lab\'s nodes are Docker containers, limited as Docker limits them');
  }
  return parseLabResources({ processes: o.labProcesses, memory: o.labMemory, cpu: o.labCpu });
}

/** `setExit` receives each command's exit status: commands return it rather than exiting. */
export function program(setExit: (code: number) => void): Command {
  const act = <A extends unknown[]>(fn: (...a: A) => Promise<number>) => async (...a: A) => setExit(await fn(...a));
  const cli = new Command('netdojo')
    .description('Hands-on labs for Kubernetes networking: broken clusters, a terminal inside them, and a grader that probes from within.')
    .showHelpAfterError()
    .exitOverride();

  cli.command('scenarios').description('list the scenarios').option('--json', 'one JSON document').action(act(async (o) => {
    const { loadCatalog, unprovenOn } = await import('./scenario/load.ts');
    const { catalogEntry } = await import('./manager/backend.ts');
    const { scenarios, errors, kindProofs } = await loadCatalog();
    const specs = scenarios.map((l) => l.spec);
    if (o.json) {
      json({ scenarios: specs.map((s) => ({ ...catalogEntry(s, kindProofs), variants: s.variants })), errors: errors.map((e) => e.message) });
    } else {
      const providers = (s: (typeof specs)[number]) => { const u = unprovenOn(s, kindProofs); return s.providers.map((p) => (u.includes(p) ? `${p} (unproven)` : p)).join(', '); };
      print(formatTable([['ID', 'TRACK', 'DIFFICULTY', 'MIN', 'PROVIDERS', 'TITLE'], ...[...specs].sort(byTrackOrder).map((s) => [s.id, s.track, s.difficulty, String(s.minutes), providers(s), s.title])]));
      for (const e of errors) process.stderr.write(`\nscenario not loaded: ${e.message}\n`);
    }
    return errors.length ? 1 : 0;
  }));

  labResourceOptions(cli.command('up').description('start a lab for a scenario, broken and ready to fix; prints the lab id')
    .argument('<scenario>').addOption(providerOption()).option('--seed <n>', 'variant seed', parseSeed)
    .option('--healthy', 'do not break it (a working cluster to explore)').option('--json', 'one JSON document'))
    .action(act(async (scenario: string, o) => {
      const opts = { scenario, provider: o.provider as ProviderName, seed: o.seed, resources: labResources(o), onProgress: progress(!o.json) };
      if (opts.provider === 'kind') {
        const { loadCatalog, unprovenOn } = await import('./scenario/load.ts');
        const { scenarios, kindProofs } = await loadCatalog();
        const spec = scenarios.find((l) => l.spec.id === scenario)?.spec;
        if (spec && unprovenOn(spec, kindProofs).includes('kind')) {
          process.stderr.write(`netdojo: note: ${scenario}'s kind steps have not been proven on a real kind cluster yet (scenarios/kind-proofs.yaml); \`netdojo verify ${scenario} --provider kind --thorough --record\` proves and records them\n`);
        }
      }
      const { createLab, startLab } = await session();
      const { lab, rendered } = o.healthy ? await createLab(opts) : await startLab(opts);
      if (o.json) json({ lab: { ...lab.facts, variant: rendered.variant } });
      else {
        print(lab.facts.id);
        if (process.stderr.isTTY) process.stderr.write(`\n${rendered.title}: lab ${lab.facts.id} is ${o.healthy ? 'healthy' : 'broken and waiting for you'}.\n  netdojo shell ${lab.facts.id}         a shell on the control-plane\n  netdojo grade ${lab.facts.id}         check your fix\n  netdojo down ${lab.facts.id}          remove it\n`);
      }
      return 0;
    }));

  cli.command('exec').description('run a command on a node or in a pod, as a learner would')
    .argument('<lab>').argument('<target>', 'node (control-plane, worker, admin) or pod (namespace/name)').argument('<argv...>', 'after --')
    .action(act(async (id: string, target: string, argv: string[]) => {
      const { lab } = await (await session()).openLab(id);
      const r = await lab.exec(target, argv);
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      return r.code ?? 1;
    }));

  cli.command('grade').description('probe the lab from inside and report what works; exit 0 iff the verdict is pass')
    .argument('<lab>').option('--json', 'one JSON document').action(act(async (id: string, o) => {
      const { lab, rendered } = await (await session()).openLab(id);
      const { gradeLab, formatReport } = await import('../grader/index.ts');
      // Each check on stderr as it is final (at a terminal), the report at the end.
      const shown = progress(!o.json);
      const report = await gradeLab(lab, rendered.checks, {
        scenario: rendered.id,
        onProgress: (e) => { if (e.type === 'check') shown?.({ action: `${e.result.id}: ${e.result.state}`, status: e.result.pass ? 'done' : 'fail', ms: e.result.ms }); },
      });
      if (o.json) json(report);
      else print(formatReport(report, { color: Boolean(process.stdout.isTTY) }));
      return report.verdict === 'pass' ? 0 : 1;
    }));

  cli.command('shell').description('an interactive shell on a node or in a pod').argument('<lab>').argument('[target]', 'node or pod', 'control-plane')
    .action(act(async (id: string, target: string) => {
      const { lab } = await (await session()).openLab(id);
      const sh = lab.shell(target);
      const child = spawn(sh.file, sh.args, { stdio: 'inherit', env: sh.env });
      return new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
    }));

  cli.command('down').description('remove a lab, or every lab').argument('[lab]').option('--all', 'every lab, and leftovers of crashed ones')
    .action(act(async (id: string | undefined, o) => {
      if (!id && !o.all) throw new LabError('name a lab or pass --all', 'netdojo list shows the labs');
      const { destroyLabById } = await session();
      if (id) { await destroyLabById(id); return 0; }
      for (const name of PROVIDERS) {
        const provider = await getProvider(name);
        for (const s of await provider.list()) {
          if (s.state === 'alive') await destroyLabById(s.id).catch((e) => process.stderr.write(`${s.id}: ${(e as Error).message}\n`));
        }
        const reaped = await provider.reap();
        if (reaped.length) process.stderr.write(`reaped ${reaped.join(', ')}\n`);
      }
      return 0;
    }));

  cli.command('list').description('labs on this machine, alive or left by a crash').option('--json', 'one JSON document').action(act(async (o) => {
    const all = (await Promise.all(PROVIDERS.map(async (p) => (await getProvider(p)).list()))).flat();
    if (o.json) json({ labs: all });
    else print(formatTable([['ID', 'PROVIDER', 'SCENARIO', 'STATE', 'CREATED'], ...all.map((l) => [l.id, l.provider, l.scenario, l.state, l.createdAt])]));
    return 0;
  }));

  cli.command('verify').description('prove scenarios: healthy → broken (target checks fail) → solved (all pass) → nothing left')
    .argument('[scenarios...]').addOption(providerOption())
    .option('--seed <n...>', 'seeds to prove (default: three)').option('--thorough', 'also grade every listed alternative fix and destructive "fix"')
    .option('--record', 'on kind, with --thorough: write each scenario proven on every seed into scenarios/kind-proofs.yaml')
    .option('--json', 'one JSON document').action(act(async (ids: string[], o) => {
      const seeds = o.seed ? (o.seed as string[]).map(parseSeed) : [1, 2, 3];
      if (o.record && (o.provider !== 'kind' || !o.thorough)) {
        throw new LabError('--record writes proofs on kind, and a proof is a --thorough one: netdojo verify <scenario...> --provider kind --thorough --record (netns is proven in every CI run)');
      }
      const { verify, formatVerify, recordKindProofs } = await import('./verify.ts');
      const result = await verify({ scenarios: ids, provider: o.provider, seeds, thorough: Boolean(o.thorough), onProgress: progress(!o.json) });
      if (o.json) json(result);
      else print(formatVerify(result));
      if (o.record) for (const id of await recordKindProofs(result.results, seeds)) process.stderr.write(`netdojo: recorded ${id} as proven on kind\n`);
      return result.results.every((r) => r.ok) ? 0 : 1;
    }));

  const number = (name: string, min: number) => (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new LabError(`${name} must be a whole number ≥ ${min}, got "${v}"`);
    return n;
  };
  const count = (name: string) => number(name, 1);
  const whole = (name: string) => number(name, 0);
  labResourceOptions(cli.command('serve').description('the web app: catalog, labs, browser terminals')
    .option('--host <host>', 'address to listen on', '127.0.0.1').option('--port <port>', 'port', '8080').addOption(providerOption()))
    .option('--public-host <name...>', 'host names the server is reached by behind a proxy (Host/Origin allow-list)')
    .option('--secure-cookies', 'mark cookies Secure (served over HTTPS by a proxy)')
    .option('--labs-per-user <n>', 'labs one learner may run at once (default 2)', count('--labs-per-user'))
    .option('--max-labs <n>', 'labs this server runs at once (default 8)', count('--max-labs'))
    .option('--lab-ttl <minutes>', 'a lab ends after this long (default 120)', count('--lab-ttl'))
    .option('--max-exam-labs <n>', 'labs of exam attempts at once, apart from --max-labs (default 16)', count('--max-exam-labs'))
    .option('--warm-labs <n>', `labs created ahead so a start takes one at once (default: ${Object.entries(DEFAULT_WARM_LABS).map(([p, n]) => `${n} for ${p}`).join(', ')}; 0: none)`, whole('--warm-labs'))
    .action(act(async (o) => {
      const { startServer } = await import('./http/server.ts');
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new LabError(`--port must be 0..65535, got "${o.port}"`);
      const resources = labResources(o);
      if (o.provider === 'netns') await ensureLabTools();
      const server = await startServer({
        host: o.host, port, provider: o.provider, allowedHosts: o.publicHost, secureCookies: Boolean(o.secureCookies),
        warmLabs: o.warmLabs ?? DEFAULT_WARM_LABS[o.provider as ProviderName],
        // Only the limits given: an unset one keeps the server's default.
        limits: { ...Object.fromEntries(Object.entries({ perUser: o.labsPerUser, total: o.maxLabs, ttlMs: o.labTtl && o.labTtl * 60_000, examLabs: o.maxExamLabs }).filter(([, v]) => v)), resources },
      });
      process.stderr.write(`netdojo is serving on ${server.url} (each lab: ${describeResources(resources)})\n`);
      await new Promise<void>((resolve) => {
        const stop = () => { server.close().then(() => resolve(), () => resolve()); };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      return 0;
    }));

  // Trainers are made here, on the server's machine, never from the web: whoever runs this owns the state directory.
  const trainer = cli.command('trainer').description('trainer accounts for cohorts: a one-time login link, and optionally a password');
  const linkOptions = (cmd: Command) => cmd
    .option('--host <host>', 'the host `netdojo serve` listens on', '127.0.0.1').option('--port <port>', 'its port', '8080')
    .option('--url <url>', 'the server\'s public URL instead (behind a proxy: https://labs.example.com)');
  const printLink = async (name: string, o: { host: string; port: string; url?: string }) => {
    const { openTrainerStore, linkBase } = await import('./cohorts/cli.ts');
    const base = linkBase(o);
    const { newLoginLink } = await import('./cohorts/trainers.ts');
    const store = openTrainerStore();
    try {
      const link = newLoginLink(store.cohorts, name);
      print(`${base}${link.path}`);
      if (process.stderr.isTTY) process.stderr.write(`\nA one-time login link for ${name}: it works once, until ${new Date(link.expiresAt).toISOString().slice(0, 16).replace('T', ' ')} UTC.\n  netdojo trainer link ${name}    makes a new one (the old one stops working)\n`);
    } finally {
      store.close();
    }
  };
  linkOptions(trainer.command('add').description('make a trainer account; prints a one-time login link').argument('<name>')
    .option('--password-stdin', 'also set a password, read from standard input (e.g. from a password manager\'s output)'))
    .action(act(async (name: string, o) => {
      const { openTrainerStore, linkBase, readPassword } = await import('./cohorts/cli.ts');
      const { addTrainer } = await import('./cohorts/trainers.ts');
      linkBase(o); // a bad --url or --port is said before anything is made
      const password = o.passwordStdin ? await readPassword(process.stdin) : null;
      const store = openTrainerStore();
      try { await addTrainer(store.cohorts, name, password); } finally { store.close(); }
      await printLink(name, o);
      return 0;
    }));
  linkOptions(trainer.command('link').description('a new one-time login link for a trainer (earlier unused ones stop working)').argument('<name>'))
    .action(act(async (name: string, o) => { await printLink(name, o); return 0; }));

  cli.command('exams').description('list the practice exams').option('--json', 'one JSON document').action(act(async (o) => {
    const { libraryScenarios, loadExams } = await import('./exam/load.ts');
    const { exams, errors } = await loadExams(await libraryScenarios());
    if (o.json) {
      json({ exams: exams.map(({ spec: e, tasks }) => ({ id: e.id, title: e.title, minutes: e.minutes, passMark: e.passMark,
        tasks: tasks.map((t) => ({ scenario: t.scenario, weight: t.weight, variant: t.variant })) })), errors: errors.map((e) => e.message) });
    } else {
      print(formatTable([['ID', 'TASKS', 'MIN', 'PASS', 'TITLE'], ...exams.map(({ spec: e, tasks }) => [e.id, String(tasks.length), String(e.minutes), `${e.passMark} %`, e.title])]));
      for (const e of errors) process.stderr.write(`\nexam not loaded: ${e.message}\n`);
    }
    return errors.length ? 1 : 0;
  }));

  const exam = cli.command('exam').description('a practice exam without the web server: every task\'s lab at once, graded when time is up');
  const printResult = async (a: import('./store/exams.ts').AttemptRow, asJson: boolean) => {
    const { formatResult, resultJson } = await import('./exam/headless.ts');
    if (asJson) json(resultJson(a));
    else print(formatResult(a, Boolean(process.stdout.isTTY)));
    return a.result?.passed ? 0 : 1;
  };
  exam.command('start', { isDefault: true }).description('run an attempt: bring up the labs, print their ids, wait for the time (or `exam finish`, or Ctrl-C), grade, stop the labs; exit 0 iff passed')
    .argument('<exam>', 'an exam id (netdojo exams)').option('--minutes <n>', 'time allowed instead of the exam\'s', count('--minutes'))
    .addOption(providerOption()).option('--json', 'the result as one JSON document')
    .action(act(async (id: string, o) => {
      if (o.minutes > 24 * 60) throw new LabError(`--minutes must be at most 1440 (a day), got "${o.minutes}"`);
      const { runExam } = await import('./exam/headless.ts');
      return printResult(await runExam({ exam: id, minutes: o.minutes, provider: o.provider, log: (l) => process.stderr.write(`${l}\n`) }), Boolean(o.json));
    }));
  exam.command('finish').description('end a running `netdojo exam` attempt now (graded as it stands) and print its result')
    .argument('<attempt>').option('--json', 'the result as one JSON document')
    .action(act(async (id: string, o) => printResult(await (await import('./exam/headless.ts')).finishExam(id), Boolean(o.json))));

  cli.command('bench').description('benchmarks: lab lifecycle, scale, terminal, netns vs containers; writes bench/RESULTS.md')
    .option('--json', 'one JSON document').option('--quick', 'fewer runs')
    .option('--only <section...>', `run only these sections (${SECTIONS.join(', ')}); bench/RESULTS.md is then left as it is`)
    .action(act(async (o) => {
      const { runBench } = await import('../bench/index.ts');
      const unknown = (o.only as string[] | undefined)?.filter((s) => !(SECTIONS as readonly string[]).includes(s)) ?? [];
      if (unknown.length) throw new LabError(`--only: no section ${unknown.join(', ')}`, `one of: ${SECTIONS.join(', ')}`);
      return runBench({ json: Boolean(o.json), quick: Boolean(o.quick), only: o.only });
    }));

  cli.command('doctor').description('what this host can run, and what to install when it cannot').option('--json', 'one JSON document')
    .action(act(async (o) => {
      const report = await Promise.all(PROVIDERS.map(async (p) => {
        const provider = await getProvider(p);
        return { provider: p, problems: await provider.doctor(), limitations: (await provider.limitations?.()) ?? [] };
      }));
      if (o.json) json({ providers: report.map((r) => ({ ...r, ready: r.problems.length === 0 })) });
      else {
        for (const r of report) {
          print(`${r.provider}: ${r.problems.length ? `not ready\n${r.problems.map((p) => `  - ${p}`).join('\n')}` : 'ready'}` +
            r.limitations.map((l) => `\n  note: ${l}`).join(''));
        }
      }
      return report.find((r) => r.provider === 'netns')!.problems.length ? 1 : 0;
    }));

  cli.command('images').description('kind: build the lab image offline and load it into every kind lab (kind load docker-image)')
    .option('--rebuild', 'build the image again even if it exists').option('--json', 'one JSON document')
    .action(act(async (o) => {
      const { imagesCommand } = await import('./providers/kind/commands.ts');
      const r = await imagesCommand({ rebuild: Boolean(o.rebuild), onLine: o.json ? undefined : (l) => process.stderr.write(`${l}\n`) });
      if (o.json) json(r);
      else print(`${r.image}: ${r.built ? 'built' : 'already built'}${r.loadedInto.length ? `; loaded into ${r.loadedInto.join(', ')}` : ''}${r.note ? `\n${r.note}` : ''}`);
      return 0;
    }));

  cli.command('kubeconfig').description("a kubeconfig for the lab's Kubernetes API from this host, e.g. netdojo kubeconfig LAB > lab.kubeconfig && KUBECONFIG=lab.kubeconfig kubectl get pods -A")
    .argument('<lab>').action(act(async (id: string) => {
      const { readRecord } = await import('./lab/records.ts');
      const rec = await readRecord(id);
      print(await (await getProvider(rec.provider)).kubeconfig(id));
      return 0;
    }));

  cli.command('__clusterd', { hidden: true }).description('the cluster host that serves netns labs (started on demand)')
    .action(act(async () => {
      const { runClusterd } = await import('./providers/netns/host.ts');
      await runClusterd();
      // Done serving (idle, or its state directory is gone): whatever handles the labs' clusters
      // left open (a sandbox shell, a timer) must not keep the process alive.
      process.exit(0);
    }));

  return cli;
}

/**
 * What `npm start` does on a fresh machine: labs need system tools; as root with apt they are
 * installed, otherwise the server names them and how to install them (and starts anyway: the
 * catalog and the kind provider do not need them).
 */
async function ensureLabTools(): Promise<void> {
  const { missingTools } = await import('./providers/netns/index.ts');
  const missing = await missingTools();
  const pkgs = [...new Set(missing.filter((m) => m.command !== 'kubectl').map((m) => m.pkg.split(' ')[0]))];
  if (!missing.length) return;
  const canInstall = process.getuid?.() === 0 && pkgs.length > 0 && process.env.NETDOJO_NO_INSTALL !== '1' && (await import('node:fs')).existsSync('/usr/bin/apt-get');
  if (canInstall) {
    process.stderr.write(`netdojo: installing what labs need: ${pkgs.join(' ')}\n`);
    const code = await new Promise<number>((resolve) => {
      const child = spawn('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
      child.on('exit', (c) => resolve(c ?? 1));
      child.on('error', () => resolve(1));
    });
    if (code === 0 && !missing.some((m) => m.command === 'kubectl')) return;
  }
  process.stderr.write(`netdojo: labs on this host are missing: ${missing.map((m) => m.command).join(', ')}\n` +
    (pkgs.length ? `  install them with: sudo apt-get install -y ${pkgs.join(' ')}\n` : '') +
    (missing.some((m) => m.command === 'kubectl') ? '  and install kubectl 1.30 or later: https://kubernetes.io/docs/tasks/tools/\n' : '') +
    '  (`netdojo doctor` says the same; the server starts anyway)\n');
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const cli = program((c) => { code = c; });
  try {
    await cli.parseAsync(argv, { from: 'user' });
  } catch (e) {
    return e instanceof CommanderError ? e.exitCode : reportError(e);
  }
  return code;
}

function reportError(e: unknown): number {
  if (e instanceof LabError) {
    process.stderr.write(`netdojo: ${e.message}\n${e.hint ? `  (${e.hint})\n` : ''}`);
    return 1;
  }
  if (e instanceof Error && (e.name === 'ScenarioError' || e.name === 'RenderError' || e.name === 'ExamError')) {
    process.stderr.write(`netdojo: invalid ${e.name === 'ExamError' ? 'exam' : 'scenario'}: ${e.message}\n`);
    return 1;
  }
  process.stderr.write(`netdojo: ${(e as Error)?.stack ?? String(e)}\n`);
  return 1;
}
