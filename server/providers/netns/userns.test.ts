import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pty from '@lydell/node-pty';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labsUnavailable, tempHome } from '../../../test/support/env.ts';
import { labDir, newLabId, stateDir } from '../../lab/naming.ts';
import { baseTopology } from '../../lab/topology.ts';
import { labHandle } from './handle.ts';
import { netnsProvider, type NetnsLab } from './index.ts';
import { isAlive } from './sandbox.ts';

// As root, a learner is root in the lab and a uid range of its own on the host: what the lab may
// see and do of the host's file system, through the shells and execs a learner has.

const why = process.getuid?.() !== 0 ? 'needs root (only root gives labs uid ranges of the host)' : labsUnavailable();
if (why) console.warn(`skipping the user namespace tests of labs run as root: ${why}`);

const CLAIMS = '/run/netdojo/uid-ranges';
const PROJECT = fileURLToPath(new URL('../../..', import.meta.url));
const claimed = (dir: string) => readdirSync(CLAIMS).some((n) => { try { return readlinkSync(join(CLAIMS, n)) === dir; } catch { return false; } });

/** The host's view of the processes whose command line is `argv` (their /proc/<pid>/status). */
function hostStatus(argv: string[]): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8') === `${argv.join('\0')}\0`) out.push(readFileSync(`/proc/${pid}/status`, 'utf8'));
    } catch { /* gone */ }
  }
  return out;
}

describe.skipIf(why)('as root, a lab in a user namespace of its own', () => {
  // The state directory below a directory others may not search, as root's is below /root.
  const home = tempHome();
  const state = join(home.dir, 'state');
  let lab: NetnsLab;
  let other: NetnsLab;

  beforeAll(async () => {
    process.env.NETDOJO_HOME = state;
    mkdirSync(state, { recursive: true });
    writeFileSync(join(home.dir, 'beside'), 'beside the state directory\n');
    writeFileSync(join(state, 'progress.db'), 'every learner\'s progress\n');
    [lab, other] = [
      await netnsProvider.create(baseTopology(), { id: newLabId(), scenario: 'test', seed: 1 }),
      await netnsProvider.create(baseTopology(), { id: newLabId(), scenario: 'test', seed: 1 }),
    ];
  });
  afterAll(async () => {
    await lab?.destroy();
    await other?.destroy().catch(() => undefined);
    home.remove();
  });

  const sh = async (target: string, script: string) => {
    const r = await lab.exec(target, ['bash', '-c', script], { timeoutMs: 30_000 });
    return { ...r, out: r.stdout.trim() };
  };

  it('is root inside, the first uid of its own range outside, and no exec gains privileges', async () => {
    const base = labHandle(lab.record).sandbox.uidBase!;
    expect(base).toBeGreaterThanOrEqual(1_000_000);
    expect(labHandle(other.record).sandbox.uidBase).not.toBe(base);
    for (const target of ['worker', 'default/client-worker']) {
      const marker = `${process.pid}${target.length}.5`;
      const r = await sh(target, `id -u; id -g; grep NoNewPrivs /proc/self/status; setsid -f sleep ${marker} </dev/null >/dev/null 2>&1`);
      expect(r.out, r.stderr).toBe('0\n0\nNoNewPrivs:\t1');
      const seen = hostStatus(['sleep', marker]);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatch(new RegExp(`^Uid:\\t${base}\\t${base}\\t${base}\\t${base}$`, 'm'));
      expect(seen[0]).toMatch(new RegExp(`^Gid:\\t${base}\\t${base}\\t${base}\\t${base}$`, 'm'));
      await sh(target, `pkill -f '^sleep ${marker}$'`);
    }
    // A host's setuid program runs as who runs it: as nobody, mount cannot mount.
    const su = await sh('worker', 'setpriv --reuid=65534 --regid=65534 --clear-groups mount -t tmpfs tmpfs /mnt; echo "rc=$?"');
    expect(su.out).toMatch(/rc=[1-9]/);
  });

  it('a learner\'s terminal is the same: root inside, no_new_privs', async () => {
    const spec = lab.shell('worker');
    const term = pty.spawn(spec.file, spec.args, { cols: 120, rows: 30, env: spec.env as Record<string, string> });
    let out = '';
    term.onData((d) => { out += d; });
    try {
      term.write('echo "uid=$(id -u) $(grep NoNewPrivs /proc/self/status | tr -d "\\t")"\r');
      const deadline = Date.now() + 20_000;
      while (!/uid=0 NoNewPrivs:1/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(out).toMatch(/uid=0 NoNewPrivs:1/);
    } finally {
      term.kill();
    }
  });

  it('cannot read the host\'s secrets, the state directory beside its own directory, nor write the checkout', async () => {
    const r = await sh('worker', [
      'head -1 /etc/shadow 2>&1 || echo shadow:denied',
      `cat ${stateDir()}/progress.db 2>&1 || echo progress:hidden`,
      `ls ${stateDir()}; ls ${stateDir()}/labs`,
      `ls ${labDir(other.record.id)} 2>&1 || echo other:hidden`,
      `cat ${home.dir}/beside 2>&1 || echo beside:hidden`,
      `touch ${PROJECT}/netdojo-written 2>&1 || echo project:readonly`,
      `umount ${home.dir} 2>&1 || echo umount:refused`,
    ].join('\n'));
    expect(r.out.split('\n').filter((l) => /:(denied|hidden|readonly|refused)$/.test(l) || !/[: ]/.test(l))).toEqual([
      'shadow:denied', 'progress:hidden', 'labs', lab.record.id, 'other:hidden', 'beside:hidden', 'project:readonly', 'umount:refused',
    ]);
    expect(existsSync(join(PROJECT, 'netdojo-written'))).toBe(false);
    // Its own directory it writes (the kubelet's, the containers' state) but not its record.
    const own = await sh('worker', `touch ${labDir(lab.record.id)}/run/mine && echo run:written; echo x >> ${labDir(lab.record.id)}/lab.json || echo record:readonly`);
    expect(own.out).toMatch(/^run:written\n(.*\n)?record:readonly$/);
  });

  it('gives its range back when it goes: on destroy, and on reap once its holder died', async () => {
    const dir = labDir(other.record.id);
    expect(claimed(dir)).toBe(true);
    const h = labHandle(other.record).sandbox;
    process.kill(h.holderPid, 'SIGKILL');
    while (await isAlive(h)) await new Promise((r) => setTimeout(r, 20));
    expect(await netnsProvider.reap()).toContain(other.record.id);
    expect(claimed(dir)).toBe(false);
    expect(claimed(labDir(lab.record.id))).toBe(true);
  });
});
