// agnhost.py run for real on 127.0.0.1 with free ports: the answers, messages and exit codes the
// e2e suites and learners rely on (upstream's test/images/agnhost behaviour).
import { createSocket, type Socket } from 'node:dgram';
import { connect as tcpConnect } from 'node:net';
import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { AGNHOST_PY } from '../cluster/images.ts';
import { freePort, isRoot, killStarted, run, runToEnd, udpRequest, until } from '../../test/fixtures/images/processes.ts';

const agnhost = (...args: string[]) => ['python3', AGNHOST_PY, ...args];

afterEach(killStarted);

async function get(port: number, path: string) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

async function netexec() {
  const [http, udp] = [await freePort('tcp'), await freePort('udp')];
  const p = run(agnhost('netexec', `--http-port=${http}`, '--udp-port', String(udp)));
  await p.waitFor(new RegExp(`Started HTTP server on port ${http}`));
  await p.waitFor(new RegExp(`Started UDP server on port  ${udp}`));
  return { p, http, udp };
}

describe('agnhost netexec', () => {
  it('answers /hostname, /echo, /clientip, /healthz and / over HTTP', async () => {
    const { http } = await netexec();
    expect(await get(http, '/hostname')).toEqual({ status: 200, body: hostname() });
    expect(await get(http, '/hostName')).toEqual({ status: 200, body: hostname() });
    expect(await get(http, '/echo?msg=hello%20there')).toEqual({ status: 200, body: 'hello there' });
    expect(await get(http, '/echo?msg=gone&code=404')).toEqual({ status: 404, body: 'gone' });
    expect((await get(http, '/clientip')).body).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await get(http, '/healthz')).toEqual({ status: 200, body: '' });
    expect((await get(http, '/anything/else')).body).toMatch(/^NOW: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} \+0000 UTC m=\+/);
  });

  it('runs /shell commands with /bin/sh and reports output and exit status as JSON', async () => {
    const { http } = await netexec();
    expect(await get(http, '/shell?cmd=echo%20hi')).toEqual({ status: 200, body: '{"output":"hi\\n"}' });
    expect((await get(http, `/shell?shellCommand=${encodeURIComponent('echo "<x>"; exit 3')}`)).body).toBe(
      '{"error":"exit status 3","output":"\\u003cx\\u003e\\n"}',
    );
  });

  it('answers UDP hostname, echo (lower-cased, as upstream) and clientip', async () => {
    const { udp } = await netexec();
    expect(await udpRequest(udp, 'hostname\n')).toBe(hostname());
    expect(await udpRequest(udp, 'echo Hello World')).toBe('hello world');
    expect(await udpRequest(udp, 'clientip')).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('/dial reaches another server over HTTP and UDP and reports errors', async () => {
    const { http, udp } = await netexec();
    const closed = await freePort('tcp');
    expect(await get(http, `/dial?host=127.0.0.1&port=${udp}&protocol=udp&request=hostname&tries=2`)).toEqual({
      status: 200,
      body: JSON.stringify({ responses: [hostname(), hostname()] }),
    });
    expect((await get(http, `/dial?host=127.0.0.1&port=${http}&request=hostname`)).body).toBe(JSON.stringify({ responses: [hostname()] }));
    expect(JSON.parse((await get(http, `/dial?host=127.0.0.1&port=${closed}&request=hostname`)).body)).toEqual({
      errors: [`Get "http://127.0.0.1:${closed}/hostname": dial tcp 127.0.0.1:${closed}: connect: connection refused`],
    });
    expect(await get(http, `/dial?host=127.0.0.1&port=${http}`)).toEqual({ status: 400, body: 'request parameter not specified. <nil>\n' });
  });

  it('/exit ends the process with the code asked for', async () => {
    const { p, http } = await netexec();
    await fetch(`http://127.0.0.1:${http}/exit?code=3`).catch(() => undefined);
    expect((await p.exited).code).toBe(3);
  });

  it.skipIf(!isRoot)('serves the UTS hostname the kubelet sets: the pod name', async () => {
    const [http, udp] = [await freePort('tcp'), await freePort('udp')];
    const p = run(['unshare', '--uts', '--', 'sh', '-c', 'hostname web-7d4b9 && exec "$@"', 'sh', ...agnhost('netexec', `--http-port=${http}`, `--udp-port=${udp}`)]);
    await p.waitFor(/Started HTTP server/);
    expect((await get(http, '/hostname')).body).toBe('web-7d4b9');
  });

  it('rejects unknown flags like cobra', async () => {
    const r = await runToEnd(agnhost('netexec', '--bogus=1'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: unknown flag: --bogus\n/);
  });
});

describe('agnhost serve-hostname', () => {
  it('serves the hostname over HTTP by default', async () => {
    const port = await freePort('tcp');
    const p = run(agnhost('serve-hostname', '--port', String(port)));
    await p.waitFor(new RegExp(`Serving on port ${port}\\.`));
    expect(await get(port, '/whatever')).toEqual({ status: 200, body: hostname() });
  });

  it('serves raw TCP and UDP with --http=false', async () => {
    const port = await freePort('tcp');
    const p = run(agnhost('serve-hostname', '--tcp', '--udp', '--http=false', `--port=${port}`));
    await p.waitFor(/Serving on port/);
    const tcp = await new Promise<string>((resolve, reject) => {
      let got = '';
      const s = tcpConnect(port, '127.0.0.1');
      s.on('data', (b) => (got += b)).on('end', () => resolve(got)).on('error', reject);
    });
    expect(tcp).toBe(hostname());
    expect(await udpRequest(port, 'x')).toBe(hostname());
  });

  it('refuses TCP/UDP mode together with HTTP mode', async () => {
    const r = await runToEnd(agnhost('serve-hostname', '--tcp'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Can't server TCP\/UDP mode and HTTP mode at the same time\n$/);
  });
});

describe('agnhost connect', () => {
  it('exits 0 silently when the TCP connection opens', async () => {
    const { http } = await netexec();
    expect(await runToEnd(agnhost('connect', `127.0.0.1:${http}`, '--timeout=1s'))).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('prints REFUSED for a closed TCP port', async () => {
    const port = await freePort('tcp');
    expect(await runToEnd(agnhost('connect', `127.0.0.1:${port}`, '--timeout=1s', '--protocol=tcp'))).toEqual({ code: 1, stdout: '', stderr: 'REFUSED\n' });
  });

  it('prints TIMEOUT when the SYN goes unanswered', async () => {
    // A listener whose accept queue is full drops new SYNs: a black hole on loopback.
    const hole = run(['python3', '-c', [
      'import socket, signal',
      's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
      'fill = [socket.socket() for _ in range(3)]',
      '[(c.setblocking(False), c.connect_ex(s.getsockname())) for c in fill]',
      'print("port", s.getsockname()[1], flush=True)',
      'signal.pause()',
    ].join('\n')]);
    await hole.waitFor(/port \d+\n/);
    const port = /port (\d+)/.exec(hole.stdout())![1];
    const began = Date.now();
    expect(await runToEnd(agnhost('connect', `127.0.0.1:${port}`, '--timeout=1s'))).toEqual({ code: 1, stdout: '', stderr: 'TIMEOUT\n' });
    expect(Date.now() - began).toBeGreaterThanOrEqual(1000);
  });

  it('prints UNKNOWN for an address without a port and DNS for an unresolvable name', async () => {
    expect(await runToEnd(agnhost('connect', 'backend', '--timeout=1s'))).toEqual({
      code: 1,
      stdout: '',
      stderr: 'UNKNOWN: address backend: missing port in address\n',
    });
    const dns = await runToEnd(agnhost('connect', 'no-such-host.invalid:80', '--timeout=1s'));
    expect(dns.code).toBe(1);
    expect(dns.stderr).toMatch(/^DNS: lookup no-such-host\.invalid on .+: /);
  });

  it('speaks UDP: success, REFUSED and TIMEOUT with the socket pair in the message', async () => {
    const { udp } = await netexec();
    expect(await runToEnd(agnhost('connect', `127.0.0.1:${udp}`, '--protocol=udp', '--timeout=1s'))).toEqual({ code: 0, stdout: '', stderr: '' });

    const closed = await freePort('udp');
    const refused = await runToEnd(agnhost('connect', `127.0.0.1:${closed}`, '--protocol=udp', '--timeout=1s'));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`^REFUSED: read udp 127\\.0\\.0\\.1:\\d+->127\\.0\\.0\\.1:${closed}: read: connection refused\\n$`));

    const silent: Socket = createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    const port = silent.address().port;
    const timeout = await runToEnd(agnhost('connect', `127.0.0.1:${port}`, '--protocol=udp', '--timeout=500ms'));
    silent.close();
    expect(timeout.code).toBe(1);
    expect(timeout.stderr).toMatch(new RegExp(`^TIMEOUT: read udp 127\\.0\\.0\\.1:\\d+->127\\.0\\.0\\.1:${port}: i/o timeout\\n$`));
  });

  it('takes exactly one destination', async () => {
    const r = await runToEnd(agnhost('connect'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: accepts 1 arg\(s\), received 0\n/);
  });
});

describe('agnhost porter', () => {
  it('serves SERVE_PORT_<n> over HTTP and SERVE_UDP_PORT_<n> over UDP', async () => {
    const [tcp, udp] = [await freePort('tcp'), await freePort('udp')];
    const p = run(agnhost('porter'), { env: { [`SERVE_PORT_${tcp}`]: 'foo', [`SERVE_UDP_PORT_${udp}`]: 'bar' } });
    await p.waitFor(new RegExp(`Started UDP server on port ${udp}`));
    expect(await until(() => get(tcp, '/any'), 'porter HTTP')).toEqual({ status: 200, body: 'foo' });
    expect(await udpRequest(udp, 'x')).toBe('bar');
  });

  it('answers JSON with --json-response', async () => {
    const tcp = await freePort('tcp');
    run(agnhost('porter', '--json-response'), { env: { [`SERVE_TCP_PORT_${tcp}`]: 'foo' } });
    const res = await until(() => fetch(`http://127.0.0.1:${tcp}/`, { method: 'POST' }), 'porter HTTP');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.text()).toBe('{"Method":"POST","Body":"foo"}');
  });
});

describe('agnhost pause', () => {
  it.each([
    ['SIGTERM', 2],
    ['SIGINT', 1],
  ] as const)('prints Paused and exits on %s with %i, as upstream', async (signal, code) => {
    const p = run(agnhost('pause'));
    await p.waitFor(/^Paused\n/);
    p.child.kill(signal);
    expect((await p.exited).code).toBe(code);
  });

  it('is the image CMD: agnhost with no subcommand prints help and exits 0', async () => {
    const r = await runToEnd(agnhost());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Available Commands:[\s\S]*netexec/);
    expect((await runToEnd(agnhost('nope'))).stderr).toMatch(/^Error: unknown command "nope" for "agnhost"/);
  });
});
