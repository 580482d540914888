import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecOptions, ExecResult, Lab, LabFacts, ShellSpec } from '../server/lab/types.ts';

// TEST SUPPORT ONLY: a tiny real network built from kernel namespaces, behind the Lab interface,
// so the grader's probes run against real dig/curl/ping/bash and real packet loss. Used by the
// integration test and by the fixture capture (test/fixtures/grader/capture.ts). Needs root.
//
//   client (10.250.0.1) ── bridge ──┬── server (10.250.0.2 .3 .4 .6 .8): dnsmasq, web "web-0"
//                                   └── mtu    (10.250.0.5): web "web-1", its bridge port at MTU 1400
//
// server addresses: .2 DNS + web; .3 everything dropped; .4 rejected with ICMP unreachable;
// .6 nothing listening; .8 a DNS responder that answers SERVFAIL/REFUSED; .2:8090 stalls after 64 KB. The client has an `unreachable`
// route for 10.251.0.0/16 and no default route. Targets: "default/client" (resolv.conf → .2,
// kind-like search path and ndots:5) and "default/client-baddns" (same pod, resolver → .3).

export const REQUIRED_TOOLS = ['ip', 'iptables', 'dig', 'curl', 'ping', 'dnsmasq', 'python3', 'timeout', 'base64'];

/** Why the real-namespace tests cannot run here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'real-namespace grader tests need Linux';
  if (process.getuid?.() !== 0) return 'real-namespace grader tests need root (ip netns add)';
  const missing = REQUIRED_TOOLS.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  if (missing.length) return `real-namespace grader tests need these tools on PATH: ${missing.join(', ')}`;
  return undefined;
}

const WEB_PY = join(dirname(fileURLToPath(import.meta.url)), '..', 'server', 'workloads', 'web.py');

// Answers SERVFAIL (or REFUSED for names starting with "refused"): real servers for those rcodes.
const FAILING_DNS_PY = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], 53))
while True:
    q, a = s.recvfrom(512)
    rcode = 0x85 if q[13:20] == b"refused" else 0x82
    s.sendto(q[:2] + bytes([0x81, rcode]) + q[4:6] + b"\\0\\0\\0\\0\\0\\0" + q[12:], a)
`;

function sh(argv: string[], input?: string): void {
  const r = spawnSync(argv[0], argv.slice(1), { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
}

export class NetnsTestLab implements Lab {
  readonly facts: LabFacts;
  private readonly procs: ChildProcess[] = [];
  private readonly dir: string;
  readonly ns: { bridge: string; client: string; server: string; mtu: string };
  /** Every exec, for tests that count them. */
  readonly calls: { target: string; argv: string[] }[] = [];

  private constructor(prefix: string) {
    this.ns = { bridge: `${prefix}-br`, client: `${prefix}-c`, server: `${prefix}-s`, mtu: `${prefix}-m` };
    this.dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
    this.facts = {
      id: prefix, scenario: 'grader-test', provider: 'netns', seed: 0, nodes: [], pods: [], services: [],
      dns: { clusterIP: '10.250.0.2', domain: 'cluster.local' },
    };
  }

  static async create(): Promise<NetnsTestLab> {
    const lab = new NetnsTestLab(`gt-${randomBytes(3).toString('hex')}`);
    try {
      await lab.build();
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return lab;
  }

  private async build(): Promise<void> {
    const { bridge, client, server, mtu } = this.ns;
    sh(['ip', '-batch', '-'], [bridge, client, server, mtu].map((n) => `netns add ${n}`).join('\n'));
    sh(['ip', '-n', bridge, '-batch', '-'], [
      'link set lo up', 'link add br0 type bridge', 'link set br0 up',
      `link add pc type veth peer name eth0 netns ${client}`,
      `link add ps type veth peer name eth0 netns ${server}`,
      `link add pm type veth peer name eth0 netns ${mtu}`,
      'link set pc master br0 up', 'link set ps master br0 up',
      // An L2 MTU mismatch: frames over 1400 bytes toward/from this port are silently dropped.
      'link set pm mtu 1400', 'link set pm master br0 up',
    ].join('\n'));
    sh(['ip', '-n', client, '-batch', '-'], ['link set lo up', 'addr add 10.250.0.1/24 dev eth0', 'link set eth0 up', 'route add unreachable 10.251.0.0/16'].join('\n'));
    sh(['ip', '-n', server, '-batch', '-'], ['link set lo up', ...[2, 3, 4, 6, 8].map((o) => `addr add 10.250.0.${o}/24 dev eth0`), 'link set eth0 up'].join('\n'));
    sh(['ip', '-n', mtu, '-batch', '-'], ['link set lo up', 'addr add 10.250.0.5/24 dev eth0', 'link set eth0 up'].join('\n'));
    sh(['ip', 'netns', 'exec', server, 'iptables-restore'], [
      '*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]',
      '-A INPUT -d 10.250.0.3/32 -j DROP',
      '-A INPUT -d 10.250.0.4/32 -p icmp -j REJECT --reject-with icmp-net-unreachable',
      '-A INPUT -d 10.250.0.4/32 -p tcp -j REJECT --reject-with icmp-host-unreachable',
      // Port 8090 (same web server) stops sending after ~64 KB of a connection: a transfer that stalls.
      '-A OUTPUT -p tcp --sport 8090 -m connbytes --connbytes 65536: --connbytes-dir reply --connbytes-mode bytes -j DROP',
      'COMMIT', '',
    ].join('\n'));
    writeFileSync(join(this.dir, 'resolv.conf'), 'search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.250.0.2\noptions ndots:5\n');
    writeFileSync(join(this.dir, 'resolv-bad.conf'), 'search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.250.0.3\noptions ndots:5\n');
    writeFileSync(join(this.dir, 'failing-dns.py'), FAILING_DNS_PY);

    this.start(server, ['dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--no-poll',
      '--user=root', '--group=', '--listen-address=10.250.0.2', '--bind-interfaces', '--local=/cluster.local/',
      '--host-record=web.default.svc.cluster.local,10.96.124.51',
      '--host-record=other.default.svc.cluster.local,10.96.7.7',
      '--host-record=v6only.default.svc.cluster.local,fd00::1',
      // No upstream: every other name is NXDOMAIN, as a cluster DNS says for names that do not exist.
      '--address=/#/',
      '--log-facility=/dev/null']);
    this.start(server, ['python3', WEB_PY, '10.250.0.2', '8080', 'web-0', '8090']);
    this.start(mtu, ['python3', WEB_PY, '10.250.0.5', '8080', 'web-1']);
    this.start(server, ['python3', join(this.dir, 'failing-dns.py'), '10.250.0.8']);
    await this.waitReady();
  }

  private start(ns: string, argv: string[]): void {
    // `ip netns exec` execs the command, so the child's pid is the daemon's pid.
    const p = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: 'ignore' });
    this.procs.push(p);
  }

  /** Polls until DNS and both web servers answer (a condition, not a fixed sleep). */
  private async waitReady(): Promise<void> {
    const probe = [
      'dig +short +time=1 +tries=1 @10.250.0.2 web.default.svc.cluster.local | grep -qx 10.96.124.51',
      'dig +time=1 +tries=1 @10.250.0.8 x.test | grep -q SERVFAIL',
      `curl -sf --noproxy '*' -m1 http://10.250.0.2:8080/hostname | grep -qx web-0`,
      `curl -sf --noproxy '*' -m1 http://10.250.0.5:8080/hostname | grep -qx web-1`,
    ].join(' && ');
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await this.exec('default/client', ['bash', '-c', probe], { timeoutMs: 5000 });
      if (r.code === 0) return;
      const dead = this.procs.find((p) => p.exitCode !== null);
      if (dead) throw new Error(`a lab daemon exited early: ${dead.spawnargs.join(' ')}`);
      if (Date.now() > deadline) throw new Error(`test lab not ready after 30 s: ${r.stdout}${r.stderr}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  exec(target: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    this.calls.push({ target, argv });
    const resolv = target === 'default/client-baddns' ? 'resolv-bad.conf' : 'resolv.conf';
    if (target !== 'default/client' && target !== 'default/client-baddns') {
      return Promise.resolve({ code: 127, stdout: '', stderr: `unknown target ${target}`, timedOut: false, ms: 0 });
    }
    // `ip netns exec` gives the command a private mount namespace: bind the pod's resolv.conf there.
    const wrapped = ['ip', 'netns', 'exec', this.ns.client, 'bash', '-c', 'mount --bind "$0" /etc/resolv.conf && exec "$@"', join(this.dir, resolv), ...argv];
    const t0 = performance.now();
    return new Promise((resolve) => {
      const p = spawn(wrapped[0], wrapped.slice(1), { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      p.stdout!.on('data', (b) => { stdout += b; });
      p.stderr!.on('data', (b) => { stderr += b; });
      p.stdin!.end(opts.stdin ?? '');
      const timer = opts.timeoutMs ? setTimeout(() => { timedOut = true; try { process.kill(-p.pid!, 'SIGKILL'); } catch { /* gone */ } }, opts.timeoutMs) : undefined;
      p.on('close', (code) => {
        if (timer) clearTimeout(timer);
        resolve({ code: timedOut ? null : code, stdout, stderr, timedOut, ms: performance.now() - t0 });
      });
    });
  }

  /** Runs a command in one of the lab's namespaces (to inject and fix faults). */
  run(ns: keyof NetnsTestLab['ns'], argv: string[], input?: string): void {
    sh(['ip', 'netns', 'exec', this.ns[ns], ...argv], input);
  }

  shell(target: string): ShellSpec {
    return { file: 'ip', args: ['netns', 'exec', this.ns.client, 'bash'], env: {}, title: target };
  }

  targets(): string[] {
    return ['default/client', 'default/client-baddns'];
  }

  async destroy(): Promise<void> {
    await Promise.all(this.procs.map((p) => new Promise<void>((res) => {
      if (p.exitCode !== null || p.signalCode !== null) return res();
      p.once('exit', () => res());
      p.kill('SIGKILL');
    })));
    for (const n of Object.values(this.ns)) spawnSync('ip', ['netns', 'del', n]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
