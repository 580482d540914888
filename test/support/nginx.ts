import { spawnSync } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const WORKLOADS = fileURLToPath(new URL('../../server/workloads/', import.meta.url));

// What the tests of the ingress controller's configuration share: the tools they need, the real
// nginx's verdict on a configuration, and certificates to serve.

const PATH = `${process.env.PATH}:/usr/sbin:/sbin`;
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { env: { ...process.env, PATH } }).status === 0;

/** The tools the configuration tests need that are not on PATH. */
export const missingNginxTools = () => ['python3', 'nginx', 'openssl'].filter((t) => !has(t));

/** A Python script run beside the workloads' modules (its sys.path has them), given `input` as
 *  JSON on stdin; what it prints, as JSON. */
export function workloadPython<T>(script: string, input: unknown): T {
  const r = spawnSync('python3', ['-c', `import sys\nsys.path.insert(0, sys.argv[1])\n${script}`, WORKLOADS], { input: JSON.stringify(input), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

/** `nginx -t` on a configuration written in `dir`: its exit code and what it says. */
export function nginxTest(dir: string, conf: string): { code: number | null; out: string } {
  const file = join(dir, `nginx-${Math.random().toString(36).slice(2)}.conf`);
  writeFileSync(file, conf);
  // The access log is /dev/stdout, which nginx opens: give it a file, not a socket.
  const out = openSync(join(dir, 'stdout'), 'w');
  try {
    const r = spawnSync('nginx', ['-t', '-c', file], { stdio: ['ignore', out, 'pipe'], encoding: 'utf8', env: { ...process.env, PATH } });
    return { code: r.status, out: r.stderr };
  } finally {
    closeSync(out);
  }
}

/** A self-signed certificate and its key in one PEM file in `dir`. */
export function pem(dir: string, name: string, subject: string, san?: string): string {
  const file = join(dir, `${name}.pem`);
  const r = spawnSync('sh', ['-c', `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -keyout "$1.key" -out "$1" -subj "$2" ${san ? '-addext "subjectAltName=$3"' : ''} && cat "$1.key" >> "$1"`, 'sh', file, subject, san ?? ''], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return file;
}
