import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gradeLab } from '../../grader/index.ts';
import { labsUnavailable, tempHome } from '../../test/support/env.ts';
import { netnsProvider } from '../providers/netns/index.ts';
import { labHandle } from '../providers/netns/handle.ts';
import { readRecord } from './records.ts';
import { newLabId } from './naming.ts';
import { baseTopology } from './topology.ts';
import { destroyLab, resetLab, startLab } from './session.ts';
import { removeLeftWarmLabs, WARM_SCENARIO, warmLabs } from './warm.ts';
import type { Lab } from './types.ts';

const why = labsUnavailable();
if (why) console.warn(`skipping lab session tests: ${why}`);

const holderOf = async (id: string) => labHandle(await readRecord(id)).sandbox.holderPid;

describe.skipIf(why)('reset to broken', () => {
  const home = tempHome();
  beforeAll(() => { process.env.NETDOJO_HOME = home.dir; });
  afterAll(() => home.remove());

  it('recreates a netns lab (same id, new sandbox) and leaves it broken again', async () => {
    const s = await startLab({ scenario: 'missing-route', seed: 5 });
    const before = await holderOf(s.lab.facts.id);
    await s.lab.exec('admin', ['bash', '-c', s.rendered.solution.steps.map((x) => x.run).join('\n')]);
    const again = await resetLab(s.lab.facts.id);
    try {
      expect(again.lab.facts.id).toBe(s.lab.facts.id);
      expect(await holderOf(again.lab.facts.id)).not.toBe(before);
      expect((await gradeLab(again.lab, again.rendered.checks, { policy: { windowMs: 0 } })).verdict).toBe('fail');
    } finally {
      await destroyLab(again.lab);
    }
  });

  describe('where the provider restores in place', () => {
    const restored: string[] = [];
    beforeAll(() => {
      // Stands in for kind's restore: the generic path (undo, baseline check, setup, break) is real.
      (netnsProvider as { restore?: (lab: Lab) => Promise<Lab> }).restore = async (lab) => { restored.push(lab.facts.id); return lab; };
    });
    afterAll(() => { delete (netnsProvider as { restore?: unknown }).restore; });

    it('keeps the lab (no new sandbox), undoes the learner\'s fix and breaks it again', async () => {
      const s = await startLab({ scenario: 'dns-egress-dropped', seed: 3 });
      const holder = await holderOf(s.lab.facts.id);
      for (const step of s.rendered.solution.steps) await s.lab.exec(step.on, ['bash', '-c', step.run]);
      expect((await gradeLab(s.lab, s.rendered.checks)).verdict).toBe('pass');
      const again = await resetLab(s.lab.facts.id);
      try {
        expect(restored).toEqual([s.lab.facts.id]);
        expect(await holderOf(again.lab.facts.id)).toBe(holder);
        const report = await gradeLab(again.lab, again.rendered.checks, { policy: { windowMs: 0 } });
        expect(report.checks.find((c) => c.id === 'dns-udp')?.state).toBe('DNS_NOREPLY');
        // Broken once, not twice: the break ran on a lab the undo had made healthy.
        const rules = await again.lab.exec('worker', ['bash', '-c', 'iptables -S FORWARD | grep -c "no DNS from pods"']);
        expect(rules.stdout.trim()).toBe('2');
      } finally {
        await destroyLab(again.lab);
      }
    });

    it('falls back to recreating when the lab is not healthy after the restore', async () => {
      const s = await startLab({ scenario: 'missing-route', seed: 5 });
      const holder = await holderOf(s.lab.facts.id);
      // A change the scenario's undo knows nothing about: the baseline check catches it.
      await s.lab.exec('worker', ['ip', 'link', 'set', 'cni0', 'down']);
      const again = await resetLab(s.lab.facts.id);
      try {
        expect(await holderOf(again.lab.facts.id)).not.toBe(holder);
        const report = await gradeLab(again.lab, again.rendered.checks, { policy: { windowMs: 0 } });
        expect(report.checks.find((c) => c.id === 'same-node')?.state).toBe('PASS');
        expect(report.verdict).toBe('fail');
      } finally {
        await destroyLab(again.lab);
      }
    });
  });
});

describe.skipIf(why)('warm labs', () => {
  const home = tempHome();
  beforeAll(() => { process.env.NETDOJO_HOME = home.dir; });
  afterAll(() => home.remove());

  it('a start takes a warm lab, sets it up and breaks it like any other; the pool refills and closes with nothing left', async () => {
    const warm = warmLabs(netnsProvider, { size: 1 });
    const until = async (cond: () => boolean) => { while (!cond()) await new Promise((r) => setTimeout(r, 20)); };
    try {
      await until(() => warm.stats().warm === 1);
      const [ready] = await netnsProvider.list();
      const steps: string[] = [];
      // The server suggests an id; a warm lab keeps its own.
      const s = await startLab({ scenario: 'coredns-down', seed: 2, id: newLabId(), warm, onProgress: (p) => { if (p.status === 'done') steps.push(p.action); } });
      expect(s.lab.facts).toMatchObject({ id: ready.id, scenario: 'coredns-down', seed: 2 });
      expect(await readRecord(ready.id)).toMatchObject({ scenario: 'coredns-down', seed: 2 });
      expect(steps[0]).toBe('Taking a lab made ahead');
      expect(steps).not.toContain('Waiting for every pod to be Ready');
      const report = await gradeLab(s.lab, s.rendered.checks, { policy: { windowMs: 0 } });
      expect(report.checks.find((c) => c.id === 'coredns-endpoints')?.pass).toBe(false);
      await destroyLab(s.lab);
      await until(() => warm.stats().warm === 1);
    } finally {
      await warm.close();
    }
    expect(await netnsProvider.list()).toEqual([]);
  });

  it('a server start removes warm labs an earlier run left alive, and keeps the rest', async () => {
    const left = await netnsProvider.create(baseTopology(), { id: newLabId(), scenario: WARM_SCENARIO, seed: 0 });
    const mine = await startLab({ scenario: 'coredns-down', seed: 3 });
    try {
      expect(await removeLeftWarmLabs(netnsProvider)).toEqual([left.facts.id]);
      expect((await netnsProvider.list()).map((l) => l.id)).toEqual([mine.lab.facts.id]);
    } finally {
      await destroyLab(mine.lab);
    }
  });
});
