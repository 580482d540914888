import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kindClusterName, KIND_LAB_LABEL, labDir, newLabId } from '../../lab/naming.ts';
import { baseTopology } from '../../lab/topology.ts';
import { LabError, type ProgressFn } from '../../lab/types.ts';
import { dockerStatus, networksByLabel } from './docker.ts';
import { KindLab } from './lab.ts';
import { cleanForApply, createKindProvider, runActions } from './provider.ts';
import { paths, writeRecord, type KindRecord } from './record.ts';
import { hostname } from 'node:os';

// The provider's own logic where no cluster is needed: progress reporting, failing early and
// cleanly, shells, targets, and exec results when the cluster cannot be reached.

const home = mkdtempSync(join(tmpdir(), 'netdojo-kind-provider-'));
const saved = process.env.NETDOJO_HOME;
beforeAll(() => {
  process.env.NETDOJO_HOME = home;
});
afterAll(() => {
  if (saved === undefined) delete process.env.NETDOJO_HOME;
  else process.env.NETDOJO_HOME = saved;
  rmSync(home, { recursive: true, force: true });
});

describe('runActions', () => {
  it('reports each action started then done, in order, with its time', async () => {
    const seen: Parameters<ProgressFn>[0][] = [];
    const order: string[] = [];
    await runActions([['one', async () => void order.push('1')], ['two', async () => void order.push('2')]], (p) => seen.push(p));
    expect(order).toEqual(['1', '2']);
    expect(seen.map((p) => `${p.action}:${p.status}`)).toEqual(['one:start', 'one:done', 'two:start', 'two:done']);
    expect(seen.filter((p) => p.status === 'done').every((p) => typeof p.ms === 'number')).toBe(true);
  });

  it('stops at the first failure and reports it with the error', async () => {
    const seen: Parameters<ProgressFn>[0][] = [];
    let third = false;
    await expect(runActions([
      ['one', async () => {}],
      ['two', async () => { throw new Error('boom'); }],
      ['three', async () => void (third = true)],
    ], (p) => seen.push(p))).rejects.toThrow('boom');
    expect(third).toBe(false);
    expect(seen.at(-1)).toMatchObject({ action: 'two', status: 'fail', error: 'boom' });
  });
});

describe('create without kind', () => {
  it('fails at "Checking prerequisites" with what is missing, and leaves nothing behind', async () => {
    const d = await dockerStatus();
    const provider = createKindProvider({ kind: 'netdojo-no-such-kind-binary' });
    const id = newLabId();
    const seen: Parameters<ProgressFn>[0][] = [];
    const err = await provider.create(baseTopology(), { id, scenario: 'x', seed: 1, onProgress: (p) => seen.push(p) }).catch((e) => e);
    expect(err).toBeInstanceOf(LabError);
    if (d.ok) expect(err.message).toBe('kind not installed');
    else expect(err.message.startsWith(d.reason!)).toBe(true);
    expect(err.hint).toMatch(/netdojo doctor/);
    expect(seen).toEqual([{ action: 'Checking prerequisites', status: 'start' }, expect.objectContaining({ action: 'Checking prerequisites', status: 'fail' })]);
    expect(existsSync(labDir(id))).toBe(false);
    if (d.ok) expect(await networksByLabel(KIND_LAB_LABEL, id)).toEqual([]);
  });

  it('refuses an id that is not a lab id (ids become cluster and DNS names)', async () => {
    await expect(createKindProvider().create(baseTopology(), { id: 'Bad_ID', scenario: 'x', seed: 1 })).rejects.toThrow(/invalid lab id/);
  });

  it('open says what is wrong with a lab that is missing or unfinished', async () => {
    const provider = createKindProvider();
    await expect(provider.open('lnothere1')).rejects.toThrow(/no kind lab lnothere1/);
    const id = newLabId();
    mkdirSync(labDir(id), { recursive: true });
    await writeRecord({ id, provider: 'kind', scenario: 'x', seed: 1, createdAt: '', cluster: kindClusterName(id), network: kindClusterName(id), mtu: 1500, state: 'creating', pid: process.pid, host: hostname(), topology: baseTopology() });
    await expect(provider.open(id)).rejects.toThrow(/still being created/);
  });
});

function fakeLab(): KindLab {
  const id = newLabId();
  const topo = baseTopology();
  const cluster = kindClusterName(id);
  const rec: KindRecord = {
    id, provider: 'kind', scenario: 's', seed: 1, cluster, network: cluster, mtu: 1500, createdAt: '', state: 'ready', pid: 1, host: 'h',
    facts: {
      id, scenario: 's', provider: 'kind', seed: 1,
      nodes: topo.nodes.map(({ name, role, ip, podCIDR }) => ({ name, role, ip, podCIDR })),
      pods: [
        { target: 'kube-system/coredns-5d78c9869d-abcde', node: 'control-plane', ip: '10.244.0.2', app: 'coredns' },
        { target: 'default/web-7c9d8f6b5-h2k4x', node: 'worker', ip: '10.244.1.2', app: 'web' },
        { target: 'default/client-worker', node: 'worker', ip: '10.244.1.3', app: 'client' },
      ],
      services: [], dns: topo.dns,
    },
  };
  mkdirSync(paths(id).dir, { recursive: true });
  // A kubeconfig pointing at a port nothing listens on: the cluster is unreachable.
  writeFileSync(paths(id).kubeconfig, [
    'apiVersion: v1', 'kind: Config', `current-context: kind-${cluster}`,
    'clusters:', `- name: kind-${cluster}`, '  cluster: {server: "https://127.0.0.1:1"}',
    'contexts:', `- name: kind-${cluster}`, `  context: {cluster: kind-${cluster}, user: kind-${cluster}}`,
    'users:', `- name: kind-${cluster}`, '  user: {}', '',
  ].join('\n'));
  return new KindLab(rec, { destroy: async () => {} });
}

describe('KindLab', () => {
  it('lists nodes first, then pods a learner can enter, then admin and the laptop', () => {
    expect(fakeLab().targets()).toEqual(['control-plane', 'worker', 'default/web-7c9d8f6b5-h2k4x', 'default/client-worker', 'admin', 'laptop']);
  });

  it('is the machine running Docker for the laptop outside the cluster, with the lab\'s kubeconfig', () => {
    const lab = fakeLab();
    const s = lab.shell('laptop');
    expect(s.file).toBe('bash');
    expect(s.env.KUBECONFIG).toBe(paths(lab.id).kubeconfig);
    expect(s.title).toBe('laptop');
  });

  it('gives a node shell through docker exec into the node container, prompt naming the node', () => {
    const lab = fakeLab();
    const s = lab.shell('worker');
    expect(s.file).toBe('docker');
    expect(s.args).toEqual(['exec', '-it', '-e', 'TERM=xterm-256color', '-e', 'PS1=root@worker:\\w# ', `${lab.cluster}-worker`, 'bash', '--norc', '-i']);
    expect(s.title).toBe('worker');
  });

  it('gives a pod shell through kubectl exec with the lab kubeconfig (never the default one)', () => {
    const lab = fakeLab();
    const s = lab.shell('client-worker'); // kubectl's default namespace applies
    expect(s.args.slice(0, 8)).toEqual(['--kubeconfig', paths(lab.id).kubeconfig, 'exec', '-it', '-n', 'default', 'client-worker', '--']);
    expect(s.args.at(-1)).toMatch(/PS1='root@client-worker:\\w# ' exec bash --norc -i/);
    expect(s.title).toBe('default/client-worker');
  });

  it('gives an admin shell with KUBECONFIG set and a prompt naming the lab', () => {
    const lab = fakeLab();
    const s = lab.shell('admin');
    expect(s.file).toBe('bash');
    expect(s.env.KUBECONFIG).toBe(paths(lab.id).kubeconfig);
    const rc = readFileSync(s.args[1], 'utf8');
    expect(s.args).toEqual(['--rcfile', paths(lab.id).bashrc, '-i']);
    expect(rc).toContain(`export KUBECONFIG='${paths(lab.id).kubeconfig}'`);
    expect(rc).toContain(`PS1='[netdojo ${lab.id} kind-admin]`);
  });

  it('refuses targets that cannot name a node or a pod', async () => {
    const lab = fakeLab();
    for (const bad of ['default/', 'a/b/c', 'Default/Web', '']) expect(() => lab.shell(bad), bad).toThrow(LabError);
    await expect(lab.exec('a/b/c', ['true'])).rejects.toThrow(/unknown target/);
  });

  it('a pod exec that cannot reach the cluster is an error result (code null), never exit 0', async () => {
    const r = await fakeLab().exec('default/client-worker', ['true'], { timeoutMs: 20_000 });
    expect(r.code).toBeNull();
    expect(r.timedOut).toBe(false);
    expect(r.stderr).toMatch(/cannot exec in default\/client-worker/);
  });
});

describe('the lab record', () => {
  it('is the shared lab record: the session sees a kind lab, the netns provider leaves it alone, meta survives', async () => {
    const records = await import('../../lab/records.ts');
    const id = newLabId();
    const rec: KindRecord = {
      id, provider: 'kind', scenario: 'coredns-down', seed: 4, createdAt: 'now', cluster: kindClusterName(id), network: kindClusterName(id),
      mtu: 1500, state: 'creating', pid: process.pid, host: hostname(), topology: baseTopology(),
    };
    await writeRecord(rec);
    const shared = await records.readRecord(id);
    expect(shared).toMatchObject({ id, provider: 'kind', scenario: 'coredns-down', seed: 4, handle: { cluster: kindClusterName(id), state: 'creating', kubeconfig: paths(id).kubeconfig } });
    await records.updateMeta(id, { phase: 'broken' });
    await writeRecord({ ...rec, state: 'ready', facts: { id, scenario: 'coredns-down', provider: 'kind', seed: 4, nodes: [], pods: [], services: [], dns: baseTopology().dns } });
    expect((await records.readRecord(id)).meta).toEqual({ phase: 'broken' });
    const netns = await (await import('../index.ts')).getProvider('netns');
    expect((await netns.list()).some((l) => l.id === id)).toBe(false);
    expect(await netns.reap()).not.toContain(id);
    expect(existsSync(paths(id).dir)).toBe(true);
  });
});

describe('cleanForApply', () => {
  it('drops what the server sets, keeping the spec', () => {
    const o = cleanForApply({
      apiVersion: 'apps/v1', kind: 'DaemonSet',
      metadata: { name: 'kindnet', namespace: 'kube-system', uid: 'u', resourceVersion: '1', creationTimestamp: 't', generation: 2, managedFields: [], annotations: { 'deprecated.daemonset.template.generation': '1', keep: 'me' } },
      spec: { template: {} }, status: { numberReady: 2 },
    });
    expect(o).toEqual({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'kindnet', namespace: 'kube-system', annotations: { keep: 'me' } }, spec: { template: {} } });
  });
});
