import { spawn } from 'node:child_process';
import { chownSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Exec, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareTables, formatComparison, ignoreLoopback, setCell, truthTable, type TruthTable } from '../../grader/truth-table.ts';
import type { Protocol } from '../../server/cluster/netpol/policy.ts';
import { labsUnavailable, rootlessUnavailable, tempHome } from '../support/env.ts';
import { expectedTable, UPSTREAM_CASES, type UpstreamCase } from './upstream-cases.ts';
import { concretePolicy, NAMESPACES, PODS, probeCommand, serviceName, splitPodRef, worldManifests, type PodIPs, type PodRef } from './world.ts';

// Kubernetes' NetworkPolicy e2e suite, case by case, against a real netns lab: the world of
// world.ts applied with the real kubectl, each case's policies and label changes applied as
// upstream applies them, and every probe made as upstream makes it: `/agnhost connect` to the
// destination's Service ClusterIP, exec'd through the lab's API in the source pod's container.
// Expected and observed are truth tables, printed side by side on a mismatch. As upstream, a
// pair that disagrees is probed again (the data plane may still be converging) before it counts.
//
// The lab is made with the CLI, as a learner makes one: as this user, and (when this user is
// root) again as an unprivileged user, whose lab runs in a user namespace.

const BIN = fileURLToPath(new URL('../../server/netdojo.mjs', import.meta.url));
const PATH = `${process.env.PATH}:/usr/sbin:/sbin`;

interface Run { code: number | null; stdout: string; stderr: string }

function run(argv: string[], opts: { env?: NodeJS.ProcessEnv; stdin?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { env: { ...process.env, PATH, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => { stdout += b; });
    child.stderr.on('data', (b) => { stderr += b; });
    child.stdin.end(opts.stdin ?? '');
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Probes one pod pair, as upstream's probeConnectivity does; resolves to whether it connected. */
function probe(kc: KubeConfig, from: PodRef, serviceIP: string, port: number, protocol: Protocol): Promise<boolean> {
  const p = probeCommand(from, serviceIP, port, protocol);
  const sink = () => new Writable({ write: (_c, _e, cb) => cb() });
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (ok: boolean) => { if (!settled) { settled = true; resolve(ok); } };
    new Exec(kc).exec(p.namespace, p.pod, p.container, p.command, sink(), sink(), null, false, (status) => done(status.status === 'Success'))
      .then((ws) => ws.on('close', () => done(false)), reject);
  });
}

const RETRIES = 3;

const whyLabs = labsUnavailable();
const whyRootless = rootlessUnavailable();
const modes = [
  { name: 'as this user', asUser: undefined, skip: whyLabs },
  // As root, the suite runs again in a lab of an unprivileged user (a user namespace sandbox).
  ...(process.getuid?.() === 0 ? [{ name: 'rootless', asUser: 65534, skip: whyRootless }] : []),
];

for (const mode of modes) {
  describe.skipIf(mode.skip)(`the upstream NetworkPolicy e2e suite on a netns lab, ${mode.name}${mode.skip ? ` (skipped: ${mode.skip})` : ''}`, () => {
    const home = tempHome('netdojo-netpol-');
    const kubeconfigFile = join(home.dir, 'kubeconfig');
    const kc = new KubeConfig();
    let id = '';
    const ips = {} as PodIPs;
    const serviceIPs = {} as Record<PodRef, string>;

    const netdojo = (args: string[]) => run([
      ...(mode.asUser === undefined ? [] : ['setpriv', `--reuid=${mode.asUser}`, `--regid=${mode.asUser}`, '--clear-groups']),
      process.execPath, BIN, ...args,
    ], { env: { NETDOJO_HOME: home.dir } });
    const kubectl = async (args: string[], stdin?: string) => {
      const r = await run(['kubectl', `--kubeconfig=${kubeconfigFile}`, ...args], { stdin });
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr || r.stdout}`);
      return r.stdout;
    };
    const getJson = async <T>(args: string[]) => JSON.parse(await kubectl([...args, '-o', 'json'])) as T;

    beforeAll(async () => {
      if (mode.asUser !== undefined) chownSync(home.dir, mode.asUser, mode.asUser);
      const up = await netdojo(['up', 'coredns-down', '--healthy', '--json']);
      expect(up.code, up.stderr).toBe(0);
      id = (JSON.parse(up.stdout) as { lab: { id: string } }).lab.id;
      const config = await netdojo(['kubeconfig', id]);
      expect(config.code, config.stderr).toBe(0);
      writeFileSync(kubeconfigFile, config.stdout);
      kc.loadFromFile(kubeconfigFile);
      await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: worldManifests() }));
      await Promise.all(NAMESPACES.map((ns) => kubectl(['wait', '-n', ns, '--for=condition=Ready', 'pod', '--all', '--timeout=120s'])));
      for (const ns of NAMESPACES) {
        const pods = await getJson<{ items: { metadata: { name: string }; status: { podIP: string } }[] }>(['get', 'pods', '-n', ns]);
        for (const p of pods.items) ips[`${ns}/${p.metadata.name}` as PodRef] = p.status.podIP;
        const svcs = await getJson<{ items: { metadata: { name: string }; spec: { clusterIP: string } }[] }>(['get', 'services', '-n', ns]);
        for (const ref of PODS.filter((r) => r.startsWith(`${ns}/`))) serviceIPs[ref] = svcs.items.find((s) => s.metadata.name === serviceName(ref))!.spec.clusterIP;
      }
    });
    afterAll(async () => {
      if (id) await netdojo(['down', id]);
      home.remove();
    });

    /** Back to the world as it was made: no policies, the labels it was created with. */
    async function reset(): Promise<void> {
      await Promise.all(NAMESPACES.map((ns) => kubectl(['delete', 'networkpolicy', '--all', '-n', ns, '--wait=false'])));
      await Promise.all([
        ...NAMESPACES.map((ns) => kubectl(['patch', 'namespace', ns, '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/metadata/labels', value: { 'kubernetes.io/metadata.name': ns } }])])),
        ...PODS.map((ref) => { const { namespace, pod } = splitPodRef(ref); return kubectl(['patch', 'pod', pod, '-n', namespace, '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/metadata/labels', value: { pod } }])]); }),
      ]);
    }

    async function observe(port: number, protocol: Protocol, expected: TruthTable): Promise<TruthTable> {
      const observed = truthTable(PODS, PODS);
      const pairs = PODS.flatMap((from) => PODS.filter((to) => to !== from).map((to) => [from, to] as const));
      const probeAll = (list: (readonly [PodRef, PodRef])[]) => Promise.all(list.map(async ([from, to]) => setCell(observed, from, to, await probe(kc, from, serviceIPs[to], port, protocol))));
      await probeAll(pairs);
      for (let i = 0; i < RETRIES; i++) {
        const wrong = compareTables(expected, observed, ignoreLoopback).wrong.map((m) => [m.row as PodRef, m.col as PodRef] as const);
        if (!wrong.length) break;
        await new Promise((r) => setTimeout(r, 1000));
        await probeAll(wrong);
      }
      return observed;
    }

    async function runCase(c: UpstreamCase): Promise<void> {
      await reset();
      for (const [i, step] of c.steps.entries()) {
        switch (step.do) {
          case 'create':
          case 'update':
            await kubectl([step.do === 'create' ? 'create' : 'replace', '-f', '-'], JSON.stringify(concretePolicy(step.policy, ips)));
            break;
          case 'delete':
            await kubectl(['delete', 'networkpolicy', step.name, '-n', step.namespace]);
            break;
          case 'labelNamespace':
            await kubectl(['label', 'namespace', step.namespace, '--overwrite', ...Object.entries(step.labels).map(([k, v]) => `${k}=${v}`)]);
            break;
          case 'labelPod': {
            const { namespace, pod } = splitPodRef(step.pod);
            await kubectl(['label', 'pod', pod, '-n', namespace, '--overwrite', ...Object.entries(step.labels).map(([k, v]) => `${k}=${v}`)]);
            break;
          }
          case 'probe': {
            const expected = expectedTable(step.expect);
            const observed = await observe(step.port, step.protocol, expected);
            const cmp = compareTables(expected, observed, ignoreLoopback);
            if (cmp.wrong.length) {
              throw new Error(`step ${i + 1}, ${step.protocol} port ${step.port}: ${cmp.wrong.length} of ${cmp.wrong.length + cmp.correct} pairs wrong\n${formatComparison(expected, observed, ignoreLoopback)}`);
            }
            break;
          }
        }
      }
    }

    for (const c of UPSTREAM_CASES) {
      it(`${c.group.toUpperCase()}: ${c.title}`, () => runCase(c), 180_000);
    }
  });
}
