// Test helper: kubectl's generator commands, what each sends, and how to run one against a server.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export interface GeneratorCommand {
  /** Also the fixture's file name under test/fixtures/protobuf/. */
  name: string;
  args: string[];
  /** What comes after `--` (`kubectl run ... --command -- sleep 3600`). */
  command?: string[];
  /** The first kubectl minor that POSTs it as protobuf; JSON before (and always, when undefined). */
  protobufSince?: number;
  /** Whether `--dry-run=client -o json` prints what it would send (`create token` has no dry run). */
  dryRun: boolean;
}

/** Ordered: `expose` reads the Deployment the first command created. */
export const GENERATOR_COMMANDS: GeneratorCommand[] = [
  { name: 'deployment', args: ['create', 'deployment', 'web', '--image=nginx', '--replicas=3', '--port=80'], protobufSince: 32, dryRun: true },
  { name: 'deployment-two-images', args: ['create', 'deployment', 'pair', '--image=nginx', '--image=busybox'], protobufSince: 32, dryRun: true },
  { name: 'service-clusterip', args: ['create', 'service', 'clusterip', 'web', '--tcp=80:8080', '--tcp=443:https'], protobufSince: 32, dryRun: true },
  { name: 'service-nodeport', args: ['create', 'service', 'nodeport', 'np', '--tcp=80:8080', '--node-port=30080'], protobufSince: 32, dryRun: true },
  { name: 'configmap', args: ['create', 'configmap', 'cfg', '--from-literal=a=1', '--from-literal=b=two', '--from-file=blob=BINARY_FILE'], protobufSince: 32, dryRun: true },
  { name: 'secret-generic', args: ['create', 'secret', 'generic', 'creds', '--from-literal=user=admin', '--from-literal=pass=s3cr3t'], protobufSince: 32, dryRun: true },
  { name: 'secret-docker-registry', args: ['create', 'secret', 'docker-registry', 'reg', '--docker-server=registry.example', '--docker-username=u', '--docker-password=p'], protobufSince: 32, dryRun: true },
  { name: 'namespace', args: ['create', 'namespace', 'lab'], protobufSince: 32, dryRun: true },
  { name: 'serviceaccount', args: ['create', 'serviceaccount', 'robot'], protobufSince: 32, dryRun: true },
  { name: 'ingress', args: ['create', 'ingress', 'web', '--class=nginx', '--rule=example.com/api*=web:80,tls=cert', '--rule=other.example/=web:http'], protobufSince: 32, dryRun: true },
  { name: 'token', args: ['create', 'token', 'robot'], protobufSince: 32, dryRun: false },
  { name: 'run', args: ['run', 'client', '--image=busybox', '--labels=app=client,tier=test', '--env=A=1', '--port=8080', '--command'], command: ['sleep', '3600'], dryRun: true },
  { name: 'expose', args: ['expose', 'deployment', 'web', '--port=80', '--target-port=8080', '--name=web-exposed'], dryRun: true },
];

/** The bytes `--from-file=blob=...` reads: not UTF-8, so kubectl puts them in binaryData. */
export const BINARY_FILE_CONTENT = Buffer.from([0xff, 0xfe, 0x00, 0x41, 0x0a]);

export interface KubectlRun {
  /** A kubectl binary: the dispatcher on PATH or a versioned one. */
  bin: string;
  server: string;
  /** Holds the discovery cache; an absent kubeconfig in it keeps ~/.kube/config out. */
  scratchDir: string;
  binaryFile: string;
}

const execFileAsync = promisify(execFile);

/** Runs the command for real, or as `--dry-run=client -o json`; resolves to its stdout. */
export async function runGenerator(run: KubectlRun, command: GeneratorCommand, dryRun: boolean): Promise<string> {
  const args = command.args.map((a) => a.replace('BINARY_FILE', run.binaryFile));
  const argv = [`--server=${run.server}`, `--cache-dir=${run.scratchDir}/cache`, ...args, ...(dryRun ? ['--dry-run=client', '-o', 'json'] : []), ...(command.command ? ['--', ...command.command] : [])];
  const { stdout } = await execFileAsync(run.bin, argv, { env: { ...process.env, KUBECONFIG: `${run.scratchDir}/no-kubeconfig` }, timeout: 30_000 });
  return stdout;
}
