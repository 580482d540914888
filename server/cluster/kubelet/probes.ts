import { shq } from '../../util/shell.ts';
import type { PodRuntime } from './runtime.ts';

// Probes as the kubelet runs them: httpGet and tcpSocket from the node's network namespace to the
// pod's IP (so a NetworkPolicy does not judge them, as on a real node where the kubelet's traffic
// is host traffic), exec inside the container. httpGet succeeds on 200–399, as the kubelet's does.

export interface Probe {
  httpGet?: { path?: string; port: number | string; host?: string; scheme?: string; httpHeaders?: { name: string; value: string }[] };
  tcpSocket?: { port: number | string; host?: string };
  exec?: { command: string[] };
  grpc?: { port: number };
  initialDelaySeconds?: number;
  timeoutSeconds?: number;
  periodSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
}

export interface ProbeTarget { podIP: string; node: string; netns: string; hostNetwork: boolean; ports?: { name?: string; containerPort: number }[] }

export interface ProbeResult { ok: boolean; message: string }

function portOf(port: number | string, t: ProbeTarget): number | undefined {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return t.ports?.find((p) => p.name === port)?.containerPort;
}

export async function runProbe(rt: PodRuntime, p: Probe, t: ProbeTarget): Promise<ProbeResult> {
  const timeout = p.timeoutSeconds ?? 1;
  if (p.exec) {
    const r = await rt.inPod(t.netns, p.exec.command, timeout * 1000);
    if (r.code === 0) return { ok: true, message: '' };
    if (r.code === 137 || r.code === 124 || r.timedOut) return { ok: false, message: `command ${JSON.stringify(p.exec.command.join(' '))} timed out` };
    return { ok: false, message: (r.stdout + r.stderr).trim() || `command terminated with exit code ${r.code}` };
  }
  if (p.httpGet) {
    const port = portOf(p.httpGet.port, t);
    if (!port) return { ok: false, message: `unknown port ${p.httpGet.port}` };
    const scheme = (p.httpGet.scheme ?? 'HTTP').toLowerCase();
    const host = p.httpGet.host ?? t.podIP;
    const url = `${scheme}://${host}:${port}${p.httpGet.path ?? '/'}`;
    const headers = (p.httpGet.httpHeaders ?? []).map((h) => `-H ${shq(`${h.name}: ${h.value}`)}`).join(' ');
    const r = await rt.inNode(t.node, `curl -sk -o /dev/null -w '%{http_code}' --max-time ${timeout} -A kube-probe/1.33 ${headers} ${shq(url)}; echo " $?"`);
    const [code, rc] = r.stdout.trim().split(' ');
    const status = Number(code);
    if (status >= 200 && status < 400) return { ok: true, message: '' };
    if (rc === '28') return { ok: false, message: `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` };
    if (rc === '7') return { ok: false, message: `Get "${url}": dial tcp ${host}:${port}: connect: connection refused` };
    if (status) return { ok: false, message: `HTTP probe failed with statuscode: ${status}` };
    // An HTTPS probe of a plain HTTP server: the TLS handshake gets an HTTP answer (Go's words).
    if (rc === '35' && scheme === 'https') return { ok: false, message: `Get "${url}": http: server gave HTTP response to HTTPS client` };
    return { ok: false, message: `Get "${url}": curl exit ${rc}` };
  }
  if (p.tcpSocket) {
    const port = portOf(p.tcpSocket.port, t);
    const host = p.tcpSocket.host ?? t.podIP;
    if (!port) return { ok: false, message: `unknown port ${p.tcpSocket.port}` };
    const r = await rt.inNode(t.node, `timeout ${timeout} bash -c ${shq(`exec 3<>/dev/tcp/${host}/${port}`)} 2>&1; echo " $?"`);
    if (r.stdout.trim().endsWith(' 0') || r.stdout.trim() === '0') return { ok: true, message: '' };
    if (/ 124$/.test(r.stdout.trim())) return { ok: false, message: `dial tcp ${host}:${port}: i/o timeout` };
    return { ok: false, message: `dial tcp ${host}:${port}: connect: connection refused` };
  }
  return { ok: true, message: '' };
}
