import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../util/run.ts';

// The certificates of the labs' API servers, made once per state directory with openssl (as
// kubeadm makes a cluster's): a CA, and a serving certificate valid for every name and address a
// client inside a lab or on the host uses for the API, the same in every lab (10.96.0.1 is every
// lab's `kubernetes` Service). Clients authenticate with a bearer token of their own lab, so one
// lab's credential opens no other lab's API.

export interface Pki { caCert: string; cert: string; key: string }

export const API_SANS = [
  'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc', 'DNS:kubernetes.default.svc.cluster.local',
  'DNS:localhost', 'DNS:control-plane', 'IP:10.96.0.1', 'IP:172.18.0.2', 'IP:127.0.0.1',
];

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await run('openssl', args, { cwd, timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`openssl ${args[0]} failed: ${(r.stderr || r.stdout).trim()}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A lock directory older than this was left by a process that died while publishing. */
const STALE_LOCK_MS = 30_000;

/**
 * Loads the state directory's PKI, making it first when absent. Callers may race (several labs
 * created at once on a fresh state directory, in one process or several): each makes a complete set
 * aside, and the one holding the lock (a directory, created atomically) publishes its set, the
 * serving key last; the others wait for that key and use the published set, never mixing two.
 */
export async function ensurePki(stateDir: string): Promise<Pki> {
  const dir = join(stateDir, 'pki');
  const files = { caCert: join(dir, 'ca.crt'), cert: join(dir, 'apiserver.crt'), key: join(dir, 'apiserver.key') };
  if (!existsSync(files.key)) {
    const tmp = join(dir, `.new-${randomBytes(4).toString('hex')}`);
    await mkdir(tmp, { recursive: true, mode: 0o700 });
    try {
      await writeFile(join(tmp, 'san.cnf'), `subjectAltName=${API_SANS.join(',')}\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`);
      const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
      await openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3650', '-subj', '/CN=kubernetes',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'], tmp);
      await openssl(['req', ...ec, '-keyout', 'apiserver.key', '-out', 'apiserver.csr', '-subj', '/CN=kube-apiserver'], tmp);
      await openssl(['x509', '-req', '-in', 'apiserver.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '3650',
        '-out', 'apiserver.crt', '-extfile', 'san.cnf'], tmp);
      await publish(dir, tmp, files.key);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  const [caCert, cert, key] = await Promise.all([readFile(files.caCert, 'utf8'), readFile(files.cert, 'utf8'), readFile(files.key, 'utf8')]);
  return { caCert, cert, key };
}

async function publish(dir: string, tmp: string, key: string): Promise<void> {
  const lock = join(dir, '.lock');
  for (const deadline = Date.now() + 2 * STALE_LOCK_MS; !existsSync(key); await sleep(50)) {
    if (Date.now() > deadline) throw new Error(`could not publish the API certificates in ${dir}: ${lock} stays locked`);
    try {
      await mkdir(lock);
    } catch {
      const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > STALE_LOCK_MS) await rm(lock, { recursive: true, force: true });
      continue;
    }
    try {
      if (!existsSync(key)) for (const f of ['ca.key', 'ca.crt', 'apiserver.crt', 'apiserver.key']) await rename(join(tmp, f), join(dir, f));
    } finally {
      await rm(lock, { recursive: true, force: true });
    }
  }
}

export const newToken = () => randomBytes(24).toString('base64url');

/** A kubeconfig shaped like the one kind writes, with a bearer token as the client credential. */
export function kubeconfig(opts: { cluster: string; server: string; caCert: string; token: string; namespace?: string }): string {
  const name = `kind-${opts.cluster}`;
  const ca = Buffer.from(opts.caCert).toString('base64');
  return `apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: ${ca}
    server: ${opts.server}
  name: ${name}
contexts:
- context:
    cluster: ${name}
${opts.namespace ? `    namespace: ${opts.namespace}\n` : ''}    user: ${name}
  name: ${name}
current-context: ${name}
kind: Config
preferences: {}
users:
- name: ${name}
  user:
    token: ${opts.token}
`;
}
