import type { State } from './types.ts';

// Pure functions: what one probe command printed (stdout and stderr merged) and its exit code →
// a result state and a short human description of what was observed. No I/O here, so every rule
// is unit-tested against outputs captured from the real tools (test/fixtures/grader/).
//
// Every probe command runs under `timeout`, so two exit codes mean the same for every kind:
// 124 (timeout's own code) and 137 (killed by `timeout -k` after ignoring TERM).

export interface Classification {
  state: State;
  observed: string;
  /** What the tools saw, finer than the state: whether a retry can change it (grader/settle.ts). */
  cause: Cause;
}

/**
 * What a probe observed, as the tools tell it apart. The state says how bad it is; the cause says
 * what answered (a RST, an authoritative NXDOMAIN, an ICMP error, nothing at all), which decides
 * whether the failure is the network's final word or may still be a network converging
 * (grader/settle.ts keeps one row per cause).
 */
export type Cause =
  | 'ok'
  | 'blocked'
  | 'connected'
  | 'refused'
  | 'reset'
  | 'unreachable'
  | 'unreachable-late'
  | 'message-too-long'
  | 'timeout'
  | 'no-reply'
  | 'name-unresolved'
  | 'nxdomain'
  | 'servfail'
  | 'dns-refused'
  | 'dns-rcode'
  | 'no-address'
  | 'wrong-address'
  | 'http-status'
  | 'http-unavailable'
  | 'empty-reply'
  | 'wrong-backend'
  | 'wrong-body'
  | 'some-failed'
  | 'backend-missing'
  | 'stalled'
  | 'guard-failed'
  | 'tool-missing'
  | 'unrecognized'
  | 'grader-error';

/** One probe command's raw result, as the batch script reports it. */
export interface ProbeOutput {
  rc: number;
  ms: number;
  /** stdout */
  out: string;
  /** stderr (curl's -v trace and error messages live here) */
  err: string;
}

/** Both streams, for messages that may be printed to either. */
const text = (p: ProbeOutput) => (p.err ? `${p.out}\n${p.err}` : p.out);

const KILLED_BY_TIMEOUT = new Set([124, 137]);

/** Exit codes of the shell itself: the tool is missing or not runnable in the pod. That is the
 * grader's problem (the image lacks a tool), not the learner's network. */
function toolMissing(p: ProbeOutput): Classification | undefined {
  if (p.rc === 127 || p.rc === 126) {
    return { state: 'ERROR', observed: `probe tool missing or not runnable (exit ${p.rc}): ${firstLine(text(p))}`, cause: 'tool-missing' };
  }
  return undefined;
}

export function firstLine(s: string): string {
  const line = s.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? '';
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

/**
 * An unreachable that comes back within this long is the network's answer: a local route's verdict
 * at once, an ICMP error at once for ping and UDP, and for a connecting TCP socket after the first
 * SYN retransmission (Linux holds ICMP host/net unreachable as a soft error until the 1 s initial
 * RTO fires, RFC 1122 4.2.3.9). Later than that it is the kernel giving up on neighbour
 * resolution (3 ARP probes, 1 s apart): a next hop that is not there yet, such as a pod being
 * recreated.
 */
export const UNREACHABLE_AT_ONCE_MS = 2000;
const unreachableCause = (p: ProbeOutput): Cause => (p.ms < UNREACHABLE_AT_ONCE_MS ? 'unreachable' : 'unreachable-late');

/** Socket-level errors as the C library words them (bash, ping, curl all print these). */
function socketError(out: string, p: ProbeOutput): Classification | undefined {
  if (/connection refused/i.test(out)) return { state: 'REFUSED', observed: 'connection refused', cause: 'refused' };
  if (/no route to host/i.test(out)) return { state: 'UNREACHABLE', observed: 'no route to host', cause: unreachableCause(p) };
  if (/network is unreachable/i.test(out)) return { state: 'UNREACHABLE', observed: 'network is unreachable', cause: unreachableCause(p) };
  if (/host is unreachable/i.test(out)) return { state: 'UNREACHABLE', observed: 'host is unreachable', cause: unreachableCause(p) };
  if (/connection reset/i.test(out)) return { state: 'REFUSED', observed: 'connection reset', cause: 'reset' };
  // getaddrinfo: the name does not exist vs. the resolver got no (usable) answer.
  if (/name or service not known|could not resolve host|unknown host/i.test(out)) {
    return { state: 'DNS_NOREPLY', observed: `name did not resolve: ${firstLine(out)}`, cause: 'name-unresolved' };
  }
  if (/temporary failure in name resolution/i.test(out)) {
    return { state: 'DNS_NOREPLY', observed: 'name did not resolve (resolver got no reply)', cause: 'name-unresolved' };
  }
  return undefined;
}

// ---------------------------------------------------------------- dns (dig)

export interface DigAnswer {
  status?: string;
  /** A/AAAA addresses of the ANSWER section of the last response dig printed. */
  addresses: string[];
  /** Other records in the ANSWER section (CNAME ...), "TYPE rdata". */
  other: string[];
}

export function parseDig(out: string): DigAnswer {
  // With +search dig may print several responses; the last one is the answer that counted.
  const at = out.lastIndexOf('->>HEADER<<-');
  const last = at >= 0 ? out.slice(at) : '';
  const status = /status: ([A-Z]+)/.exec(last)?.[1];
  const addresses: string[] = [];
  const other: string[] = [];
  const section = /;; ANSWER SECTION:\n([\s\S]*?)(?:\n\s*\n|$)/.exec(last)?.[1] ?? '';
  for (const line of section.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || line.startsWith(';')) continue;
    const [, , , type, ...rdata] = f;
    if (type === 'A' || type === 'AAAA') addresses.push(rdata.join(' '));
    else other.push(`${type} ${rdata.join(' ')}`);
  }
  return { status, addresses, other };
}

/** `expect` may list several addresses ("a,b"); the answer must hold exactly that set. */
export function classifyDig(p: ProbeOutput, expect: string): Classification {
  const missing = toolMissing(p);
  if (missing) return missing;
  if (KILLED_BY_TIMEOUT.has(p.rc)) return { state: 'DNS_NOREPLY', observed: 'no reply (query killed by the probe timeout)', cause: 'no-reply' };
  // dig reports transport failures as ";; communications error to <server>#53: <reason>".
  const all = text(p);
  if (/connection refused/i.test(all)) return { state: 'REFUSED', observed: 'connection refused (nothing listens on the DNS server address)', cause: 'refused' };
  // ";; UDP setup with 10.251.0.1#53(10.251.0.1) for ... failed: host unreachable."
  const unreach = /(network is unreachable|network unreachable|no route to host|host is unreachable|host unreachable)/i.exec(all);
  if (unreach) return { state: 'UNREACHABLE', observed: `DNS server unreachable: ${unreach[1].toLowerCase()}`, cause: unreachableCause(p) };
  const a = parseDig(p.out);
  // Exit 9: no reply from any server. Checked after the messages above, which also exit 9.
  if (p.rc === 9 || (!a.status && /timed out|no servers could be reached/i.test(all))) {
    return { state: 'DNS_NOREPLY', observed: 'no reply (timed out)', cause: 'no-reply' };
  }
  if (!a.status) return { state: 'ERROR', observed: `dig exit ${p.rc}, no DNS response: ${firstLine(all)}`, cause: 'unrecognized' };
  if (a.status === 'NXDOMAIN') return { state: 'DNS_NXDOMAIN', observed: 'NXDOMAIN (name does not exist)', cause: 'nxdomain' };
  if (a.status === 'SERVFAIL') return { state: 'DNS_SERVFAIL', observed: 'SERVFAIL (server failed to answer)', cause: 'servfail' };
  if (a.status === 'REFUSED') return { state: 'REFUSED', observed: 'query REFUSED by the server', cause: 'dns-refused' };
  if (a.status !== 'NOERROR') return { state: 'WRONG_ANSWER', observed: `status ${a.status}`, cause: 'dns-rcode' };
  const want = expect.split(',').map((s) => s.trim()).filter(Boolean).sort();
  const got = [...new Set(a.addresses)].sort();
  if (got.length === 0) {
    return { state: 'WRONG_ANSWER', observed: a.other.length ? `no address, only ${a.other.join(', ')}` : 'NOERROR with no address (no records of this type)', cause: 'no-address' };
  }
  const observed = got.join(',');
  if (got.length === want.length && got.every((g, i) => g === want[i])) return { state: 'PASS', observed, cause: 'ok' };
  return { state: 'WRONG_ANSWER', observed, cause: 'wrong-address' };
}

// ---------------------------------------------------------------- tcp connect (bash /dev/tcp)

export function classifyConnect(p: ProbeOutput): Classification {
  const missing = toolMissing(p);
  if (missing) return missing;
  if (p.rc === 0) return { state: 'PASS', observed: 'connected', cause: 'connected' };
  if (KILLED_BY_TIMEOUT.has(p.rc)) {
    // The probe of a connection that must stay blocked ends itself once its SYN went unanswered (probes.ts).
    const unanswered = /SYN unanswered for (\d+) ms/.exec(p.err)?.[1];
    return { state: 'TIMEOUT', observed: unanswered ? `no answer to SYN in ${unanswered} ms` : 'no answer to SYN (timed out)', cause: 'timeout' };
  }
  return socketError(text(p), p) ?? { state: 'ERROR', observed: `connect failed (exit ${p.rc}): ${firstLine(text(p))}`, cause: 'unrecognized' };
}

/** A connection that must stay blocked: any failure to connect at the TCP level is the pass. */
export function classifyNegative(p: ProbeOutput): Classification {
  const c = classifyConnect(p);
  if (c.state === 'PASS') return { state: 'UNEXPECTED_ALLOW', observed: 'connected (must stay blocked)', cause: 'connected' };
  if (c.state === 'TIMEOUT' || c.state === 'REFUSED' || c.state === 'UNREACHABLE') {
    return { state: 'PASS', observed: `blocked (${c.observed})`, cause: 'blocked' };
  }
  // A name that does not resolve proves nothing about the path: not a pass.
  return c;
}

// ---------------------------------------------------------------- curl

/**
 * The probes end curl's -w format with a line `@@<http_code> <bytes>`, so status and byte counts
 * are told apart from the body. (The format starts with a newline: a -w argument starting with
 * "@" would make curl read the format from a file.)
 */
export const CURL_MARK = '@@';

export interface CurlResult {
  /** What the server sent (stdout before the -w line). */
  body: string;
  httpCode?: number;
  /** Numbers printed after the status by -w (size_download / size_upload). */
  sizes: number[];
}

export function parseCurl(stdout: string): CurlResult {
  const at = stdout.lastIndexOf(`\n${CURL_MARK}`);
  if (at < 0) return { body: stdout.trim(), sizes: [] };
  const fields = stdout.slice(at + 1 + CURL_MARK.length).trim().split(/\s+/).map(Number);
  const [code, ...sizes] = fields;
  // http_code 000: no response at all.
  return { body: stdout.slice(0, at).trim(), httpCode: code || undefined, sizes: sizes.filter((n) => Number.isFinite(n)) };
}

/**
 * curl's exit code → state, for every failure that is not about the body. curl 7.x words every
 * connect failure "Couldn't connect to server"; the errno is only in the -v trace on stderr
 * ("* connect to 10.0.0.1 port 80 failed: Connection refused"), which the probes enable.
 */
export function curlFailure(p: ProbeOutput): Classification | undefined {
  const missing = toolMissing(p);
  if (missing) return missing;
  if (p.rc === 0) return undefined;
  if (KILLED_BY_TIMEOUT.has(p.rc)) return { state: 'TIMEOUT', observed: 'timed out (killed by the probe timeout)', cause: 'timeout' };
  const msg = /curl: \(\d+\) (.*)/.exec(p.err)?.[1]?.trim() ?? firstLine(p.err);
  // "* connect to 10.0.0.1 port 80 failed: Connection refused", "* Immediate connect fail for 192.0.2.1: Network is unreachable"
  const trace = p.err.split('\n').filter((l) => /^\* .*(connect to .* failed|connect fail)/i.test(l)).join('\n');
  switch (p.rc) {
    // curl cannot tell "no such name" from "no reply" (both are getaddrinfo failures); the usual
    // cause in a cluster is a resolver that does not answer, so DNS_NOREPLY. A dns check says more.
    case 6: return { state: 'DNS_NOREPLY', observed: `could not resolve host (${msg})`, cause: 'name-unresolved' };
    case 7: return socketError(trace, p) ?? { state: 'UNREACHABLE', observed: `connect failed: ${msg}`, cause: unreachableCause(p) };
    case 28:
      if (/resolving timed out/i.test(msg)) return { state: 'DNS_NOREPLY', observed: `name lookup got no reply (${msg})`, cause: 'no-reply' };
      return { state: 'TIMEOUT', observed: `timed out: ${msg}`, cause: 'timeout' };
    case 18: return { state: 'PARTIAL', observed: `transfer ended early: ${msg}`, cause: 'stalled' };
    case 52: return { state: 'WRONG_ANSWER', observed: 'empty reply from server', cause: 'empty-reply' };
    case 56: return socketError(trace || msg, p) ?? { state: 'UNREACHABLE', observed: `receive failed: ${msg}`, cause: unreachableCause(p) };
    default: return { state: 'ERROR', observed: `curl exit ${p.rc}: ${msg}`, cause: 'unrecognized' };
  }
}

/**
 * 502, 503 and 504 are a proxy (ingress-nginx, a gateway) with no ready upstream yet: what a
 * Service shows while its endpoints come up. Other statuses are the server's own answer.
 */
const httpStatusCause = (code: number | undefined): Cause => (code !== undefined && code >= 502 && code <= 504 ? 'http-unavailable' : 'http-status');

/** GET <url>/hostname: the body is the backend's pod name. */
export function classifyHostname(p: ProbeOutput, backends: readonly string[]): Classification & { backend?: string } {
  const fail = curlFailure(p);
  if (fail) return fail;
  const r = parseCurl(p.out);
  if (r.httpCode !== 200) return { state: 'WRONG_ANSWER', observed: `HTTP ${r.httpCode ?? '(no status)'}${r.body ? `: ${firstLine(r.body).slice(0, 60)}` : ''}`, cause: httpStatusCause(r.httpCode) };
  if (backends.includes(r.body)) return { state: 'PASS', observed: r.body, backend: r.body, cause: 'ok' };
  return { state: 'WRONG_ANSWER', observed: `answered by "${firstLine(r.body).slice(0, 60)}", not ${backends.join(' or ')}`, cause: 'wrong-backend' };
}

/**
 * Several requests to a (load-balanced) URL: each must succeed with a listed backend, and with
 * more than one request every listed backend must answer at least once. Some requests failing or
 * a backend never answering is PARTIAL; a wrong identity anywhere is WRONG_ANSWER (a fake
 * responder must not pass); all requests failing is the state of the failure.
 */
export function classifyHttp(ps: readonly ProbeOutput[], backends: readonly string[]): Classification {
  if (ps.length === 0) return { state: 'ERROR', observed: 'no request ran', cause: 'grader-error' };
  const each = ps.map((p) => classifyHostname(p, backends));
  const wrong = each.find((c) => c.state === 'WRONG_ANSWER');
  if (wrong) return { state: 'WRONG_ANSWER', observed: wrong.observed, cause: wrong.cause };
  const ok = each.filter((c) => c.state === 'PASS');
  const failed = each.filter((c) => c.state !== 'PASS');
  const seen = [...new Set(ok.map((c) => c.backend!))];
  const tally = summarize(each.map((c) => c.backend ?? c.state));
  if (ok.length === 0) return { ...worst(failed), observed: failed.length === 1 ? failed[0].observed : `${failed[0].observed} (${tally})` };
  if (failed.some((c) => c.state === 'ERROR')) return { state: 'ERROR', observed: tally, cause: worst(failed).cause };
  if (failed.length > 0) return { state: 'PARTIAL', observed: `${ok.length}/${each.length} requests answered: ${tally}`, cause: 'some-failed' };
  if (ps.length > 1) {
    const missing = backends.filter((b) => !seen.includes(b));
    if (missing.length) return { state: 'PARTIAL', observed: `${tally}; never answered: ${missing.join(', ')}`, cause: 'backend-missing' };
    return { state: 'PASS', observed: tally, cause: 'ok' };
  }
  return { state: 'PASS', observed: seen[0], cause: 'ok' };
}

/** "web-0 x3, TIMEOUT x1" */
function summarize(items: string[]): string {
  const n = new Map<string, number>();
  for (const i of items) n.set(i, (n.get(i) ?? 0) + 1);
  return [...n].map(([k, v]) => (v > 1 ? `${k} x${v}` : k)).join(', ');
}

/** GET <url>/bytes/N, -o /dev/null, -w '\n@@%{http_code} %{size_download}'. */
export function classifyDownload(p: ProbeOutput, bytes: number): Classification {
  const r = parseCurl(p.out);
  const got = r.sizes[0] ?? 0;
  const what = `download ${got}/${bytes} bytes`;
  if (p.rc === 0) {
    if (r.httpCode !== 200) return { state: 'WRONG_ANSWER', observed: `download: HTTP ${r.httpCode ?? '(no status)'}`, cause: httpStatusCause(r.httpCode) };
    return got === bytes ? { state: 'PASS', observed: what, cause: 'ok' } : { state: 'PARTIAL', observed: what, cause: 'stalled' };
  }
  const fail = curlFailure(p)!;
  // Stalled mid-transfer (the MTU blackhole signature): something got through, then nothing.
  if ((fail.state === 'TIMEOUT' || fail.state === 'PARTIAL') && got > 0 && got < bytes) {
    return { state: 'PARTIAL', observed: `${what}, then stalled (${fail.observed})`, cause: 'stalled' };
  }
  return { ...fail, observed: `download: ${fail.observed}` };
}

/**
 * POST N bytes to <url>/upload, -w '\n@@%{http_code} %{size_upload}': the body is the count the
 * server read. size_upload is only what curl handed to its socket (kernel buffers absorb some
 * hundred KB on a dead path), so it is reported but only the server's count can make a pass.
 */
export function classifyUpload(p: ProbeOutput, bytes: number): Classification {
  const r = parseCurl(p.out);
  if (p.rc === 0) {
    if (r.httpCode !== 200) return { state: 'WRONG_ANSWER', observed: `upload: HTTP ${r.httpCode ?? '(no status)'}`, cause: httpStatusCause(r.httpCode) };
    const got = /^\d+$/.test(r.body) ? Number(r.body) : NaN;
    if (Number.isNaN(got)) return { state: 'WRONG_ANSWER', observed: `upload: server answered "${firstLine(r.body).slice(0, 40)}", not a byte count`, cause: 'wrong-body' };
    const observed = `upload ${got}/${bytes} bytes`;
    return got === bytes ? { state: 'PASS', observed, cause: 'ok' } : { state: 'PARTIAL', observed, cause: 'stalled' };
  }
  const fail = curlFailure(p)!;
  const sent = r.sizes[0] ?? 0;
  return { ...fail, observed: `upload: ${fail.observed}${sent > 0 ? ` (${sent} bytes sent, none confirmed)` : ''}` };
}

// ---------------------------------------------------------------- icmp (ping)

export function classifyPing(p: ProbeOutput): Classification {
  const missing = toolMissing(p);
  if (missing) return missing;
  const all = text(p);
  const rtt = /time=([\d.]+) ms/.exec(all)?.[1];
  if (p.rc === 0) return { state: 'PASS', observed: rtt ? `reply in ${rtt} ms` : 'reply', cause: 'ok' };
  if (KILLED_BY_TIMEOUT.has(p.rc)) return { state: 'TIMEOUT', observed: 'no reply (killed by the probe timeout)', cause: 'timeout' };
  // "From 10.0.0.1 icmp_seq=1 Destination Net Unreachable" (an ICMP error came back)
  const icmp = /From (\S+) icmp_seq=\d+ (Destination [A-Za-z ]*Unreachable|Packet filtered|Frag needed[^\n]*)/.exec(all);
  if (icmp) return { state: 'UNREACHABLE', observed: `${icmp[2].trim()} (from ${icmp[1]})`, cause: unreachableCause(p) };
  const local = /message too long, mtu=(\d+)/.exec(all);
  if (local) return { state: 'UNREACHABLE', observed: `local error: message too long (mtu ${local[1]})`, cause: 'message-too-long' };
  const sock = socketError(all, p);
  if (sock) return sock;
  if (/\b0 received/.test(all)) return { state: 'TIMEOUT', observed: 'no reply', cause: 'timeout' };
  return { state: 'ERROR', observed: `ping exit ${p.rc}: ${firstLine(all)}`, cause: 'unrecognized' };
}

// ---------------------------------------------------------------- state guards

export function classifyState(p: ProbeOutput): Classification {
  // 126/127 from the guard itself: it calls a tool the source lacks; the grader cannot judge.
  const missing = toolMissing(p);
  if (missing) return missing;
  if (p.rc === 0) return { state: 'PASS', observed: 'exit 0', cause: 'ok' };
  if (KILLED_BY_TIMEOUT.has(p.rc)) return { state: 'TIMEOUT', observed: 'guard script timed out', cause: 'timeout' };
  const last = text(p).trim().split('\n').pop()?.trim();
  return { state: 'WRONG_ANSWER', observed: `exit ${p.rc}${last ? `: ${last.slice(0, 120)}` : ''}`, cause: 'guard-failed' };
}

// ---------------------------------------------------------------- ordering

/** Worse states rank higher; used for the matrix (worst per pair) and to combine sub-probes. */
export const SEVERITY: Record<State, number> = {
  PASS: 0,
  PARTIAL: 1,
  WRONG_ANSWER: 2,
  DNS_NXDOMAIN: 3,
  DNS_SERVFAIL: 3,
  REFUSED: 4,
  UNREACHABLE: 5,
  DNS_NOREPLY: 5,
  TIMEOUT: 6,
  UNEXPECTED_ALLOW: 7,
  ERROR: 8,
};

/** The worst of several classifications (the first of equals), its cause with it. */
export function worst<C extends Classification>(cs: readonly C[]): Classification {
  if (cs.length === 0) return { state: 'ERROR', observed: 'no result', cause: 'grader-error' };
  return cs.reduce((w, c) => (SEVERITY[c.state] > SEVERITY[w.state] ? c : w));
}

/** No states at all is no evidence, so ERROR (never a vacuous PASS). */
export function worstState(states: readonly State[]): State {
  if (states.length === 0) return 'ERROR';
  let worst: State = 'PASS';
  for (const s of states) if (SEVERITY[s] > SEVERITY[worst]) worst = s;
  return worst;
}
