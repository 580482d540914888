import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AGNHOST_PY, POD_DIR_ENV, containerArgv, expandVars, hostArgv, resolveImage, type ImageProgram } from './images.ts';
import { isRoot, killStarted, run, runToEnd, until } from '../../test/fixtures/images/processes.ts';

const scratch = mkdtempSync(join(tmpdir(), 'images-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
afterEach(killStarted);

/** A PATH holding stand-ins for the host programs the catalog looks for. */
function fakeHost(name: string, programs: Record<string, string>): string {
  const dir = join(scratch, name);
  mkdirSync(dir);
  for (const [program, body] of Object.entries(programs)) {
    writeFileSync(join(dir, program), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, program), 0o755);
  }
  return dir;
}
const FULL = fakeHost('full', {
  python3: 'exit 0', nginx: 'exit 0', coredns: 'exit 0', curl: 'echo curl "$@"', bash: 'exit 0', sleep: 'exit 0', sed: 'exit 0', date: 'exit 0', openssl: 'exit 0',
  busybox: `[ "$1" = --list ] && printf 'sh\\nsleep\\nwget\\n'`,
});
const BARE = fakeHost('bare', {});

function program(image: string, path = FULL): ImageProgram {
  const r = resolveImage(image, { path });
  if (!r.ok) throw new Error(r.message);
  return r.program;
}

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('resolveImage: references', () => {
  it.each([
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['docker.io/library/busybox:1.36.1-musl', 'docker.io/library/busybox:1.36.1-musl'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/library/alpine:3.20', 'docker.io/library/alpine:3.20'],
    [`busybox@${DIGEST}`, `docker.io/library/busybox@${DIGEST}`],
    [`busybox:1.36@${DIGEST}`, `docker.io/library/busybox@${DIGEST}`],
    ['registry.k8s.io/e2e-test-images/agnhost:2.52', 'registry.k8s.io/e2e-test-images/agnhost:2.52'],
    ['k8s.gcr.io/e2e-test-images/agnhost:2.39', 'k8s.gcr.io/e2e-test-images/agnhost:2.39'],
    ['nicolaka/netshoot:v0.13', 'docker.io/nicolaka/netshoot:v0.13'],
    ['curlimages/curl:8.11.0', 'docker.io/curlimages/curl:8.11.0'],
    ['nginx:1.27-alpine', 'docker.io/library/nginx:1.27-alpine'],
    ['python:3.12-slim', 'docker.io/library/python:3.12-slim'],
    ['debian:bookworm', 'docker.io/library/debian:bookworm'],
    ['ubuntu:24.04', 'docker.io/library/ubuntu:24.04'],
    ['registry.k8s.io/coredns/coredns:v1.11.3', 'registry.k8s.io/coredns/coredns:v1.11.3'],
    ['registry.k8s.io/pause:3.10', 'registry.k8s.io/pause:3.10'],
    ['docker.io/kindest/kindnetd:v20250512-df8de77b', 'docker.io/kindest/kindnetd:v20250512-df8de77b'],
    ['registry.k8s.io/kube-proxy:v1.33.1', 'registry.k8s.io/kube-proxy:v1.33.1'],
  ])('%s is %s', (image, ref) => {
    const p = program(image);
    expect(p.image).toBe(image);
    expect(p.ref).toBe(ref);
  });

  it('fails an image the catalog lacks as containerd does: ErrImagePull, NotFound', () => {
    expect(resolveImage('foo:1')).toEqual({
      ok: false,
      reason: 'ErrImagePull',
      message:
        'Failed to pull image "foo:1": rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/foo:1": failed to resolve reference "docker.io/library/foo:1": docker.io/library/foo:1: not found',
      statusMessage:
        'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/foo:1": failed to resolve reference "docker.io/library/foo:1": docker.io/library/foo:1: not found',
    });
    const r = resolveImage('ghcr.io/acme/app');
    expect(r.ok || r.statusMessage).toMatch(/"ghcr\.io\/acme\/app:latest": ghcr\.io\/acme\/app:latest: not found$/);
  });

  it.each([
    ['Busybox', 'invalid reference format: repository name (library/Busybox) must be lowercase'],
    ['busybox:bad tag', 'invalid reference format'],
    ['busybox:', 'invalid reference format'],
    ['busybox@sha256:abc', 'invalid reference format'],
    [`busybox@sha256:${'a'.repeat(32)}`, 'invalid checksum digest length'],
    [`busybox@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
    ['a'.repeat(64), `invalid repository name (${'a'.repeat(64)}), cannot specify 64-byte hexadecimal strings`],
    ['', 'invalid reference format'],
  ])('%j is an InvalidImageName: %s', (image, why) => {
    expect(resolveImage(image)).toEqual({
      ok: false,
      reason: 'InvalidImageName',
      message: `Failed to apply default image tag "${image}": couldn't parse image name "${image}": ${why}`,
      statusMessage: `Failed to apply default image tag "${image}": couldn't parse image name "${image}": ${why}`,
    });
  });

  it('fails a known image whose host program is missing, naming the Debian package', () => {
    const r = resolveImage('nginx:1.27', { path: BARE });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toBe('ErrImagePull');
    expect(!r.ok && r.message).toBe(
      `Failed to pull image "nginx:1.27": rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/library/nginx:1.27": netdojo runs this image with the host's nginx, which is not on PATH (Debian package nginx-light)`,
    );
    expect(resolveImage('registry.k8s.io/coredns/coredns:v1.11.3', { path: BARE }).ok).toBe(false);
  });
});

describe('resolveImage: what the images declare', () => {
  it.each([
    ['registry.k8s.io/e2e-test-images/agnhost:2.52', ['/agnhost'], ['pause']],
    ['busybox', [], ['sh']],
    ['alpine', [], ['/bin/sh']],
    ['nicolaka/netshoot', [], ['zsh']],
    ['curlimages/curl', ['/entrypoint.sh'], ['curl']],
    ['debian', [], ['bash']],
    ['ubuntu', [], ['/bin/bash']],
    ['python', [], ['python3']],
    ['nginx', ['/docker-entrypoint.sh'], ['nginx', '-g', 'daemon off;']],
    ['registry.k8s.io/coredns/coredns:v1.11.3', ['/coredns'], []],
    ['registry.k8s.io/pause:3.10', ['/pause'], []],
    ['kindest/kindnetd:v20250512-df8de77b', [], ['/bin/kindnetd']],
    ['registry.k8s.io/kube-proxy:v1.33.1', [], []],
  ])('%s: ENTRYPOINT %j CMD %j', (image, entrypoint, cmd) => {
    const p = program(image);
    expect([p.entrypoint, p.cmd]).toEqual([entrypoint, cmd]);
  });

  it("runs agnhost as netdojo's agnhost.py with the host's python3", () => {
    expect(containerArgv(program('registry.k8s.io/e2e-test-images/agnhost:2.52'), {}, {})).toEqual([join(FULL, 'python3'), AGNHOST_PY, 'pause']);
  });

  it("uses the host's busybox applets when installed, the host's own commands otherwise, and says which", () => {
    const withBusybox = program('busybox:1.36');
    expect(containerArgv(withBusybox, {}, {})).toEqual([join(FULL, 'busybox'), 'sh']);
    expect(hostArgv(withBusybox, ['/bin/sleep', '5'])).toEqual([join(FULL, 'busybox'), 'sleep', '5']);
    expect(hostArgv(withBusybox, ['/opt/sleep', '5'])).toEqual(['/opt/sleep', '5']);
    expect(withBusybox.notes.join()).toMatch(/applets of the host's busybox/);

    const without = program('busybox:1.36', BARE);
    expect(containerArgv(without, {}, {})).toEqual(['sh']);
    expect(without.notes.join()).toMatch(/busybox is not installed on this host: sh is the host's \/bin\/sh/);
  });

  it('runs bash for netshoot when the host has no zsh', () => {
    expect(containerArgv(program('nicolaka/netshoot:v0.13'), {}, {})).toEqual([join(FULL, 'bash')]);
    expect(hostArgv(program('nicolaka/netshoot:v0.13'), ['/bin/zsh', '-c', 'true'])).toEqual([join(FULL, 'bash'), '-c', 'true']);
  });

  it('has nginx stop on SIGQUIT and ship its conf.d and html directories', () => {
    const p = program('nginx');
    expect(p.stopSignal).toBe('SIGQUIT');
    expect(p.dirs.map((d) => d.path)).toEqual(['/etc/nginx/conf.d', '/usr/share/nginx/html']);
    for (const d of p.dirs) expect(existsSync(d.source)).toBe(true);
  });

  it('runs the ingress-nginx controller program under its dumb-init, with the args the Deployment gives', () => {
    const p = program('registry.k8s.io/ingress-nginx/controller:v1.15.1');
    expect([p.entrypoint, p.cmd]).toEqual([['/usr/bin/dumb-init', '--'], ['/nginx-ingress-controller']]);
    // dumb-init takes the command after `--`, as `exec` in a shell does.
    expect(containerArgv(p, { args: ['/nginx-ingress-controller', '--publish-service=$(POD_NAMESPACE)/ingress-nginx-controller'] }, { POD_NAMESPACE: 'ingress-nginx' })).toEqual([
      join(FULL, 'python3'), expect.stringMatching(/\/workloads\/nginx-ingress-controller\.py$/), '--publish-service=ingress-nginx/ingress-nginx-controller',
    ]);
    expect(containerArgv(p, {}, {})).toEqual([join(FULL, 'python3'), expect.stringMatching(/nginx-ingress-controller\.py$/)]);
    expect(p.dirs.map((d) => d.path)).toEqual(['/etc/nginx', '/var/lib/nginx']);
    for (const d of p.dirs) expect(existsSync(d.source)).toBe(true);
    expect(resolveImage('registry.k8s.io/ingress-nginx/controller:v1.15.1', { path: BARE })).toMatchObject({ ok: false, reason: 'ErrImagePull' });
  });
});

describe('expandVars: the kubelet’s $(VAR) rules', () => {
  const env = { A: 'a', B: 'b', EMPTY: '', REF: '$(A)' };
  it.each([
    ['$(A)', 'a'],
    ['$(A)-$(A)', 'a-a'],
    ['x$(B)y', 'xby'],
    ['$(A)_$(B)', 'a_b'],
    ['$$(A)_$(B)', '$(A)_b'],
    ['$$A', '$A'],
    ['foo\\$(B)', 'foo\\b'],
    ['$(A$(B))', '$(A$(B))'],
    ['$(REF)', '$(A)'],
    ['x$(EMPTY)y', 'xy'],
    ['$(UNKNOWN)', '$(UNKNOWN)'],
    ['x$(A', 'x$(A'],
    ['$?_$!', '$?_$!'],
    ['$A', '$A'],
    ['${A}', '${A}'],
    ['$$$$$$(NOPE)', '$$$(NOPE)'],
    ['$$$$$$$(A)', '$$$a'],
    ['$(A)end$', 'aend$'],
    ['--$($($(--', '--$($($(--'],
    ['$(foo$$var)', '$(foo$$var)'],
  ])('%s → %s', (input, expected) => {
    expect(expandVars(input, env)).toBe(expected);
  });
});

describe('containerArgv: command and args against ENTRYPOINT and CMD', () => {
  const image: ImageProgram = {
    image: 'test', ref: 'docker.io/library/test:latest', entrypoint: ['/entry', '$(A)'], cmd: ['cmd-arg'],
    env: {}, binaries: {}, dirs: [], notes: [],
  };
  const env = { A: 'a', POD_IP: '10.244.1.5' };
  it.each([
    ['neither: ENTRYPOINT then CMD, not expanded', {}, ['/entry', '$(A)', 'cmd-arg']],
    ['args only: ENTRYPOINT then args', { args: ['--ip=$(POD_IP)'] }, ['/entry', '$(A)', '--ip=10.244.1.5']],
    ['command only: the CMD is dropped', { command: ['/bin/echo', '$(A)'] }, ['/bin/echo', 'a']],
    ['command and args', { command: ['sh', '-c'], args: ['echo $$(A) $(A)'] }, ['sh', '-c', 'echo $(A) a']],
    ['empty lists count as unset', { command: [], args: [] }, ['/entry', '$(A)', 'cmd-arg']],
  ])('%s', (_, container, argv) => {
    expect(containerArgv(image, container, env)).toEqual(argv);
  });

  it('is empty for an image with neither ENTRYPOINT nor CMD and no command', () => {
    expect(containerArgv(program('registry.k8s.io/kube-proxy:v1.33.1'), {}, {})).toEqual([]);
  });

  it('translates the image executables a command names, for exec too', () => {
    const agnhost = program('registry.k8s.io/e2e-test-images/agnhost:2.52');
    expect(containerArgv(agnhost, { command: ['/agnhost', 'netexec', '--http-port=$(PORT)'] }, { PORT: '80' })).toEqual([
      join(FULL, 'python3'), AGNHOST_PY, 'netexec', '--http-port=80',
    ]);
    expect(containerArgv(agnhost, { args: ['connect', 's-x-a.x:80', '--timeout=1s'] }, {})).toEqual([
      join(FULL, 'python3'), AGNHOST_PY, 'connect', 's-x-a.x:80', '--timeout=1s',
    ]);
    expect(hostArgv(agnhost, ['sh', '-c', 'echo hi'])).toEqual(['sh', '-c', 'echo hi']);
  });
});

describe('image entrypoints run for real', () => {
  it("curl's /entrypoint.sh gives options and URLs to curl and runs commands as they are", async () => {
    const curl = program('curlimages/curl:8.11.0');
    const env = { PATH: `${FULL}:/usr/bin:/bin` };
    const out = async (args: string[]) => (await runToEnd(containerArgv(curl, { args }, {}), { env })).stdout;
    expect(await out(['-sS', 'http://web'])).toBe('curl -sS http://web\n');
    expect(await out(['http://web'])).toBe('curl http://web\n');
    expect(await out(['echo', 'plain'])).toBe('plain\n');
    expect((await runToEnd(containerArgv(curl, {}, {}), { env })).stdout).toBe('curl\n');
  });

  it.each(['registry.k8s.io/pause:3.10', 'docker.io/kindest/kindnetd:v20250512-df8de77b'])(
    '%s waits until stopped with SIGTERM',
    async (image) => {
      const argv = containerArgv(program(image, process.env.PATH), {}, {});
      expect(argv.slice(0, 3)).toEqual(['/bin/sh', '-c', expect.stringMatching(/^exec \/\S+\/sleep infinity$/)]);
      const proc = run(argv);
      proc.child.kill('SIGTERM');
      expect(await proc.exited).toEqual({ code: null, signal: 'SIGTERM' });
    },
  );

  describe('kube-proxy reads its configuration file', () => {
    const kubeProxy = (mode: string) => {
      const dir = mkdtempSync(join(scratch, 'kube-proxy-'));
      writeFileSync(join(dir, 'config.conf'), `apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: ${mode}\n`);
      return containerArgv(program('registry.k8s.io/kube-proxy:v1.33.1', process.env.PATH), { command: ['/usr/local/bin/kube-proxy', `--config=${join(dir, 'config.conf')}`, '--hostname-override=worker'] }, {});
    };
    it('logs its start in iptables mode and waits until stopped', async () => {
      const proc = run(kubeProxy('iptables'));
      await proc.waitFor(/node config controller/);
      const out = proc.stdout();
      expect(out).toMatch(/^I\d{4} \d\d:\d\d:\d\d\.\d{6}\s+1 server_linux\.go:66\] "Using iptables proxy"$/m);
      expect(out).toContain('"Starting node config controller" node="worker"');
      proc.child.kill('SIGTERM');
      expect((await proc.exited).signal).toBe('SIGTERM');
    });
    it('fails with kube-proxy\'s error on a mode it does not know', async () => {
      const r = await runToEnd(kubeProxy('userspace'), {});
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('"command failed" err="KubeProxyConfiguration.Mode: Invalid value: \\"userspace\\": must be iptables, ipvs, nftables or blank');
    });
    it.skipIf(existsSync('/proc/net/ip_vs'))('fails in ipvs mode where the kernel has no ip_vs', async () => {
      const r = await runToEnd(kubeProxy('ipvs'), {});
      expect(r.code).toBe(1);
      expect(r.stdout).toContain("can't use the IPVS proxier");
    });
  });
});

const nginx = (() => {
  try {
    return execFileSync('sh', ['-c', 'PATH=$PATH:/usr/sbin command -v nginx'], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
})();

describe.skipIf(!nginx || !isRoot)('the nginx image on the host nginx (in a network and mount namespace of its own)', () => {
  it('serves the default page on port 80 and a conf.d snippet, logs to stdout, stops on SIGQUIT', async () => {
    const p = program('nginx:1.27', `${process.env.PATH}:/usr/sbin`);
    const pod = mkdtempSync(join(scratch, 'pod-'));
    // What the kubelet does with the image's directories: a private, writable copy mounted in place.
    const [conf, html] = p.dirs.map((d) => {
      const copy = join(pod, d.path.replaceAll('/', '_'));
      cpSync(d.source, copy, { recursive: true });
      return copy;
    });
    writeFileSync(join(conf, 'snippet.conf'), 'server { listen 8081; location / { return 200 "from a conf.d snippet\\n"; } }\n');

    const setup = 'ip link set lo up && mount --bind "$1" /etc/nginx/conf.d && mount --bind "$2" /usr/share/nginx/html && shift 2 && exec "$@"';
    const proc = run(['unshare', '--net', '--mount', '--', '/bin/sh', '-c', setup, 'setup', conf, html, ...containerArgv(p, {}, {})], {
      env: { [POD_DIR_ENV]: pod },
    });
    const pid = proc.child.pid!;
    const fetchInPod = async (port: number) => {
      const script = `import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:${port}/", timeout=2).read().decode(), end="")`;
      const r = await runToEnd(['nsenter', '-t', String(pid), '-n', 'python3', '-c', script]);
      return r.code === 0 ? r.stdout : undefined;
    };
    expect(await until(() => fetchInPod(80), 'nginx on port 80')).toMatch(/<title>Welcome to nginx!<\/title>/);
    expect(await fetchInPod(8081)).toBe('from a conf.d snippet\n');
    await proc.waitFor(/"GET \/ HTTP\/1\.1" 200/);
    expect(existsSync(join(pod, 'nginx', 'nginx.pid'))).toBe(true);

    // A learner's `kubectl exec nginx -- nginx -s reload` finds the pod's nginx through its pid file.
    writeFileSync(join(conf, 'snippet.conf'), 'server { listen 8081; location / { return 200 "reloaded\\n"; } }\n');
    const reload = await runToEnd(['nsenter', '-t', String(pid), '-n', '-m', ...hostArgv(p, ['nginx', '-s', 'reload'])], { env: { [POD_DIR_ENV]: pod } });
    expect(reload.code).toBe(0);
    expect(await until(async () => ((await fetchInPod(8081)) === 'reloaded\n' ? true : undefined), 'the reloaded snippet')).toBe(true);

    proc.child.kill(p.stopSignal as NodeJS.Signals);
    expect(await proc.exited).toEqual({ code: 0, signal: null });
  });
});
