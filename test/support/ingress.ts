import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { netdojo } from './cli.ts';
import { untilPrints } from './until.ts';

// What the ingress and Gateway API lab tests share: a lab driven through the CLI as a learner
// drives it, backends that answer with their pod name, a TLS certificate, and curl that reports
// the status and body of each request.

/** A Deployment of one pod that answers every path with its pod name (port `http`, 9376). */
export const backend = (app: string) => `
apiVersion: apps/v1
kind: Deployment
metadata: { name: ${app}, labels: { app: ${app} } }
spec:
  replicas: 1
  selector: { matchLabels: { app: ${app} } }
  template:
    metadata: { labels: { app: ${app} } }
    spec:
      containers: [{ name: ${app}, image: registry.k8s.io/e2e-test-images/agnhost:2.52, args: [serve-hostname, --port=9376], ports: [{ name: http, containerPort: 9376 }] }]
`;

/** A ClusterIP Service `app` on port 80 to its pods' `http` port. */
export const service = (app: string) => `
apiVersion: v1
kind: Service
metadata: { name: ${app} }
spec: { selector: { app: ${app} }, ports: [{ name: http, port: 80, targetPort: http }] }
`;

/** A lab's targets, through `netdojo exec`; `lab()` is read at each call (the lab starts in beforeAll). */
export function labDriver(home: string, lab: () => string) {
  const exec = async (target: string, script: string) => {
    const r = await netdojo(home, ['exec', lab(), target, '--', 'bash', '-c', script]);
    return { ...r, out: r.stdout.trim() };
  };
  const kubectl = async (args: string) => {
    const r = await exec('admin', `kubectl ${args}`);
    expect(r.code, `kubectl ${args}: ${r.stderr}`).toBe(0);
    return r.out;
  };
  return {
    exec,
    kubectl,
    /** Runs a script until its output matches: controllers converge, nothing here sleeps. */
    until: (target: string, script: string, pattern: RegExp, ms = 30_000) =>
      untilPrints(async () => (await exec(target, script)).out, pattern, `${script} on ${target}`, ms),
    /** curl from `target`: "<status> <body on one line>" for each request (curl's arguments). */
    curl: async (target: string, requests: string[]) => (await exec(target, requests.map((r) =>
      `r=$(curl -sS -m5 -w '\\n%{http_code}' ${r}); printf '%s %s\\n' "\${r##*$'\\n'}" "$(printf '%s' "\${r%$'\\n'*}" | tr '\\r\\n' '  ')"`).join('\n'))).out.split('\n').map((l) => l.replace(/\s+/g, ' ').trim()),
    /** The TLS Secret `name` (created or replaced) with a new self-signed certificate for `host`
     *  (organisation `org`, to tell a renewed one apart), written in the lab's directory (the lab
     *  sees no other of the host's temporary directories: its /tmp is its own); returns its path. */
    async tlsSecret(name: string, host: string, org = 'netdojo') {
      const dir = join(home, 'labs', lab(), 'tls');
      mkdirSync(dir, { recursive: true });
      const [key, cert] = [join(dir, `${name}-${org}.key`), join(dir, `${name}-${org}.crt`)];
      const tls = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-keyout', key, '-out', cert,
        '-subj', `/CN=${host}/O=${org}`, '-addext', `subjectAltName=DNS:${host}`], { encoding: 'utf8' });
      expect(tls.status, tls.stderr).toBe(0);
      // kubectl in the lab reads them, and curl there trusts the certificate: a lab's root is an
      // unprivileged uid on this host (its own user namespace, also when the tests run as root), so
      // the directory and files are for everyone to read (a test's throwaway key).
      for (const [p, mode] of [[dir, 0o755], [key, 0o644], [cert, 0o644]] as const) chmodSync(p, mode);
      await kubectl(`create secret tls ${name} --cert=${cert} --key=${key} --dry-run=client -o yaml | kubectl apply -f -`);
      return cert;
    },
  };
}
