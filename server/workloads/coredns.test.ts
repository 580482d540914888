import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../cluster/object.ts';
import { clusterRecords, renderRecordFiles, writeRecordFiles } from '../cluster/dns/records.ts';

const CORE_DNS = fileURLToPath(new URL('./coredns.py', import.meta.url));
const KIND_COREFILE = readFileSync(fileURLToPath(new URL('../../test/fixtures/coredns/Corefile', import.meta.url)), 'utf8');
const PATH = `${process.env.PATH}:/usr/sbin:/sbin`;
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { env: { ...process.env, PATH } }).status === 0;

const tmp = mkdtempSync(join(tmpdir(), 'coredns-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs coredns.py to its exit on a Corefile (no network needed: these fail before serving). */
function runWith(corefile: string) {
  const path = join(tmp, `Corefile-${randomBytes(3).toString('hex')}`);
  writeFileSync(path, corefile);
  const r = spawnSync('python3', [CORE_DNS, '-conf', path], { encoding: 'utf8', timeout: 5000, env: { ...process.env, PATH } });
  return { path, status: r.status, stderr: r.stderr, stdout: r.stdout };
}

const withLine = (n: number, line: string) => KIND_COREFILE.split('\n').map((l, i) => (i === n - 1 ? line : l)).join('\n');

describe.skipIf(!has('python3'))('coredns.py Corefile errors (what CoreDNS 1.11 prints, exit 1)', () => {
  it.each([
    ['an unknown directive', withLine(7, '    kubernetess cluster.local in-addr.arpa ip6.arpa {'), (p: string) => `${p}:7 - Error during parsing: Unknown directive 'kubernetess'`],
    ['a bad pods mode', withLine(8, '       pods insecurre'), () => 'plugin/kubernetes: wrong value for pods: insecurre,  must be one of: disabled, verified, insecure'],
    ['a ttl that is not a number', withLine(10, '       ttl thirty'), () => 'plugin/kubernetes: strconv.Atoi: parsing "thirty": invalid syntax'],
    ['an unknown kubernetes property', withLine(10, '       tll 30'), (p: string) => `plugin/kubernetes: ${p}:10 - Error during parsing: unknown property 'tll'`],
    ['a forward target that is neither an IP nor a file', withLine(13, '    forward . /etc/resolv.cnof {'), () => 'plugin/forward: not an IP address or file: "/etc/resolv.cnof"'],
    ['a forward without a target', withLine(13, '    forward . {'), (p: string) => `plugin/forward: ${p}:13 - Error during parsing: Wrong argument count or unexpected line ending after '.'`],
    ['a zero cache TTL', withLine(16, '    cache 0'), () => 'plugin/cache: cache TTL can not be zero or negative: 0'],
    ['a reload interval under 2s', withLine(18, '    reload 1s'), () => 'plugin/reload: interval value must be greater or equal to 2s'],
    ['a stray closing brace', withLine(16, '    cache 30 }'), (p: string) => `${p}:16 - Error during parsing: Unexpected '}' because no matching opening brace`],
    ['two blocks for the same zone and port', `${KIND_COREFILE}\n.:53 {\n  whoami\n}\n`, () => 'cannot serve dns://.:53 - it is already defined'],
  ])('%s', (_what, corefile, expected) => {
    const r = runWith(corefile);
    expect(r.stderr).toBe(`${expected(r.path)}\n`);
    expect(r.status).toBe(1);
  });

  it('reports plugins in CoreDNS order, not file order (kubernetes is set up before forward)', () => {
    const r = runWith(withLine(10, '       ttl 9999').replace('forward . /etc/resolv.conf', 'forward . /nope'));
    expect(r.stderr).toBe(`${r.path}:10 - Error during parsing: ttl must be in range [0, 3600]: 9999\n`.replace(/^/, 'plugin/kubernetes: '));
  });

  it('fails like CoreDNS on a missing Corefile', () => {
    const r = spawnSync('python3', [CORE_DNS, '-conf', join(tmp, 'absent')], { encoding: 'utf8' });
    expect(r.stderr).toBe(`open ${join(tmp, 'absent')}: no such file or directory\n`);
    expect(r.status).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------

const REAL_RUN_TOOLS = ['python3', 'dnsmasq', 'dig', 'ip'];
const whyNotReal = process.getuid?.() !== 0 ? 'needs root to create a network namespace'
  : REAL_RUN_TOOLS.filter((t) => !has(t)).map((t) => `needs ${t} on PATH`).join(', ') || undefined;

const ADDR = '10.244.0.2';
const netns = `netdojo-coredns-${process.pid}-${randomBytes(3).toString('hex')}`;
const inNetns = (argv: string[]) => spawnSync('ip', ['netns', 'exec', netns, ...argv], { encoding: 'utf8', env: { ...process.env, PATH }, timeout: 10_000 });
const dig = (...args: string[]) => inNetns(['dig', `@${ADDR}`, '-p', '53', '+time=1', '+tries=1', ...args]).stdout;
const answer = (name: string, type = 'A') => dig('+short', name, type).trim();
const status = (name: string) => /status: (\w+)/.exec(dig(name))?.[1];
const httpGet = (port: number, path: string) =>
  inNetns(['python3', '-c', `import urllib.request as u;r=u.urlopen("http://127.0.0.1:${port}${path}",timeout=2);print(r.status, r.read().decode())`]).stdout.trim();
const comm = (pid: string) => { try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return ''; } };
const dnsmasqPids = () => spawnSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' }).stdout.split('\n').filter((p) => p && comm(p) === 'dnsmasq').join(' ');

interface Run { child: ChildProcess; output(): string; exit: Promise<number | null> }

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const web: KubeObject = {
  apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'default', name: 'web' },
  spec: { clusterIP: '10.96.12.34', clusterIPs: ['10.96.12.34'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
};
const webPod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'default', name: 'web-1' }, status: { podIP: '10.244.1.5' } };
const webSlice = (ips: string[]): KubeObject => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
  metadata: { namespace: 'default', name: 'web-x1', labels: { 'kubernetes.io/service-name': 'web' } },
  ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
});

describe.skipIf(!!whyNotReal)(`coredns.py serving from a network namespace${whyNotReal ? ` (skipped: ${whyNotReal})` : ''}`, () => {
  const dir = join(tmp, 'run');
  const records = join(dir, 'records');
  const corefile = join(dir, 'Corefile');
  let run: Run;
  const output = () => run.output();

  const start = (file: string): Run => {
    let output = '';
    const child = spawn('ip', ['netns', 'exec', netns, 'python3', CORE_DNS, '-conf', file], {
      env: { ...process.env, PATH, COREDNS_RECORDS_DIR: records, COREDNS_RELOAD_INTERVAL: '0.2' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (b: Buffer) => { output += b.toString(); });
    child.stderr!.on('data', (b: Buffer) => { output += b.toString(); });
    const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
    return { child, output: () => output, exit };
  };

  beforeAll(async () => {
    for (const argv of [['netns', 'add', netns], ['-n', netns, 'link', 'set', 'lo', 'up'], ['-n', netns, 'addr', 'add', `${ADDR}/32`, 'dev', 'lo']]) {
      const r = spawnSync('ip', argv, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`ip ${argv.join(' ')}: ${r.stderr}`);
    }
    spawnSync('mkdir', ['-p', dir]);
    // The pod's resolv.conf names an upstream that never answers, as in the offline lab.
    writeFileSync(join(dir, 'resolv.conf'), 'nameserver 10.244.0.99\n');
    writeFileSync(corefile, KIND_COREFILE.replace('lameduck 5s', 'lameduck 1s').replace('/etc/resolv.conf', join(dir, 'resolv.conf')).replace('    errors', '    errors\n    log'));
    await writeRecordFiles(records, renderRecordFiles(clusterRecords({ services: [web], endpointSlices: [webSlice(['10.244.1.5'])], pods: [webPod] })));
    run = start(corefile);
    await waitFor('the banner', () => output().includes('CoreDNS-1.11.1'));
  });

  afterAll(() => {
    if (run && run.child.exitCode === null) run.child.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', netns]);
  });

  it('prints CoreDNS banner lines and answers a Service name with its ClusterIP', () => {
    expect(output()).toMatch(/^\.:53\n\[INFO\] plugin\/reload: Running configuration SHA512 = [0-9a-f]{128}\nCoreDNS-1\.11\.1\nlinux\/amd64, go1\.20\.\d+, \w+\n/);
    expect(answer('web.default.svc.cluster.local')).toBe('10.96.12.34');
    expect(answer('_http._tcp.web.default.svc.cluster.local', 'SRV')).toBe('0 100 80 web.default.svc.cluster.local.');
    expect(answer('-x', '10.96.12.34')).toBe('web.default.svc.cluster.local.');
    expect(answer('10-244-1-5.default.pod.cluster.local')).toBe('10.244.1.5');
    expect(answer('-x', '10.244.1.5')).toBe('10-244-1-5.web.default.svc.cluster.local.');
  });

  it('logs queries in the log plugin\'s format', async () => {
    expect(answer('10-244-1-5.web.default.svc.cluster.local')).toBe('10.244.1.5');
    await waitFor('the log line', () => /\[INFO\] 10\.244\.0\.2:\d+ - - "A IN 10-244-1-5\.web\.default\.svc\.cluster\.local\. udp - false -" NOERROR qr,aa,rd - [\d.]+s\n/.test(output()));
  });

  it('answers NXDOMAIN for an unknown name in the cluster zone', () => {
    expect(status('nope.default.svc.cluster.local')).toBe('NXDOMAIN');
    expect(status('web.nowhere.svc.cluster.local')).toBe('NXDOMAIN');
  });

  it('serves /health, /ready and /metrics', () => {
    expect(httpGet(8080, '/health')).toBe('200 OK');
    expect(httpGet(8181, '/ready')).toBe('200 OK');
    expect(httpGet(9153, '/metrics')).toMatch(/coredns_dns_requests_total\{family="1",proto="udp",server="dns:\/\/:53",type="A",view="",zone="\."\} \d+/);
  });

  it('answers a record added to the records directory within a second, without a restart', async () => {
    const before = dnsmasqPids();
    expect(before).toMatch(/^\d+$/);
    const changed = await writeRecordFiles(records, renderRecordFiles(clusterRecords({ services: [web], endpointSlices: [webSlice(['10.244.1.5', '10.244.1.9'])], pods: [webPod] })));
    expect(changed).toEqual(['hosts/services']);
    const t0 = Date.now();
    await waitFor('the new endpoint name', () => answer('10-244-1-9.web.default.svc.cluster.local') === '10.244.1.9', 1000);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(dnsmasqPids()).toBe(before);
  });

  it('serves changed SRV records (records.conf) after restarting the DNS server', async () => {
    const db: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'default', name: 'db' }, spec: { clusterIP: '10.96.0.44', ports: [{ name: 'pg', port: 5432 }] } };
    const changed = await writeRecordFiles(records, renderRecordFiles(clusterRecords({ services: [web, db], endpointSlices: [webSlice(['10.244.1.5', '10.244.1.9'])], pods: [webPod] })));
    expect(changed).toContain('records.conf');
    await waitFor('the SRV record', () => answer('_pg._tcp.db.default.svc.cluster.local', 'SRV') === '0 100 5432 db.default.svc.cluster.local.');
  });

  it('answers an ExternalName with its target\'s address as soon as the upstream knows it, with no records change', async () => {
    const mirror: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'default', name: 'mirror' }, spec: { type: 'ExternalName', externalName: 'deb.debian.org' } };
    await writeRecordFiles(records, renderRecordFiles(clusterRecords({ services: [web, mirror], endpointSlices: [webSlice(['10.244.1.5', '10.244.1.9'])], pods: [webPod] })));
    // The upstream does not answer: the CNAME alone, as CoreDNS answers when the target has no address.
    await waitFor('the CNAME', () => answer('mirror.default.svc.cluster.local') === 'deb.debian.org.');
    expect(inNetns(['ip', 'addr', 'add', '10.244.0.99/32', 'dev', 'lo']).status).toBe(0);
    const upstream = spawn('ip', ['netns', 'exec', netns, 'dnsmasq', '--keep-in-foreground', '--no-resolv', '--no-hosts', '--bind-interfaces', '--listen-address=10.244.0.99',
      '--host-record=deb.debian.org,203.0.113.30', '--user=root', '--group=', '--pid-file='], { env: { ...process.env, PATH }, stdio: 'ignore' });
    try {
      await waitFor('the target\'s address', () => answer('mirror.default.svc.cluster.local') === 'deb.debian.org.\n203.0.113.30', 4000);
    } finally {
      upstream.kill();
      await new Promise((r) => upstream.once('exit', r));
      inNetns(['ip', 'addr', 'del', '10.244.0.99/32', 'dev', 'lo']);
    }
  });

  it('reloads a valid Corefile edit and keeps the old one on an invalid edit', async () => {
    const original = readFileSync(corefile, 'utf8');
    writeFileSync(corefile, original.replace('    loadbalance', '    loadbalance\n    hosts {\n      10.1.2.3 reloaded.example\n    }'));
    await waitFor('Reloading complete', () => output().includes('[INFO] Reloading\n') && output().includes('[INFO] Reloading complete\n'));
    await waitFor('the hosts entry', () => answer('reloaded.example') === '10.1.2.3');

    writeFileSync(corefile, original.replace('    cache 30', '    cahce 30'));
    const line = original.split('\n').findIndex((l) => l === '    cache 30') + 1;
    const error = `starting with listener file descriptors: ${corefile}:${line} - Error during parsing: Unknown directive 'cahce'`;
    await waitFor('the reload error', () => output().includes(`[ERROR] Restart failed: ${error}\n`));
    expect(output()).toContain(`[ERROR] plugin/reload: Corefile changed but reload failed: ${error}\n`);
    expect(answer('reloaded.example')).toBe('10.1.2.3');
    expect(answer('web.default.svc.cluster.local')).toBe('10.96.12.34');
  });

  it('exits cleanly on SIGTERM, after the lameduck period, leaving no dnsmasq behind', async () => {
    run.child.kill('SIGTERM');
    expect(await run.exit).toBe(0);
    expect(output()).toContain('[INFO] SIGTERM: Shutting down servers then terminating\n[INFO] plugin/health: Going into lameduck mode for 1s\n');
    expect(dnsmasqPids()).toBe('');
  });

  it('stops with the loop plugin\'s message when it forwards to itself', async () => {
    const looping = join(dir, 'Corefile.loop');
    writeFileSync(looping, '.:53 {\n    loop\n    forward . 127.0.0.1\n}\n');
    const loop = start(looping);
    const code = await loop.exit;
    expect(loop.output()).toMatch(/CoreDNS-1\.11\.1\n.*\n\[FATAL\] plugin\/loop: Loop \(127\.0\.0\.1:\d+ -> :53\) detected for zone "\.", see https:\/\/coredns\.io\/plugins\/loop#troubleshooting\. Query: "HINFO \d+\.\d+\."\n/);
    expect(code).toBe(1);
  });

  it('sends a query it tries again from a new source port, as CoreDNS dials anew after a read timeout', async () => {
    // An upstream that reads every query and answers none, printing each one's source port.
    const upstream = spawn('ip', ['netns', 'exec', netns, 'python3', '-c',
      'import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(("127.0.0.1", 5300))\nprint("ready", flush=True)\nwhile True: print(s.recvfrom(512)[1][1], flush=True)',
    ], { env: { ...process.env, PATH }, stdio: ['ignore', 'pipe', 'ignore'] });
    let seen = '';
    upstream.stdout!.on('data', (b: Buffer) => { seen += b.toString(); });
    const silent = join(dir, 'Corefile.silent');
    writeFileSync(silent, '.:1053 {\n    forward . 127.0.0.1:5300\n}\n');
    const dns = start(silent);
    try {
      await waitFor('the upstream', () => seen.startsWith('ready\n'));
      await waitFor('the banner', () => dns.output().includes('CoreDNS-1.11.1'));
      // A query for a name already waiting on the upstream goes out again once that one is 2 s old.
      for (let i = 0; i < 3; i++) {
        inNetns(['dig', `@${ADDR}`, '-p', '1053', '+time=1', '+tries=1', 'example.com']);
        await new Promise((r) => setTimeout(r, 1500));
      }
      const ports = seen.split('\n').slice(1).filter(Boolean);
      expect(ports.length, seen).toBe(3);
      expect(new Set(ports).size, seen).toBe(3);
    } finally {
      dns.child.kill('SIGTERM');
      await dns.exit;
      upstream.kill('SIGKILL');
    }
  });
});
