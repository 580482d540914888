// Test-only: a lab cluster without a data plane, served over TLS on 127.0.0.1 as a lab serves it,
// and the real kubectl pointed at it through a kind-shaped kubeconfig. The machine's kubectl picks
// its minor from /version, so serving a minor tests that kubectl.

import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baseManifests, Cluster, type ClusterNode } from '../cluster.ts';
import { ensurePki, kubeconfig, newToken } from '../pki.ts';

export const TEST_NODES: ClusterNode[] = [
  { name: 'control-plane', role: 'control-plane', ip: '172.18.0.2', podCIDR: '10.244.0.0/24' },
  { name: 'worker', role: 'worker', ip: '172.18.0.3', podCIDR: '10.244.1.0/24' },
];

export interface TestCluster {
  cluster: Cluster;
  port: number;
  kubeconfig: string;
  kubectl(args: string[], stdin?: string): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** A kubectl that keeps running (get -w): the caller reads its output and ends it. */
  kubectlProcess(args: string[]): ResultPromise;
  close(): Promise<void>;
}

/** `pkiDir` is shared between tests of a file: making the certificates is the slow part. */
export async function startTestCluster(opts: { minor?: string; pkiDir: string; base?: boolean }): Promise<TestCluster> {
  const pki = await ensurePki(opts.pkiDir);
  const token = newToken();
  const minor = opts.minor ?? '33';
  const cluster = new Cluster({
    name: 'netdojo-test', version: { major: '1', minor, gitVersion: `v1.${minor}.1` }, caCert: pki.caCert, token, nodes: TEST_NODES,
    apiEndpoint: { ip: '172.18.0.2', port: 6443 },
  });
  await cluster.start(opts.base === false ? [] : baseManifests());
  const [{ port }] = await cluster.listen([{ host: '127.0.0.1', port: 0 }], pki);
  const dir = mkdtempSync(join(tmpdir(), 'netdojo-kubectl-'));
  const config = join(dir, 'kubeconfig');
  writeFileSync(config, kubeconfig({ cluster: 'netdojo-test', server: `https://127.0.0.1:${port}`, caCert: pki.caCert, token }));
  const env = { KUBECONFIG: config, KUBECACHEDIR: join(dir, 'cache'), HOME: dir };
  return {
    cluster, port: port!, kubeconfig: config,
    kubectl: async (args, stdin) => {
      const r = await execa('kubectl', args, { env, input: stdin ?? '', reject: false, timeout: 60_000 });
      return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    },
    kubectlProcess: (args) => execa('kubectl', args, { env, reject: false, timeout: 60_000, buffer: false }),
    close: async () => { await cluster.stop(); rmSync(dir, { recursive: true, force: true }); },
  };
}
