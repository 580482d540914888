import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gradeLab } from '../../../grader/index.ts';
import { netdojo, rootlessHome, rootlessUser } from '../../../test/support/cli.ts';
import { kubectlMinors, labsUnavailable, rootlessUnavailable, tempHome } from '../../../test/support/env.ts';
import { untilPrints } from '../../../test/support/until.ts';
import { ensurePki } from '../../cluster/pki.ts';
import { newLabId, stateDir } from '../../lab/naming.ts';
import { containerProcesses, DEFAULT_LAB_RESOURCES, type LabResources } from '../../lab/resources.ts';
import { createLab, destroyLab, type LabSession } from '../../lab/session.ts';
import { baseTopology } from '../../lab/topology.ts';
import { child, existingLabCgroup, hostFacts, PODS_CGROUP, probeCgroups, processesIn, SANDBOX_CGROUP, type Cgroup } from './cgroups.ts';
import { labHandle } from './handle.ts';
import { netnsProvider, type NetnsLab } from './index.ts';
import { kubeGet } from './lab.ts';
import { probeHost } from './limits.ts';
import { LAB_PATH } from './sandbox.ts';

// A lab's limits on the real kernel: real processes in real cgroups, driven through the real
// kubectl. One lab is held to small limits and pushed over them (a fork storm, a memory balloon);
// another lab, and the first lab's API, must carry on.

const probe = await probeHost();
const why = labsUnavailable() ?? (probe.ok ? undefined : `lab limits need cgroups this process may use: ${probe.why}`);
if (why) console.warn(`skipping lab limit tests: ${why}`);

const SMALL: LabResources = { processes: 256, memoryBytes: 512 * 2 ** 20, cpuMillis: 1000 };

/** Forks until the kernel refuses, says how many it got and why not more (stdout, or the file named), then holds them all. */
const STORM = `import errno, os, sys
r, w = os.pipe()
n = 0
while True:
    try:
        pid = os.fork()
    except OSError as e:
        why = errno.errorcode[e.errno]
        break
    if pid == 0:
        os.close(w)
        os.read(r, 1)
        os._exit(0)
    n += 1
out = open(sys.argv[1], 'w') if len(sys.argv) > 1 else sys.stdout
out.write(f'forked {n} {why}\\n')
out.flush()
os.read(r, 1)
`;

/** Allocates (and touches) memory a MiB at a time until something stops it. */
const BALLOON = `b = []
while True:
    b.append(b'\\x01' * (1 << 20))
`;

const pod = (name: string, script: string, resources: object = {}) => JSON.stringify({
  apiVersion: 'v1', kind: 'Pod', metadata: { name },
  spec: { nodeName: 'worker', terminationGracePeriodSeconds: 1, containers: [{ name, image: 'python:3.12', command: ['python3', '-c', script], resources }] },
});

const read = (p: string) => readFileSync(p, 'utf8').trim();

describe.skipIf(why)(`lab limits (cgroup v${probe.ok ? probe.host.version : '?'})`, () => {
  const home = tempHome();
  let small: NetnsLab;
  let other: LabSession;
  let cg: Cgroup;
  let kubeconfig: string;

  beforeAll(async () => {
    process.env.NETDOJO_HOME = home.dir;
    small = await netnsProvider.create(baseTopology(), { id: newLabId(), scenario: 'test', seed: 1, resources: SMALL });
    other = await createLab({ scenario: 'missing-route', seed: 1 });
    cg = labHandle(small.record).sandbox.limits!.cgroup!;
    kubeconfig = join(home.dir, 'small.kubeconfig');
    writeFileSync(kubeconfig, await netnsProvider.kubeconfig(small.facts.id));
  });
  afterAll(async () => {
    await small?.destroy();
    if (other) await destroyLab(other.lab);
    home.remove();
  });

  const sh = async (target: string, script: string, stdin?: string) => {
    const r = await small.exec(target, ['bash', '-c', script], { timeoutMs: 60_000, stdin });
    return { ...r, out: r.stdout.trim() };
  };
  const kubectl = (args: string, stdin?: string) => sh('admin', `kubectl ${args}`, stdin);
  const dirOf = (c: Cgroup, controller: 'pids' | 'memory' | 'cpu') => c.dirs[controller]!;
  /**
   * The other lab is graded as a learner's Check grades it, and passes: every probe answers. A
   * machine loaded by other work can make a probe time out, so it is graded again until it passes.
   */
  const otherGrades = async () => {
    const grade = async () => {
      const r = await gradeLab(other.lab, other.rendered.checks, { scenario: 'missing-route' });
      return r.verdict === 'pass' ? 'pass' : `${r.verdict}: ${r.checks.filter((c) => !c.pass).map((c) => `${c.id} ${c.state} (${c.observed})`).join('; ')}`;
    };
    return untilPrints(grade, /^pass$/, 'grading the other lab', 60_000);
  };
  /**
   * Forks the kernel refused for a pids.max (pids.events "max"): v1 counts them where the fork
   * was tried, v2 (Linux 6.12 on) where the limit was hit and above; so both places are summed.
   */
  const refusedForks = (...cgroups: Cgroup[]) => cgroups.reduce((n, c) => n + Number(/^max (\d+)$/m.exec(readFileSync(join(dirOf(c, 'pids'), 'pids.events'), 'utf8'))?.[1] ?? 0), 0);
  /** The small lab's API, from the host, as `netdojo kubeconfig` reaches it. */
  const apiAnswers = async () => {
    const pods = await kubeGet<{ items: unknown[] }>(labHandle(small.record), (await ensurePki(stateDir())).caCert, '/api/v1/pods');
    return pods.items.length > 0;
  };

  it('holds every process of the lab: holder, nodes, pods and what enters it', async () => {
    const h = labHandle(small.record);
    expect(h.sandbox.limits?.cgroup?.version).toBe(probe.ok && probe.host.version);
    expect(read(join(dirOf(cg, 'pids'), 'pids.max'))).toBe('256');
    expect(read(join(dirOf(cg, 'memory'), probe.ok && probe.host.version === 2 ? 'memory.max' : 'memory.limit_in_bytes'))).toBe(String(SMALL.memoryBytes));
    const ns = readlinkSync(`/proc/${h.sandbox.initPid}/ns/pid`);
    const inSandbox = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((p) => {
      try { return readlinkSync(`/proc/${p}/ns/pid`) === ns; } catch { return false; }
    });
    // Listed after: a process of the sandbox missing from the cgroup has exited meanwhile, or escaped.
    const inLab = new Set(await processesIn(cg));
    expect(inSandbox.length).toBeGreaterThan(20);
    expect(inSandbox.filter((p) => !inLab.has(p) && existsSync(`/proc/${p}`))).toEqual([]);
    expect(inLab.has(h.sandbox.holderPid)).toBe(true);
    // A command entered from outside (a learner's tab) is born there too, in the sandbox's child.
    const self = await sh('worker', 'cat /proc/self/cgroup');
    expect(self.out).toContain(`/${small.facts.id}/${SANDBOX_CGROUP}`);
  });

  it('stops a fork storm in a pod at the pod\'s share; the lab, its API and another lab carry on', async () => {
    expect((await kubectl('apply -f -', pod('storm', STORM))).code).toBe(0);
    const log = await untilPrints(async () => (await kubectl('logs storm')).out, /^forked \d+ \w+$/, 'the storm pod', 60_000);
    const container = child(child(cg, PODS_CGROUP), 'pod_default_storm_storm_0');
    const share = containerProcesses(SMALL);
    // The kernel refused the fork that would have passed the container's pids.max: the storm
    // holds all of the container's share (itself and its children), and no more.
    expect(read(join(dirOf(container, 'pids'), 'pids.max'))).toBe(String(share));
    expect(log).toBe(`forked ${share - 1} EAGAIN`);
    expect(read(join(dirOf(container, 'pids'), 'pids.current'))).toBe(String(share));
    expect(refusedForks(container)).toBeGreaterThan(0);
    // The lab has room left for its own work: kubectl in it, the kubelet's probes, the API.
    expect((await kubectl('get pod storm -o jsonpath={.status.phase}')).out).toBe('Running');
    expect(await apiAnswers()).toBe(true);
    expect(await otherGrades()).toBe('pass');
    // And the learner can end it: deleting the pod kills all of it, and its cgroup goes.
    expect((await kubectl('delete pod storm --wait=true')).code).toBe(0);
    expect(existsSync(dirOf(container, 'pids'))).toBe(false);
  });

  it('stops a fork storm on a node at the lab\'s limit; the lab\'s API and another lab carry on, and the lab recovers', async () => {
    // In a directory of the lab's that its root may write (as root, the lab's directory itself is not).
    const count = join(small.dir, 'run', 'storm.count');
    const storm = small.exec('worker', ['python3', '-c', STORM, count], { timeoutMs: 120_000 });
    // Ended from outside, by the PIDs its cgroup lists (inside, the lab has no task left to do it).
    const stormPids = async () => (await processesIn(child(cg, SANDBOX_CGROUP))).filter((p) => {
      try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('storm.count'); } catch { return false; }
    });
    try {
      const sandbox = child(cg, SANDBOX_CGROUP);
      const before = refusedForks(cg, sandbox);
      await untilPrints(async () => (existsSync(count) ? read(count) : ''), /^forked \d+ EAGAIN$/, 'the storm on the worker', 60_000);
      // The lab's pids.max refused it (the lab's own tasks come and go beside the storm's).
      expect(refusedForks(cg, sandbox)).toBeGreaterThan(before);
      expect((await stormPids()).length).toBeGreaterThan(100);
      expect(Number(read(join(dirOf(cg, 'pids'), 'pids.current')))).toBeLessThanOrEqual(256);
      expect(await apiAnswers()).toBe(true);
      expect(await otherGrades()).toBe('pass');
    } finally {
      for (const p of await stormPids()) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
      await storm;
    }
    await untilPrints(async () => String((await small.exec('worker', ['true'])).code), /^0$/, 'a command on the worker', 30_000);
  });

  it('OOM-kills a container over its memory limit and reports it as Kubernetes does, to every kubectl', async () => {
    // The real kubectl on the host, watching as a learner would: OOMKilled, then CrashLoopBackOff.
    const watcher = spawn('kubectl', ['--kubeconfig', kubeconfig, 'get', 'pods', '--watch'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let stderr = '';
    watcher.stderr!.on('data', (b) => { stderr += b; });
    const watched = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`kubectl get -w never showed CrashLoopBackOff: ${lines.join(' | ')} ${stderr}`)), 90_000);
      createInterface({ input: watcher.stdout! }).on('line', (l) => {
        if (!l.startsWith('balloon ')) return;
        lines.push(l);
        if (/\sCrashLoopBackOff\s/.test(l)) { clearTimeout(timer); resolve(); }
      });
    });
    try {
      await untilPrints(async () => (await kubectl('apply -f -', pod('balloon', BALLOON, { limits: { memory: '64Mi', cpu: '250m' } }))).out, /pod\/balloon created/, 'creating the balloon');
      await watched;
    } finally {
      watcher.kill();
    }
    const statuses = lines.map((l) => l.split(/\s+/)[2]);
    expect(statuses.indexOf('OOMKilled')).toBeGreaterThanOrEqual(0);
    expect(statuses.indexOf('OOMKilled')).toBeLessThan(statuses.indexOf('CrashLoopBackOff'));
    // The kernel did it, in the container's cgroup, at its limit (and its CPU is capped at a quarter core).
    const container = child(child(cg, PODS_CGROUP), 'pod_default_balloon_balloon_0');
    const v2 = probe.ok && probe.host.version === 2;
    expect(read(join(dirOf(container, 'memory'), v2 ? 'memory.max' : 'memory.limit_in_bytes'))).toBe(String(64 * 2 ** 20));
    expect(read(join(dirOf(container, 'cpu'), v2 ? 'cpu.max' : 'cpu.cfs_quota_us'))).toBe(v2 ? '25000 100000' : '25000');
    // describe shows the termination, with every kubectl minor this machine has from 1.30 on.
    const minors = [...kubectlMinors()].filter(([m]) => Number(m.split('.')[1]) >= 30);
    expect(minors.length).toBeGreaterThan(0);
    for (const [minor, bin] of minors) {
      const d = await sh('admin', `${bin} describe pod balloon`);
      expect(d.out, minor).toMatch(/Last State:\s+Terminated\n\s+Reason:\s+OOMKilled\n\s+Exit Code:\s+137\n/);
      expect(d.out, minor).toMatch(/Limits:\n\s+cpu:\s+250m\n\s+memory:\s+64Mi\n/);
      expect(d.out, minor).toMatch(/QoS Class:\s+Guaranteed/);
    }
    expect((await kubectl('get pod balloon -o jsonpath={.status.containerStatuses[0].lastState.terminated.reason}/{.status.phase}')).out).toBe('OOMKilled/Running');
    // Nothing else was touched: the lab's other pods, the other lab, the API.
    const rest = (await kubectl('get pods -A --no-headers')).out.split('\n').filter((l) => !l.includes('balloon'));
    expect(rest.length).toBeGreaterThanOrEqual(10);
    for (const l of rest) expect(l.split(/\s+/).slice(2, 5)).toEqual(['1/1', 'Running', '0']);
    expect(await otherGrades()).toBe('pass');
    expect(await apiAnswers()).toBe(true);
    expect((await kubectl('delete pod balloon --wait=true')).code).toBe(0);
  });

  it('goes with its lab: on destroy, and on `netdojo down --all` after its holder was killed', async () => {
    const host = probe.ok ? probe.host : undefined!;
    const a = await netnsProvider.create(baseTopology(), { id: newLabId(), scenario: 'test', seed: 2 });
    expect((await existingLabCgroup(host, a.facts.id)).length).toBe(new Set(Object.values(host.dirs)).size);
    expect(labHandle(a.record).sandbox.limits?.cgroup).toBeDefined();
    await a.destroy();
    expect(await existingLabCgroup(host, a.facts.id)).toEqual([]);

    const b = await netnsProvider.create(baseTopology(), { id: newLabId(), scenario: 'test', seed: 3, resources: DEFAULT_LAB_RESOURCES });
    process.kill(labHandle(b.record).sandbox.holderPid, 'SIGKILL');
    const down = await netdojo(home.dir, ['down', '--all']);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stderr).toContain(b.facts.id);
    expect(await existingLabCgroup(host, b.facts.id)).toEqual([]);
    // The limited lab and the other lab were alive: `down --all` took them too, cgroups and all.
    expect(await existingLabCgroup(host, small.facts.id)).toEqual([]);
    small = undefined!;
    other = undefined!;
  });
});

// Where cgroups are not the user's (an unprivileged user on a cgroup v1 host), RLIMIT_NPROC holds a
// rootless lab: counted per user namespace, so it is the lab's limit, not the user's.
const rootlessProbe = await probeCgroups({ ...(await hostFacts()), uid: 65534 });
const whyRlimit = rootlessUnavailable() ?? (rootlessProbe.ok ? 'cgroups limit rootless labs here: the rlimit path is not taken' : undefined);
if (whyRlimit) console.warn(`skipping the rootless rlimit test: ${whyRlimit}`);

describe.skipIf(whyRlimit)('lab limits without cgroups (rootless: RLIMIT_NPROC)', () => {
  const home = rootlessHome();
  const asUser = rootlessUser();
  afterAll(() => home.remove());

  it('stops a fork storm at the lab\'s limit while the user\'s other processes and the lab\'s API carry on', async () => {
    const up = await netdojo(home.dir, ['up', 'missing-route', '--healthy', '--json', '--lab-processes', '200'], { asUser });
    expect(up.code, up.stderr).toBe(0);
    const id = JSON.parse(up.stdout).lab.id as string;
    const count = join(home.dir, 'labs', id, 'storm.count');
    const storm = netdojo(home.dir, ['exec', id, 'worker', '--', 'python3', '-c', STORM, count], { asUser });
    const stormPids = () => readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((p) => {
      try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(count) && readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('python3'); } catch { return false; }
    });
    try {
      const got = await untilPrints(async () => (existsSync(count) ? read(count) : ''), /^forked \d+ EAGAIN$/, 'the storm on the worker', 60_000);
      const n = Number(got.split(' ')[1]);
      expect(n).toBeGreaterThan(50);
      expect(n).toBeLessThan(200);
      // The user is not held to the lab's limit: more processes than the lab may have start outside it.
      const outside = spawnSync('setpriv', [...(asUser !== undefined ? [`--reuid=${asUser}`, `--regid=${asUser}`, '--clear-groups'] : []), 'python3', '-c',
        'import os\npids = [os.fork() or os._exit(0) for _ in range(300)]\nfor p in pids: os.waitpid(p, 0)\nprint("ok")'], { encoding: 'utf8', env: { ...process.env, PATH: LAB_PATH } });
      expect(outside.stdout.trim(), outside.stderr).toBe('ok');
      // The lab's API answers the host's kubectl.
      const config = await netdojo(home.dir, ['kubeconfig', id], { asUser });
      writeFileSync(join(home.dir, 'kubeconfig'), config.stdout);
      const pods = spawnSync('kubectl', ['--kubeconfig', join(home.dir, 'kubeconfig'), 'get', 'pods', '-A', '--no-headers'], { encoding: 'utf8' });
      expect(pods.stdout.trim().split('\n').length, pods.stderr).toBeGreaterThanOrEqual(10);
    } finally {
      for (const p of stormPids()) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
      await storm;
      expect((await netdojo(home.dir, ['down', id], { asUser })).code).toBe(0);
    }
  });
});
