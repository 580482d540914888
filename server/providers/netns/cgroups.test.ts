import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempHome } from '../../../test/support/env.ts';
import { child, createCgroup, createLabCgroup, limitWrites, oomKills, probeCgroups, procsFiles, type HostFacts } from './cgroups.ts';

// The cgroup layout and limit files on stand-in cgroup file systems (plain directories named as
// the kernel names them), for both interfaces: this machine cannot have both. What the kernel then
// does with them is tested on the real thing in limits.test.ts.

const tmp = tempHome('netdojo-cgroups-');
afterAll(() => tmp.remove());

function tree(name: string, files: Record<string, string>): string {
  const root = join(tmp.dir, name);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
  return root;
}

const mountinfo = (lines: [root: string, point: string, fstype: string, opts: string][]) =>
  ['22 1 0:21 / / rw - ext4 /dev/vda rw', ...lines.map(([root, point, fstype, opts], i) => `${30 + i} 22 0:${40 + i} ${root} ${point} rw,relatime - ${fstype} ${fstype} ${opts}`)].join('\n');

const read = (p: string) => readFileSync(p, 'utf8');

describe('cgroup v2', () => {
  const root = tree('v2', {
    'cgroup.controllers': 'cpuset cpu io memory pids\n', 'cgroup.subtree_control': 'memory pids\n', 'cgroup.procs': '1\n',
    'user.slice/cgroup.type': 'domain\n', 'user.slice/cgroup.controllers': 'cpu memory pids\n', 'user.slice/cgroup.subtree_control': '\n', 'user.slice/cgroup.procs': '\n',
    'user.slice/netdojo-server/cgroup.type': 'domain\n', 'user.slice/netdojo-server/cgroup.procs': '4242\n',
    'busy/cgroup.type': 'domain\n', 'busy/cgroup.controllers': 'cpu memory pids\n', 'busy/cgroup.subtree_control': '\n', 'busy/cgroup.procs': '77\n',
    'busy/me/cgroup.procs': '4242\n',
  });
  const facts = (own: string, uid: number): HostFacts => ({ mountinfo: mountinfo([['/', root, 'cgroup2', 'rw']]), selfCgroup: `0::${own}\n`, uid });

  it('as root puts labs under the root cgroup, which alone may hold processes and give controllers', async () => {
    expect(await probeCgroups(facts('/system.slice/netdojo.service', 0))).toEqual({ ok: true, host: { version: 2, dirs: { pids: root, memory: root, cpu: root } } });
  });

  it('unprivileged, under the delegated parent of the cgroup netdojo runs in', async () => {
    expect(await probeCgroups(facts('/user.slice/netdojo-server', 1000))).toEqual({ ok: true, host: { version: 2, dirs: { pids: join(root, 'user.slice'), memory: join(root, 'user.slice'), cpu: join(root, 'user.slice') } } });
  });

  it('not where the parent holds processes itself: the no-internal-processes rule', async () => {
    const p = await probeCgroups(facts('/busy/me', 1000));
    expect(p.ok).toBe(false);
    expect(!p.ok && p.why).toMatch(/busy holds processes of its own.*no-internal-processes.*cgroup v1 takes root/);
  });

  it('makes netdojo/<id> with its limits and a sandbox child, each level giving the controllers to the next', async () => {
    const lab = await createLabCgroup({ version: 2, dirs: { pids: root, memory: root, cpu: root } }, 'lab1', { pids: 1024, memoryBytes: 2 ** 30, cpuQuotaMillis: 1500 }, { cpuWeightOf: 2 });
    const dir = join(root, 'netdojo', 'lab1');
    expect(lab).toEqual({ version: 2, dirs: { pids: dir, memory: dir, cpu: dir } });
    expect(read(join(root, 'cgroup.subtree_control'))).toBe('+cpu');
    expect(read(join(root, 'netdojo', 'cgroup.subtree_control'))).toBe('+pids +memory +cpu');
    expect(read(join(root, 'netdojo', 'cpu.weight'))).toBe('200');
    expect(read(join(dir, 'cgroup.subtree_control'))).toBe('+pids +memory +cpu');
    expect([read(join(dir, 'pids.max')), read(join(dir, 'memory.max')), read(join(dir, 'memory.swap.max')), read(join(dir, 'cpu.max'))])
      .toEqual(['1024', String(2 ** 30), '0', '150000 100000']);
    expect(procsFiles({ version: 2, dirs: { pids: join(dir, 'sandbox'), memory: join(dir, 'sandbox') } })).toEqual([join(dir, 'sandbox', 'cgroup.procs')]);
    // A container: its memory limit, one OOM kill for all of it, requests.cpu as a weight.
    expect(read(join(dir, 'kubepods', 'cgroup.subtree_control'))).toBe('+pids +memory +cpu');
    const c = await createCgroup(child(lab, 'kubepods'), 'pod_default_x_app_0', { pids: 512, memoryBytes: 64 * 2 ** 20, cpuShares: 256, oomGroup: true });
    expect(read(join(c.dirs.memory!, 'memory.oom.group'))).toBe('1');
    expect(read(join(c.dirs.cpu!, 'cpu.weight'))).toBe('10');
  });

  it('counts OOM kills from memory.events', async () => {
    const dir = tree('v2-events', { 'memory.events': 'low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 1\n' });
    expect(await oomKills({ version: 2, dirs: { memory: dir } })).toBe(2);
  });
});

describe('cgroup v1', () => {
  const v1 = tree('v1', { 'pids/docker/abc/x': '', 'memory/x': '', 'cpu,cpuacct/x': '' });
  const hybrid = tree('hybrid-unified', { 'cgroup.controllers': '\n', 'cgroup.subtree_control': '\n' });
  const info = mountinfo([
    ['/docker/abc', join(v1, 'pids'), 'cgroup', 'rw,pids'], ['/', join(v1, 'memory'), 'cgroup', 'rw,memory'],
    ['/', join(v1, 'cpu,cpuacct'), 'cgroup', 'rw,cpu,cpuacct'], ['/', hybrid, 'cgroup2', 'rw'],
  ]);
  const selfCgroup = '12:pids:/docker/abc/svc\n4:memory:/svc\n2:cpu,cpuacct:/\n1:name=systemd:/\n0::/\n';

  it('as root, below the cgroup netdojo runs in, in each hierarchy (a hybrid host\'s v2 has no controllers to give)', async () => {
    expect(await probeCgroups({ mountinfo: info, selfCgroup, uid: 0 })).toEqual({
      ok: true, host: { version: 1, dirs: { pids: join(v1, 'pids', 'svc'), memory: join(v1, 'memory', 'svc'), cpu: join(v1, 'cpu,cpuacct') } },
    });
  });

  it('never for an unprivileged user', async () => {
    const p = await probeCgroups({ mountinfo: info, selfCgroup, uid: 1000 });
    expect(p).toEqual({ ok: false, why: `cgroup v2 at ${hybrid} has no pids or memory controller to give (on a hybrid host cgroup v1 holds them); cgroup v1 takes root (it is never delegated)` });
  });

  it('writes the same limits in v1\'s words, one hierarchy each', async () => {
    const host = { version: 1 as const, dirs: { pids: join(v1, 'pids'), memory: join(v1, 'memory'), cpu: join(v1, 'cpu,cpuacct') } };
    const lab = await createLabCgroup(host, 'lab1', { pids: 300, memoryBytes: 2 ** 29, cpuQuotaMillis: 500 }, { cpuWeightOf: 2 });
    expect(read(join(v1, 'cpu,cpuacct', 'netdojo', 'cpu.shares'))).toBe('2048');
    expect(procsFiles(lab)).toEqual(['pids', 'memory', 'cpu,cpuacct'].map((h) => join(v1, h, 'netdojo', 'lab1', 'cgroup.procs')));
    expect(read(join(lab.dirs.pids!, 'pids.max'))).toBe('300');
    expect([read(join(lab.dirs.memory!, 'memory.limit_in_bytes')), read(join(lab.dirs.memory!, 'memory.memsw.limit_in_bytes'))]).toEqual([String(2 ** 29), String(2 ** 29)]);
    expect([read(join(lab.dirs.cpu!, 'cpu.cfs_period_us')), read(join(lab.dirs.cpu!, 'cpu.cfs_quota_us'))]).toEqual(['100000', '50000']);
    expect(limitWrites(1, { cpuShares: 102 })).toEqual([{ controller: 'cpu', file: 'cpu.shares', value: '102' }]);
  });

  it('counts OOM kills from memory.oom_control', async () => {
    const dir = tree('v1-oom', { 'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 3\n' });
    expect(await oomKills({ version: 1, dirs: { memory: dir } })).toBe(3);
  });
});
