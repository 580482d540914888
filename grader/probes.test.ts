import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { shq } from '../server/util/shell.ts';
import { buildBatch, displayCommand, parseBatch, planCheck, type ProbeCommand } from './probes.ts';
import type { Check } from './types.ts';

// The batch script runs under the local bash here: same script, same parsing as in a pod.
const runLocal = (script: string) => spawnSync('bash', ['-c', script], { encoding: 'utf8' });
const T = { netTimeoutS: 2, transferTimeoutS: 5, stateTimeoutS: 10, unansweredMs: 300 };

describe('batch script', () => {
  it('reports every probe: exit code, stdout and stderr apart, through the sentinel', () => {
    const cmds: ProbeCommand[] = [
      { script: "echo out; echo err >&2; exit 3", timeoutS: 5 },
      { script: "printf '%s' \"it's quoted\"", timeoutS: 5 },
      { script: 'head -c 3 /dev/zero | wc -c', timeoutS: 5 },
    ];
    const batch = buildBatch(cmds);
    const r = runLocal(batch.script);
    const parsed = parseBatch(r.stdout, batch);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.outputs.map((o) => o && { rc: o.rc, out: o.out, err: o.err })).toEqual([
      { rc: 3, out: 'out\n', err: 'err\n' },
      { rc: 0, out: "it's quoted", err: '' },
      { rc: 0, out: '3\n', err: '' },
    ]);
    for (const o of parsed.outputs) expect(o!.ms).toBeGreaterThanOrEqual(0);
  });

  it('kills a probe at its timeout and says so (exit 124)', () => {
    const batch = buildBatch([{ script: 'exec sleep 30', timeoutS: 1 }]);
    const parsed = parseBatch(runLocal(batch.script).stdout, batch);
    expect(parsed.ok && parsed.outputs[0]!.rc).toBe(124);
  });

  it('runs probes in parallel: a probe waiting on another one finishes', () => {
    // Probe 1 blocks until probe 0 has written its marker; sequential execution would time out.
    const dir = spawnSync('mktemp', ['-d'], { encoding: 'utf8' }).stdout.trim();
    const batch = buildBatch([
      { script: `until [ -e ${shq(`${dir}/go`)} ]; do sleep 0.01; done; echo seen`, timeoutS: 5 },
      { script: `touch ${shq(`${dir}/go`)}`, timeoutS: 5 },
    ]);
    const parsed = parseBatch(runLocal(batch.script).stdout, batch);
    spawnSync('rm', ['-rf', dir]);
    expect(parsed.ok && parsed.outputs[0]).toMatchObject({ rc: 0, out: 'seen\n' });
  });
});

describe('batch parsing', () => {
  const batch = { nonce: 'abc123', count: 2 };
  const line = (id: number, rc = 0) => `@abc123 {"id":${id},"rc":${rc},"ms":5,"out":"${Buffer.from('x').toString('base64')}","err":""}`;

  it('fails the whole run without the sentinel', () => {
    const r = parseBatch(`${line(0)}\n${line(1)}\n`, batch);
    expect(r.ok).toBe(false);
  });

  it('fails the whole run on a marked line that does not parse', () => {
    expect(parseBatch(`${line(0)}\n@abc123 {"id":1,\n@abc123 {"sentinel":2}\n`, batch).ok).toBe(false);
  });

  it('fails when the sentinel counts other probes', () => {
    expect(parseBatch(`${line(0)}\n${line(1)}\n@abc123 {"sentinel":3}\n`, batch).ok).toBe(false);
  });

  it('ignores lines of other runs and noise, and leaves missing probes undefined', () => {
    const r = parseBatch(`motd noise\n@other {"id":1,"rc":0,"ms":1,"out":"","err":""}\n${line(0, 7)}\n@abc123 {"sentinel":2}\n`, batch);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.outputs[0]).toEqual({ rc: 7, ms: 5, out: 'x', err: '' });
    expect(r.outputs[1]).toBeUndefined();
  });
});

describe('probe commands', () => {
  const base = { id: 'c', title: 'c', from: 'default/client', weight: 1, hints: {} };

  it('quotes what comes from scenarios', () => {
    const plan = planCheck({ ...base, kind: 'tcp', host: "x'; rm -rf /; '", port: 80 } as Check, T);
    const r = runLocal(`set -- ${plan.commands[0].script.replace(/^exec 3<>/, '')}; printf '%s' "$1"`);
    expect(r.stdout).toBe("/dev/tcp/x'; rm -rf /; '/80");
  });

  it('dns: +tcp for TCP, @server when given, the search path otherwise', () => {
    const tcp = planCheck({ ...base, kind: 'dns', name: 'web', proto: 'tcp', server: '10.96.0.10', expect: '1.2.3.4' } as Check, T);
    expect(tcp.commands[0].script).toBe('dig +time=2 +tries=1 +tcp @10.96.0.10 web A');
    const search = planCheck({ ...base, kind: 'dns', name: 'web', proto: 'udp', expect: '1.2.3.4' } as Check, T);
    expect(search.commands[0].script).toBe('dig +time=2 +tries=1 +search web A');
  });

  it('http: one request command per request', () => {
    const plan = planCheck({ ...base, kind: 'http', url: 'http://web/', backends: ['web-0', 'web-1'], requests: 4 } as Check, T);
    expect(plan.commands).toHaveLength(4);
    expect(plan.commands[0].script).toContain(' http://web/hostname');
    expect(plan.expected).toBe('each of web-0, web-1');
    expect(plan.commands[0].script).not.toContain('Host:');
  });

  it('http: a Host header for name-based virtual hosts (an Ingress rule\'s host)', () => {
    const plan = planCheck({ ...base, kind: 'http', url: 'http://ingress-nginx-controller.ingress-nginx', backends: ['web-0'], requests: 1, hostHeader: 'shop.example.com' } as Check, T);
    expect(plan.commands[0].script).toMatch(/ -H 'Host: shop\.example\.com' .* http:\/\/ingress-nginx-controller\.ingress-nginx\/hostname$/);
  });

  it('mtu: download, upload and the DF ping as evidence only', () => {
    const plan = planCheck({ ...base, kind: 'mtu', url: 'http://10.244.1.2:8080', bytes: 1000, direction: 'both', dfPing: { host: '10.244.1.2', size: 1472 } } as Check, T);
    expect(plan.commands.map((c) => Boolean(c.evidenceOnly))).toEqual([false, false, true]);
    expect(plan.commands[2].script).toContain('-M do -s 1472');
  });

  it('shows simple commands as typed, shell syntax through bash -c', () => {
    const dig = planCheck({ ...base, kind: 'dns', name: 'web', proto: 'udp', server: '10.96.0.10', expect: '1.2.3.4' } as Check, T);
    expect(displayCommand(dig.commands[0])).toBe('timeout 4 dig +time=2 +tries=1 @10.96.0.10 web A');
    const tcp = planCheck({ ...base, kind: 'tcp', host: '10.0.0.1', port: 80 } as Check, T);
    expect(displayCommand(tcp.commands[0])).toBe("timeout 2 bash -c 'exec 3<>/dev/tcp/10.0.0.1/80'");
  });

  it('state guards are not matrix targets', () => {
    expect(planCheck({ ...base, kind: 'state', run: 'true' } as Check, T).to).toBe('');
  });
});
