import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CheckSpec, gradeLab, type Check, type GradeReport } from '../../../grader/index.ts';
import { kindClusterName, KIND_LAB_LABEL, newLabId } from '../../lab/naming.ts';
import { baseTopology, WEB_CLUSTER_IP } from '../../lab/topology.ts';
import type { LabFacts, ProgressFn } from '../../lab/types.ts';
import { loadScenario } from '../../scenario/load.ts';
import { renderScenario } from '../../scenario/render.ts';
import { verify } from '../../verify.ts';
import { containersByLabel, dockerStatus, KIND_CLUSTER_LABEL, networksByLabel } from './docker.ts';
import { prepareImages } from './image.ts';
import { KindLab } from './lab.ts';
import { createKindProvider, kindBin, PROVISION_ACTIONS } from './provider.ts';
import { paths } from './record.ts';
import { restoreBaseline } from './restore.ts';
import { run, waitFor } from '../../util/run.ts';

// Real clusters: create a kind lab, grade it, break and fix it with each seed scenario's kind steps
// (resetting in place between them), then `verify --provider kind`. Runs only where kind and a
// Docker daemon are present; elsewhere it is skipped with the reason in its title.

const kindPresent = (await run(kindBin(), ['version'], { timeoutMs: 15_000 })).code === 0;
const docker = await dockerStatus();
const skipReason = !kindPresent ? 'kind not installed' : !docker.ok ? docker.reason! : '';

const HOUR = 3_600_000;
const SCENARIOS = ['dns-egress-dropped', 'mtu-blackhole', 'coredns-down', 'missing-route'];

/** Checks every healthy kind lab passes, built from its facts (no hard-coded pod names). */
function healthyChecks(f: LabFacts): Check[] {
  const web = f.pods.filter((p) => p.app === 'web');
  const clients = f.pods.filter((p) => p.app === 'client');
  const webIP = f.services.find((s) => s.target === 'default/web')!.clusterIP;
  const name = (t: string) => t.split('/')[1];
  return clients.flatMap((c) => {
    const remote = web.find((w) => w.node !== c.node)!;
    const n = c.node;
    return [
      { id: `dns-udp-${n}`, title: 'DNS over UDP', kind: 'dns', from: c.target, name: 'web.default.svc.cluster.local', expect: webIP },
      { id: `dns-tcp-${n}`, title: 'DNS over TCP', kind: 'dns', from: c.target, name: 'kube-dns.kube-system.svc.cluster.local', proto: 'tcp', expect: f.dns.clusterIP },
      { id: `dns-search-${n}`, title: 'short name through resolv.conf', kind: 'dns', from: c.target, name: 'web', expect: webIP },
      { id: `http-${n}`, title: 'web Service, both backends', kind: 'http', from: c.target, url: 'http://web', backends: web.map((w) => name(w.target)), requests: 8 },
      { id: `icmp-${n}`, title: 'ping across nodes', kind: 'icmp', from: c.target, host: remote.ip },
      { id: `mtu-${n}`, title: 'large transfer across nodes', kind: 'mtu', from: c.target, url: `http://${remote.ip}:8080`, bytes: 1_048_576, direction: 'both' },
    ].map((c) => ({ ...CheckSpec.parse(c), from: c.from }) as Check);
  });
}

const failed = (r: GradeReport) => r.checks.filter((c) => !c.pass).map((c) => c.id);

describe.skipIf(!!skipReason)(`kind end to end${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  // Made only when the tests run: a skipped suite's afterAll would never remove it.
  const home = skipReason ? '' : mkdtempSync(join(tmpdir(), 'netdojo-kind-e2e-'));
  const saved = process.env.NETDOJO_HOME;
  const id = newLabId();
  const provider = createKindProvider();
  const progress: Parameters<ProgressFn>[0][] = [];
  const userKubeconfig = join(homedir(), '.kube', 'config');
  const userKubeconfigBefore = existsSync(userKubeconfig) ? statSync(userKubeconfig).mtimeMs : undefined;
  let lab: KindLab;

  beforeAll(async () => {
    process.env.NETDOJO_HOME = home;
    await prepareImages();
    lab = (await provider.create(baseTopology(), { id, scenario: 'e2e', seed: 1, onProgress: (p) => progress.push(p) })) as KindLab;
  }, HOUR);

  afterAll(async () => {
    await lab?.destroy();
    if (saved === undefined) delete process.env.NETDOJO_HOME;
    else process.env.NETDOJO_HOME = saved;
    rmSync(home, { recursive: true, force: true });
  }, HOUR);

  it('reports every provisioning action, in order, each started and done', () => {
    const done = progress.filter((p) => p.status === 'done').map((p) => p.action);
    expect(done).toEqual([...PROVISION_ACTIONS]);
    expect(progress.some((p) => p.status === 'fail')).toBe(false);
  });

  it('reports the facts of a 2-node kind cluster, one web backend per node', () => {
    const f = lab.facts;
    expect(f.nodes.map((n) => n.name)).toEqual(['control-plane', 'worker']);
    for (const n of f.nodes) expect(n.podCIDR).toMatch(/^10\.244\.\d+\.0\/24$/);
    const web = f.pods.filter((p) => p.app === 'web');
    expect(new Set(web.map((w) => w.node))).toEqual(new Set(['control-plane', 'worker']));
    expect(f.pods.filter((p) => p.app === 'client').map((p) => p.target).sort()).toEqual(['default/client-control-plane', 'default/client-worker']);
    expect(f.dns.clusterIP).toBe('10.96.0.10');
    expect(f.services.find((s) => s.target === 'default/web')?.clusterIP).toBe(WEB_CLUSTER_IP);
  });

  it("keeps its kubeconfig in the lab's own directory and leaves ~/.kube/config alone", () => {
    const kc = parseYaml(readFileSync(paths(id).kubeconfig, 'utf8'));
    expect(kc['current-context']).toBe(`kind-${kindClusterName(id)}`);
    expect(existsSync(userKubeconfig) ? statSync(userKubeconfig).mtimeMs : undefined).toBe(userKubeconfigBefore);
  });

  it('execs in pods through the API server with real exit codes, and kills what outlives its deadline', async () => {
    const ok = await lab.exec('default/client-worker', ['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(ok).toMatchObject({ code: 3, stdout: 'out\n', stderr: 'err\n', timedOut: false });
    const me = await lab.exec('default/client-worker', ['cat'], { stdin: 'via stdin\n' });
    expect(me.stdout).toBe('via stdin\n');
    const slow = await lab.exec('default/client-worker', ['sleep', '97'], { timeoutMs: 2000 });
    expect(slow).toMatchObject({ code: null, timedOut: true });
    // The socket is closed at the deadline; `timeout` ends the remote command a second later.
    await waitFor('the timed-out command to be gone from the pod', async () => {
      const ps = await lab.exec('default/client-worker', ['sh', '-c', 'for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline 2>/dev/null; echo; done'], { timeoutMs: 20_000 });
      return ps.code === 0 && !ps.stdout.includes('sleep 97');
    }, { timeoutMs: 15_000, intervalMs: 500 });
    const web = lab.facts.pods.find((p) => p.app === 'web')!;
    const hostname = await lab.exec('default/client-control-plane', ['curl', '-sS', '--max-time', '5', `http://${web.ip}:8080/hostname`]);
    expect(hostname.stdout).toBe(web.target.split('/')[1]);
  });

  it('execs on nodes with docker exec (the kind node containers)', async () => {
    const r = await lab.exec('worker', ['sh', '-c', 'hostname; ls /etc/cni/net.d']);
    expect(r.stdout).toContain(`${kindClusterName(id)}-worker`);
    expect(r.stdout).toMatch(/conflist/);
    const admin = await lab.exec('admin', ['kubectl', 'get', 'nodes', '-o', 'name']);
    expect(admin.stdout.trim().split('\n').length).toBe(2);
  });

  it('a healthy lab grades pass', async () => {
    const report = await gradeLab(lab, healthyChecks(lab.facts));
    expect(failed(report)).toEqual([]);
    expect(report.verdict).toBe('pass');
  }, 10 * 60_000);

  it.each(SCENARIOS)('%s: the kind break fails its target checks, the solution passes, and a reset in place restores the baseline', async (scenario) => {
    const r = renderScenario(await loadScenario(scenario), lab.facts, 1, 'kind', lab.targets());
    const runAll = async (steps: { on: string; run: string }[]) => {
      for (const s of steps) {
        const x = await lab.exec(s.on, ['bash', '-c', `set -e\n${s.run}`], { timeoutMs: 300_000 });
        expect(x.code, `${s.on}: ${x.stderr}`).toBe(0);
      }
    };
    await runAll(r.setup);
    await runAll(r.break);
    const broken = await gradeLab(lab, healthyChecks(lab.facts));
    expect(broken.verdict).toBe('fail');
    const v = r.variant;
    const target = { 'dns-egress-dropped': [`dns-udp-${v.node}`], 'mtu-blackhole': ['mtu-control-plane', 'mtu-worker'], 'coredns-down': ['dns-udp-control-plane', 'dns-udp-worker'], 'missing-route': ['icmp-control-plane', 'icmp-worker'] }[scenario]!;
    expect(failed(broken)).toEqual(expect.arrayContaining(target));
    await runAll(r.solution.steps);
    const solved = await gradeLab(lab, healthyChecks(lab.facts));
    expect(failed(solved)).toEqual([]);

    lab = await restoreBaseline(lab, provider);
    const baseline = await gradeLab(lab, healthyChecks(lab.facts));
    expect(failed(baseline)).toEqual([]);
  }, HOUR);

  it('verify --provider kind proves every scenario that declares kind', async () => {
    const declaring: string[] = [];
    for (const s of SCENARIOS) if ((await loadScenario(s)).spec.providers.includes('kind')) declaring.push(s);
    const { results } = await verify({ scenarios: SCENARIOS, provider: 'kind', seeds: [1], thorough: false });
    expect(results.map((x) => x.id)).toEqual(declaring);
    for (const x of results) expect(x.problems, x.id).toEqual([]);
  }, 4 * HOUR);

  it('destroy leaves nothing behind: no node containers, no network, no lab directory', async () => {
    await lab.destroy();
    expect(await containersByLabel(KIND_CLUSTER_LABEL, kindClusterName(id))).toEqual([]);
    expect(await networksByLabel(KIND_LAB_LABEL, id)).toEqual([]);
    expect(existsSync(paths(id).dir)).toBe(false);
    expect((await provider.list()).some((l) => l.id === id)).toBe(false);
  }, 10 * 60_000);
});
