import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kindClusterName, KIND_LAB_LABEL, newLabId } from '../../lab/naming.ts';
import { baseTopology } from '../../lab/topology.ts';
import { containerExec, containersByLabel, createNetwork, DOCKER, dockerStatus, HOME_LABEL, homeTag, inspectNetwork, KIND_CLUSTER_LABEL, labLabels, networksByLabel, removeNetwork } from './docker.ts';
import { buildProbeImage, missingImageTools, PROBE_IMAGE, removeImage, WEB_PY_IN_IMAGE } from './image.ts';
import { KindLab } from './lab.ts';
import { createKindProvider, PROVISION_ACTIONS } from './provider.ts';
import { imagesCommand } from './commands.ts';
import { baseWorkloads, parseYamlDocs } from './render.ts';
import type { ExecOptions, Lab, ProgressFn } from '../../lab/types.ts';
import { CheckSpec, gradeLab, type Check } from '../../../grader/index.ts';
import { paths, writeRecord, type KindRecord } from './record.ts';
import { nodeRestoreScript, restoreBaseline } from './restore.ts';
import { must, run, waitFor } from '../../util/run.ts';

// Docker-level steps against the real Docker engine: a lab network with an MTU, the probe/backend
// image built offline, exec into containers standing in for kind nodes, and list/reap of leftovers.
// Every object carries KIND_LAB_LABEL and is removed at the end.

const docker = await dockerStatus();
const tools = missingImageTools();
const skipReason = !docker.ok ? docker.reason! : tools.length ? `host lacks ${tools.map((t) => t.name).join(', ')} to build the probe image` : '';

const id = newLabId();
const cluster = kindClusterName(id);
const image = `netdojo/probe:test-${id}`;
// Made only when the tests run: a skipped suite's afterAll would never remove it.
const home = skipReason ? '' : mkdtempSync(join(tmpdir(), 'netdojo-kind-docker-'));
const savedHome = process.env.NETDOJO_HOME;

async function cleanup(labId: string) {
  const cs = [...(await containersByLabel(KIND_LAB_LABEL, labId)), ...(await containersByLabel(KIND_CLUSTER_LABEL, kindClusterName(labId)))];
  if (cs.length) await run(DOCKER, ['rm', '-f', '-v', ...new Set(cs.map((c) => c.name))], { timeoutMs: 60_000 });
  for (const n of await networksByLabel(KIND_LAB_LABEL, labId)) await removeNetwork(n.name);
}

/** A container standing in for a kind node: named and labelled as kind names and labels them. */
async function standInNode(labId: string, node: string, network: string, extra: string[] = []) {
  const name = `${kindClusterName(labId)}-${node}`;
  await must(DOCKER, ['run', '-d', '--name', name, '--hostname', name, '--network', network, '--cap-add', 'NET_ADMIN',
    '--label', `${KIND_CLUSTER_LABEL}=${kindClusterName(labId)}`, '--label', `io.x-k8s.kind.role=${node === 'control-plane' ? 'control-plane' : 'worker'}`,
    '--label', `${KIND_LAB_LABEL}=${labId}`, ...extra, image, 'sleep', 'infinity'], { timeoutMs: 60_000 });
  const ip = (await must(DOCKER, ['inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, name])).trim();
  return { name, ip };
}

let taggedProbe = false;
const fixtures = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'kind');

/** Answers for the stand-in kubectl: the read-back of a kind cluster, renamed to this cluster. */
function fakeCluster(cluster: string, opts: { nodesReady?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'netdojo-fake-kube-'));
  const fx = JSON.parse(readFileSync(join(fixtures, 'cluster-readback.json'), 'utf8').replaceAll('netdojo-labfix01', cluster));
  if (opts.nodesReady === false) for (const n of fx.nodes.items) n.status.conditions = [{ type: 'Ready', status: 'False' }];
  writeFileSync(join(dir, 'nodes.json'), JSON.stringify(fx.nodes));
  writeFileSync(join(dir, 'pods.json'), JSON.stringify(fx.pods));
  writeFileSync(join(dir, 'services.json'), JSON.stringify(fx.services));
  writeFileSync(join(dir, 'endpoints.json'), JSON.stringify({ items: [
    { metadata: { namespace: 'kube-system', name: 'kube-dns' }, subsets: [{ addresses: [{ ip: '10.244.0.2' }] }] },
    { metadata: { namespace: 'default', name: 'web' }, subsets: [{ addresses: [{ ip: '10.244.0.4' }] }] },
  ] }));
  writeFileSync(join(dir, 'kindnet.json'), JSON.stringify({ status: { desiredNumberScheduled: 2, numberReady: 2 } }));
  writeFileSync(join(dir, 'kube-system.json'), JSON.stringify({ kind: 'List', items: [
    { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'kindnet', namespace: 'kube-system', uid: 'u1', resourceVersion: '7', managedFields: [] }, spec: { selector: { matchLabels: { app: 'kindnet' } } }, status: { numberReady: 2 } },
  ] }));
  return dir;
}

describe.skipIf(!!skipReason)(`Docker engine steps${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  const ids = [id];
  beforeAll(async () => {
    process.env.NETDOJO_HOME = home;
    await buildProbeImage({ ref: image, labels: { [KIND_LAB_LABEL]: id } });
    // create() requires the lab image by its fixed tag; lend ours if the engine has none.
    if ((await run(DOCKER, ['image', 'inspect', PROBE_IMAGE])).code !== 0) {
      await must(DOCKER, ['tag', image, PROBE_IMAGE]);
      taggedProbe = true;
    }
  }, 300_000);
  afterAll(async () => {
    for (const i of ids) await cleanup(i);
    if (taggedProbe) await removeImage(PROBE_IMAGE);
    await removeImage(image);
    if (savedHome === undefined) delete process.env.NETDOJO_HOME;
    else process.env.NETDOJO_HOME = savedHome;
    rmSync(home, { recursive: true, force: true });
    // Nothing of ours is left in the engine.
    for (const i of ids) {
      expect(await containersByLabel(KIND_LAB_LABEL, i)).toEqual([]);
      expect(await networksByLabel(KIND_LAB_LABEL, i)).toEqual([]);
    }
    expect((await run(DOCKER, ['image', 'inspect', image])).code).not.toBe(0);
  }, 300_000);

  it('creates a labelled lab network with an MTU, which containers on it inherit, and removes it', async () => {
    const net = await createNetwork(`${cluster}-mtu`, { mtu: 1400, labels: labLabels(id) });
    expect(net.mtu).toBe(1400);
    expect(net.labels[KIND_LAB_LABEL]).toBe(id);
    expect(net.labels[HOME_LABEL]).toBe(homeTag());
    expect(net.subnets.length).toBe(1);
    const r = await must(DOCKER, ['run', '--rm', '--network', net.name, '--label', `${KIND_LAB_LABEL}=${id}`, image, 'cat', '/sys/class/net/eth0/mtu']);
    expect(r.trim()).toBe('1400');
    expect((await networksByLabel(KIND_LAB_LABEL, id)).map((n) => n.name)).toContain(net.name);
    await removeNetwork(net.name);
    expect(await inspectNetwork(net.name)).toBeUndefined();
  });

  it('the locally built image has the probe tools, and web.py answers with the name it is given', async () => {
    const tools = await run(DOCKER, ['run', '--rm', '--network', 'none', '--label', `${KIND_LAB_LABEL}=${id}`, image, 'bash', '-c',
      'dig -v 2>&1 | head -1; curl --version | head -1; ping -V | head -1; ip -V; timeout --version | head -1; python3 -c "import http.server; print(\'python ok\')"']);
    expect(tools.code).toBe(0);
    expect(tools.stdout).toMatch(/DiG 9/);
    expect(tools.stdout).toMatch(/^curl /m);
    expect(tools.stdout).toMatch(/iputils/);
    expect(tools.stdout).toMatch(/iproute2/);
    expect(tools.stdout).toMatch(/python ok/);

    const net = await createNetwork(`${cluster}-web`, { mtu: 1500, labels: labLabels(id) });
    // As in the Deployment: the pod's own name comes in through the downward API ($(POD_NAME)).
    await must(DOCKER, ['run', '-d', '--name', `${cluster}-web-x1`, '--network', net.name, '--label', `${KIND_LAB_LABEL}=${id}`, '-e', 'POD_NAME=web-7c9d8f6b5-h2k4x',
      image, 'sh', '-c', `exec python3 ${WEB_PY_IN_IMAGE} 0.0.0.0 8080 "$POD_NAME" 9090`]);
    const client = await standInNode(id, 'client', net.name);
    const curl = (args: string) => containerExec(client.name, ['sh', '-c', `curl -sS --max-time 5 ${args}`], { timeoutMs: 10_000 });
    const hostname = await waitFor('web.py to answer', async () => {
      const r = await curl(`http://${cluster}-web-x1:8080/hostname`);
      return r.code === 0 ? r.stdout : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    expect(hostname).toBe('web-7c9d8f6b5-h2k4x');
    expect((await curl(`http://${cluster}-web-x1:9090/hostname`)).stdout).toBe('web-7c9d8f6b5-h2k4x');
    expect((await curl(`-o /dev/null -w '%{size_download}' http://${cluster}-web-x1:8080/bytes/1048576`)).stdout).toBe('1048576');
    const up = await containerExec(client.name, ['sh', '-c', `head -c 300000 /dev/zero | curl -sS --max-time 5 --data-binary @- http://${cluster}-web-x1:8080/upload`], { timeoutMs: 10_000 });
    expect(up.stdout).toBe('300000');
    await run(DOCKER, ['rm', '-f', `${cluster}-web-x1`, client.name]);
    await removeNetwork(net.name);
  });

  it("the grader's batched probes run in the image: DNS, identity, large transfers, ping, blocked port", async () => {
    const net = await createNetwork(`${cluster}-grade`, { mtu: 1500, labels: labLabels(id) });
    const web = `${cluster}-gweb`;
    await must(DOCKER, ['run', '-d', '--name', web, '--network', net.name, '--label', `${KIND_LAB_LABEL}=${id}`, image,
      'python3', WEB_PY_IN_IMAGE, '0.0.0.0', '8080', 'web-7c9d8f6b5-h2k4x']);
    const client = await standInNode(id, 'gclient', net.name);
    const webIP = (await must(DOCKER, ['inspect', '-f', `{{(index .NetworkSettings.Networks "${net.name}").IPAddress}}`, web])).trim();
    await waitFor('web.py', async () => (await containerExec(client.name, ['curl', '-sf', '--max-time', '2', `http://${webIP}:8080/healthz`], { timeoutMs: 5000 })).code === 0, { timeoutMs: 30_000, intervalMs: 200 });
    // A Lab whose one pod is the client container: exactly what the grader needs (exec).
    const lab = { facts: { id, scenario: 't', provider: 'kind', seed: 1, nodes: [], pods: [], services: [], dns: { clusterIP: '', domain: '' } },
      exec: (_t: string, argv: string[], o?: ExecOptions) => containerExec(client.name, argv, o) } as unknown as Lab;
    const from = 'default/client';
    const checks = [
      // Docker's embedded DNS (127.0.0.11) answers container names on user networks.
      { id: 'dns-udp', title: 'dns', kind: 'dns', from, name: web, server: '127.0.0.11', expect: webIP },
      { id: 'identity', title: 'http', kind: 'http', from, url: `http://${webIP}:8080`, backends: ['web-7c9d8f6b5-h2k4x'], requests: 2 },
      { id: 'impostor', title: 'http', kind: 'http', from, url: `http://${webIP}:8080`, backends: ['web-0'] },
      { id: 'mtu', title: 'mtu', kind: 'mtu', from, url: `http://${webIP}:8080`, bytes: 1_048_576, direction: 'both', dfPing: { host: webIP, size: 1472 } },
      { id: 'icmp', title: 'icmp', kind: 'icmp', from, host: webIP },
      { id: 'closed', title: 'negative', kind: 'negative', from, host: webIP, port: 9999 },
    ].map((c) => ({ ...CheckSpec.parse(c), from }) as Check);
    const report = await gradeLab(lab, checks, { policy: { windowMs: 0 } });
    const state = Object.fromEntries(report.checks.map((c) => [c.id, c.state]));
    expect(state).toEqual({ 'dns-udp': 'PASS', identity: 'PASS', impostor: 'WRONG_ANSWER', mtu: 'PASS', icmp: 'PASS', closed: 'PASS' });
    await run(DOCKER, ['rm', '-f', web, client.name]);
    await removeNetwork(net.name);
  }, 120_000);

  describe('a lab whose nodes are stand-in containers', () => {
    let lab: KindLab;
    let ips: Record<string, string> = {};
    beforeAll(async () => {
      const net = await createNetwork(cluster, { mtu: 1400, labels: labLabels(id) });
      for (const n of ['control-plane', 'worker']) ips[n] = (await standInNode(id, n, net.name)).ip;
      const topo = baseTopology();
      const rec: KindRecord = {
        id, provider: 'kind', scenario: 'test', seed: 1, cluster, network: cluster, mtu: 1500, createdAt: new Date().toISOString(),
        state: 'ready', pid: process.pid, host: 'test',
        facts: {
          id, scenario: 'test', provider: 'kind', seed: 1,
          nodes: topo.nodes.map((n) => ({ ...n, ip: ips[n.name] })),
          pods: [], services: [], dns: topo.dns,
        },
      };
      await writeRecord(rec);
      lab = new KindLab(rec, { destroy: async () => {} });
    }, 120_000);

    it('exec on a node runs in its container (docker exec), with stdin', async () => {
      const r = await lab.exec('control-plane', ['sh', '-c', 'hostname; cat /sys/class/net/eth0/mtu']);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${cluster}-control-plane\n1400\n`);
      const s = await lab.exec('worker', ['sh', '-c', 'tr a-z A-Z'], { stdin: 'from stdin\n' });
      expect(s.stdout).toBe('FROM STDIN\n');
      const bad = await lab.exec('worker', ['sh', '-c', 'exit 3']);
      expect(bad.code).toBe(3);
    });

    it('nodes reach each other across the lab network; DF pings above its MTU fail', async () => {
      const ok = await lab.exec('control-plane', ['ping', '-c', '1', '-W', '2', '-M', 'do', '-s', '1372', ips.worker], { timeoutMs: 10_000 });
      expect(ok.code).toBe(0);
      const big = await lab.exec('control-plane', ['ping', '-c', '1', '-W', '2', '-M', 'do', '-s', '1472', ips.worker], { timeoutMs: 10_000 });
      expect(big.code).not.toBe(0);
      expect(big.stdout + big.stderr).toMatch(/message too long|mtu = 1400/i);
    });

    it('a node exec that outlives its deadline is killed inside the container too', async () => {
      const r = await lab.exec('worker', ['sh', '-c', 'echo started; exec sleep 77'], { timeoutMs: 1000 });
      expect(r).toMatchObject({ code: null, timedOut: true });
      expect(r.stdout).toBe('started\n');
      const ps = await lab.exec('worker', ['sh', '-c', 'for p in /proc/[0-9]*; do cat $p/cmdline 2>/dev/null | tr "\\0" " "; echo; done']);
      expect(ps.stdout).not.toMatch(/sleep 77/);
    });

    it('admin runs on the host with the lab kubeconfig and nothing else of the user', async () => {
      const r = await lab.exec('admin', ['sh', '-c', 'echo "$KUBECONFIG|$NETDOJO_LAB"']);
      expect(r.stdout).toBe(`${paths(id).kubeconfig}|${id}\n`);
      const t = await lab.exec('admin', ['sh', '-c', 'sleep 30 | cat'], { timeoutMs: 500 });
      expect(t).toMatchObject({ code: null, timedOut: true });
      expect(t.ms).toBeLessThan(10_000);
    });

    it('the reset script puts a node eth0 MTU back', async () => {
      await lab.exec('worker', ['ip', 'link', 'set', 'dev', 'eth0', 'mtu', '1300']);
      expect((await lab.exec('worker', ['cat', '/sys/class/net/eth0/mtu'])).stdout.trim()).toBe('1300');
      const r = await lab.exec('worker', ['sh', '-c', nodeRestoreScript(1400)], { timeoutMs: 20_000 });
      expect(r.code).toBe(0);
      expect((await lab.exec('worker', ['cat', '/sys/class/net/eth0/mtu'])).stdout.trim()).toBe('1400');
    });
  });

  it('list finds a crashed lab by its labels and reap removes every leftover', async () => {
    const lost = newLabId();
    ids.push(lost);
    const provider = createKindProvider({ kind: 'netdojo-no-such-kind-binary' });
    const net = await createNetwork(kindClusterName(lost), { mtu: 1500, labels: labLabels(lost) });
    await standInNode(lost, 'control-plane', net.name);
    const before = await provider.list();
    const entry = before.find((l) => l.id === lost);
    expect(entry).toMatchObject({ provider: 'kind', state: 'dead' });
    expect(entry!.detail).toMatch(/no lab record/);
    // A lab with a record and running nodes is alive and left alone.
    expect(before.find((l) => l.id === id)).toMatchObject({ state: 'alive' });

    const removed = await provider.reap();
    expect(removed).toContain(lost);
    expect(removed).not.toContain(id);
    // Another state directory's leftovers on the same engine are not ours to reap.
    const foreign = newLabId();
    ids.push(foreign);
    const fnet = await createNetwork(kindClusterName(foreign), { mtu: 1500, labels: { [KIND_LAB_LABEL]: foreign, [HOME_LABEL]: 'someoneelse' } });
    await standInNode(foreign, 'control-plane', fnet.name);
    expect((await provider.list()).some((l) => l.id === foreign)).toBe(false);
    expect(await provider.reap()).not.toContain(foreign);
    expect((await containersByLabel(KIND_CLUSTER_LABEL, kindClusterName(foreign))).length).toBe(1);
    expect(await containersByLabel(KIND_CLUSTER_LABEL, kindClusterName(lost))).toEqual([]);
    expect(await networksByLabel(KIND_LAB_LABEL, lost)).toEqual([]);
    expect((await provider.list()).some((l) => l.id === lost)).toBe(false);
  });

  it('a record whose creation was interrupted (holder gone) is dead and reaped', async () => {
    const crashed = newLabId();
    ids.push(crashed);
    await writeRecord({
      id: crashed, provider: 'kind', scenario: 'x', seed: 0, cluster: kindClusterName(crashed), network: kindClusterName(crashed), mtu: 1500,
      createdAt: new Date().toISOString(), state: 'creating', pid: 2 ** 22 + 12345, host: (await import('node:os')).hostname(),
    });
    const provider = createKindProvider({ kind: 'netdojo-no-such-kind-binary' });
    expect((await provider.list()).find((l) => l.id === crashed)).toMatchObject({ state: 'dead', detail: expect.stringMatching(/creation interrupted/) });
    expect(await provider.reap()).toContain(crashed);
    expect((await provider.list()).some((l) => l.id === crashed)).toBe(false);
  });
  describe('create, open, list and destroy, with kind and kubectl stood in', () => {
    const env = { ...process.env };
    afterAll(() => {
      for (const k of ['NETDOJO_KUBECTL', 'NETDOJO_KIND', 'FAKE_KUBE_DIR', 'FAKE_KIND_NODE_IMAGE', 'FAKE_KIND_LOG']) {
        if (env[k] === undefined) delete process.env[k];
        else process.env[k] = env[k];
      }
    });
    const standIns = (kubeDir: string) => {
      process.env.NETDOJO_KUBECTL = join(fixtures, 'fake-kubectl');
      process.env.FAKE_KUBE_DIR = kubeDir;
      process.env.FAKE_KIND_NODE_IMAGE = image;
      process.env.FAKE_KIND_LOG = join(kubeDir, 'kind.log');
      process.env.NETDOJO_KIND = join(fixtures, 'fake-kind');
      return createKindProvider({ kind: join(fixtures, 'fake-kind'), readyTimeoutMs: 20_000 });
    };

    it('provisions in named steps on its own network with the topology MTU, records the facts, and destroys everything', async () => {
      const lid = newLabId();
      ids.push(lid);
      const c = kindClusterName(lid);
      const kubeDir = fakeCluster(c);
      const provider = standIns(kubeDir);
      const topo = baseTopology();
      topo.underlay.mtu = 1400;
      const seen: Parameters<ProgressFn>[0][] = [];
      const lab = (await provider.create(topo, { id: lid, scenario: 'mtu-blackhole', seed: 7, onProgress: (p) => seen.push(p) })) as KindLab;

      expect(seen.filter((p) => p.status === 'done').map((p) => p.action)).toEqual([...PROVISION_ACTIONS]);
      expect(seen.filter((p) => p.status === 'start').map((p) => p.action)).toEqual([...PROVISION_ACTIONS]);
      const net = await inspectNetwork(c);
      expect(net).toMatchObject({ mtu: 1400, labels: { [KIND_LAB_LABEL]: lid, [HOME_LABEL]: homeTag() } });
      const p = paths(lid);
      const kindLog = readFileSync(join(kubeDir, 'kind.log'), 'utf8');
      expect(kindLog).toContain(`kind create cluster --name ${c} --config ${p.config} --kubeconfig ${p.kubeconfig}`);
      expect(kindLog).toContain(`kind load docker-image ${PROBE_IMAGE} --name ${c}`);
      expect(parseYamlDocs(readFileSync(p.config, 'utf8'))[0].name).toBe(c);
      // The base workloads went to the API server exactly as rendered.
      expect(readFileSync(join(kubeDir, 'applied.yaml'), 'utf8')).toBe(baseWorkloads());
      const snap = JSON.parse(readFileSync(p.snapshot, 'utf8'));
      expect(snap.items[0].metadata).toEqual({ name: 'kindnet', namespace: 'kube-system' });
      expect(lab.facts).toMatchObject({ id: lid, scenario: 'mtu-blackhole', seed: 7, provider: 'kind' });
      expect(lab.facts.nodes.map((n) => n.name)).toEqual(['control-plane', 'worker']);

      // The node containers sit on the lab network, at its MTU.
      expect((await lab.exec('worker', ['cat', '/sys/class/net/eth0/mtu'])).stdout.trim()).toBe('1400');
      const reopened = await provider.open(lid);
      expect(reopened.facts).toEqual(lab.facts);
      expect((await provider.list()).find((l) => l.id === lid)).toMatchObject({ state: 'alive', scenario: 'mtu-blackhole' });

      // `netdojo images` loads the (present) image into every live lab's cluster.
      const images = await imagesCommand();
      expect(images).toMatchObject({ image: PROBE_IMAGE, built: false });
      expect(images.loadedInto).toContain(c);
      expect(readFileSync(join(kubeDir, 'kind.log'), 'utf8').split(`kind load docker-image ${PROBE_IMAGE} --name ${c}`).length).toBe(3);

      // Reset in place: a node's uplink MTU changed by a break comes back, kube-system is restored
      // from the snapshot and the base workloads re-applied, in that order; the cluster stays.
      await lab.exec('worker', ['ip', 'link', 'set', 'dev', 'eth0', 'mtu', '1300']);
      writeFileSync(join(kubeDir, 'calls'), '');
      writeFileSync(join(kubeDir, 'applied.yaml'), '');
      const steps: string[] = [];
      const restored = await restoreBaseline(lab, provider, (e) => e.status === 'done' && steps.push(e.action));
      expect(steps).toEqual(['Removing NetworkPolicies', 'Restoring kube-system', 'Restoring nodes', 'Restarting CNI', 'Recreating base workloads', 'Waiting for nodes', 'Waiting for CNI', 'Waiting for workloads']);
      expect((await restored.exec('worker', ['cat', '/sys/class/net/eth0/mtu'])).stdout.trim()).toBe('1400');
      const calls = readFileSync(join(kubeDir, 'calls'), 'utf8').split('\n');
      const at = (cmd: string) => calls.indexOf(cmd);
      expect(at('delete networkpolicy --all --all-namespaces --wait=true')).toBe(0);
      expect(at('-n kube-system rollout restart deployment/coredns')).toBeGreaterThan(at('apply -f -'));
      expect(at('-n default delete pod -l app=web --wait=true')).toBeGreaterThan(at('-n kube-system delete pod -l app=kindnet --wait=true'));
      const applied = readFileSync(join(kubeDir, 'applied.yaml'), 'utf8');
      expect(applied.startsWith(readFileSync(p.snapshot, 'utf8'))).toBe(true);
      expect(applied.endsWith(baseWorkloads())).toBe(true);
      expect(restored.facts.nodes).toEqual(lab.facts.nodes);
      expect((await containersByLabel(KIND_CLUSTER_LABEL, c)).length).toBe(2);

      await lab.destroy();
      expect(await containersByLabel(KIND_CLUSTER_LABEL, c)).toEqual([]);
      expect(await inspectNetwork(c)).toBeUndefined();
      expect(existsSync(p.dir)).toBe(false);
      expect((await provider.list()).some((l) => l.id === lid)).toBe(false);
      rmSync(kubeDir, { recursive: true, force: true });
    }, 120_000);

    it('a lab that never becomes ready fails at its step and is removed completely', async () => {
      const lid = newLabId();
      ids.push(lid);
      const c = kindClusterName(lid);
      const kubeDir = fakeCluster(c, { nodesReady: false });
      const provider = createKindProvider({ kind: join(fixtures, 'fake-kind'), readyTimeoutMs: 2_000 });
      standIns(kubeDir);
      const seen: Parameters<ProgressFn>[0][] = [];
      const err = await provider.create(baseTopology(), { id: lid, scenario: 'x', seed: 1, onProgress: (p) => seen.push(p) }).catch((e) => e);
      expect(err.message).toMatch(/could not be created: timed out .* waiting for 2 nodes Ready/);
      expect(seen.at(-1)).toMatchObject({ action: 'Waiting for nodes', status: 'fail' });
      expect(await containersByLabel(KIND_CLUSTER_LABEL, c)).toEqual([]);
      expect(await inspectNetwork(c)).toBeUndefined();
      expect(existsSync(paths(lid).dir)).toBe(false);
      rmSync(kubeDir, { recursive: true, force: true });
    }, 120_000);
  });
});
