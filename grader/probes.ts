import { randomBytes } from 'node:crypto';
import {
  CURL_MARK, classifyConnect, classifyDig, classifyDownload, classifyHttp, classifyNegative, classifyPing,
  classifyState, classifyUpload, worst,
  type Classification, type ProbeOutput,
} from './classify.ts';
import type { Check, CheckKind, CheckOf } from './types.ts';
import { shq, sq } from '../server/util/shell.ts';

// Checks → probe commands, and many probe commands → one batch script per source pod.
//
// Probes run inside the source pod with the pod's own tools (dig, curl, ping, bash, timeout), so
// the control path is never the network under test. One exec per source runs every probe of that
// pod in parallel and prints one line per probe plus a sentinel carrying a per-run nonce: a run
// whose sentinel is missing (killed, lost connection, exec that "succeeds" without running) is an
// ERROR for every probe in it, never a pass.
//
// Each kind is one row of a table (cyclonus style): how to build its commands, how to read them.

/** The network timeouts a probe uses (seconds); from the RetryPolicy (run.ts). */
export interface ProbeTimeouts {
  /** Per attempt: connect, DNS query, ping wait. */
  netTimeoutS: number;
  /** Large transfers (mtu): whole transfer. */
  transferTimeoutS: number;
  /** State guard scripts. */
  stateTimeoutS: number;
  /** A connection that must stay blocked: its SYN unanswered this long (ms) is the drop. */
  unansweredMs: number;
}

export interface ProbeCommand {
  /** A bash script run as `bash -c`; stdin is /dev/null, stdout and stderr are captured apart. */
  script: string;
  /** Hard limit: the batch runs the script under `timeout -k 1 <timeoutS>`. */
  timeoutS: number;
  /** Evidence only: its result never changes the state (e.g. the DF ping of an mtu check). */
  evidenceOnly?: boolean;
  /** What the evidence shows when the script is not what a learner would type (the same test, by hand). */
  shown?: string;
}

export interface ProbePlan {
  check: Check;
  /** The target as shown in reports and the matrix ('' for state guards). */
  to: string;
  /** What a pass looks like, in words. */
  expected: string;
  commands: ProbeCommand[];
  /** outputs[i] belongs to commands[i]. */
  classify(outputs: ProbeOutput[]): Classification;
}


/**
 * The command as a learner could paste it into the pod's shell (evidence): a simple command as is,
 * anything with shell syntax (pipes, redirections, /dev/tcp) through `bash -c`.
 */
export function displayCommand(c: ProbeCommand): string {
  const script = c.shown ?? c.script;
  const unquoted = script.replace(/'[^']*'/g, '');
  const simple = !/[|&;<>()$`\\\n{}*?]/.test(unquoted);
  return simple ? `timeout ${c.timeoutS} ${script}` : `timeout ${c.timeoutS} bash -c ${sq(script)}`;
}

const joinUrl = (url: string, path: string) => `${url.replace(/\/+$/, '')}${path}`;
// Proxies from the environment must not carry probes elsewhere; -v puts the connect errno on
// stderr (curl 7.x words every connect failure the same on its error line).
const CURL = `curl -sS -v --noproxy '*'`;

function tcpConnect(host: string, port: string | number, t: ProbeTimeouts): ProbeCommand {
  // bash's /dev/tcp does a plain connect(); `timeout` bounds the SYN wait. No data is sent.
  return { script: `exec 3<>/dev/tcp/${shq(host)}/${shq(port)}`, timeoutS: t.netTimeoutS };
}

/**
 * A connect that must fail: as tcpConnect, but a drop is told without waiting out the timeout. The
 * kernel keeps the socket in SYN_SENT (state 02 of /proc/net/tcp, told apart by its inode)
 * until a SYN-ACK, a RST or an ICMP error arrives, and it handles those as they come in, however
 * starved the probe's own process is. So the same socket seen in SYN_SENT twice, unansweredMs
 * apart, is a SYN that went unanswered that long: on a pod network that answers in well under a
 * millisecond, a drop (exit 124, as `timeout` would end it). An answer of any kind ends the
 * connect first, and is judged as tcpConnect's. The first SYN only: a drop that a retransmission
 * a second later would get past (a policy being lifted) is what a lab still converging shows,
 * and such a lab keeps being probed for the retry window.
 */
function blockedConnect(host: string, port: string | number, t: ProbeTimeouts): ProbeCommand {
  const plain = tcpConnect(host, port, t);
  const script = [
    `${plain.script} & p=$!`,
    'i= t=',
    'while kill -0 $p 2>/dev/null; do',
    // bash connects a new descriptor and moves it onto 3 once connected: the connect's socket is
    // whichever of the subshell's descriptors is in SYN_SENT.
    "  mine=\" $(stat -L --printf '%i ' /proc/$p/fd/* 2>/dev/null)\" s=",
    '  while read -r _ _ _ st _ _ _ _ _ n _; do if [ "$st" = 02 ]; then case $mine in *" $n "*) s=$n; break ;; esac; fi; done < /proc/net/tcp',
    '  now=${EPOCHREALTIME/./}',
    `  if [ "$s" != "$i" ]; then i=$s t=$now; elif [ -n "$s" ] && [ $((now - t)) -ge ${t.unansweredMs * 1000} ]; then`,
    '    echo "SYN unanswered for $(((now - t) / 1000)) ms" >&2; kill $p 2>/dev/null; exit 124',
    '  fi',
    '  sleep 0.05',
    'done',
    'wait $p',
  ].join('\n');
  return { ...plain, script, shown: plain.script };
}

function ping(host: string, t: ProbeTimeouts, extra = ''): ProbeCommand {
  // -n: no reverse lookups (they hang when DNS is what is broken).
  return { script: `ping -n -c1 -W${t.netTimeoutS}${extra} ${shq(host)}`, timeoutS: t.netTimeoutS + 1 };
}

interface KindSpec<C extends Check> {
  to(c: C): string;
  expected(c: C): string;
  commands(c: C, t: ProbeTimeouts): ProbeCommand[];
  classify(c: C, outputs: ProbeOutput[]): Classification;
}

const KINDS: { [K in CheckKind]: KindSpec<CheckOf<K>> } = {
  dns: {
    to: (c) => c.name,
    expected: (c) => c.expect,
    commands: (c, t) => {
      const proto = c.proto === 'tcp' ? ' +tcp' : '';
      // No server: the pod's resolv.conf, and +search so short names go through the search path
      // (and ndots) as they do for the pod's applications.
      const where = c.server ? ` @${shq(c.server)}` : ' +search';
      // dig stops at the first timeout, so one query's time bounds it; +1 s for dig itself.
      return [{ script: `dig +time=${t.netTimeoutS} +tries=1${proto}${where} ${shq(c.name)} A`, timeoutS: t.netTimeoutS + 2 }];
    },
    classify: (c, [o]) => classifyDig(o, c.expect),
  },
  tcp: {
    to: (c) => `${c.host}:${c.port}`,
    expected: () => 'connected',
    commands: (c, t) => [tcpConnect(c.host, c.port, t)],
    classify: (_c, [o]) => classifyConnect(o),
  },
  http: {
    to: (c) => c.url,
    expected: (c) => (c.requests > 1 ? `each of ${c.backends.join(', ')}` : c.backends.length > 1 ? `one of ${c.backends.join(', ')}` : c.backends[0]),
    commands: (c, t) => {
      const cmd = {
        script: `${CURL} --connect-timeout ${t.netTimeoutS} --max-time ${t.netTimeoutS}${c.hostHeader ? ` -H ${shq(`Host: ${c.hostHeader}`)}` : ''} -w '\\n${CURL_MARK}%{http_code}' ${shq(joinUrl(c.url, '/hostname'))}`,
        timeoutS: t.netTimeoutS + 1,
      };
      return Array.from({ length: c.requests ?? 1 }, () => cmd);
    },
    classify: (c, outputs) => classifyHttp(outputs, c.backends),
  },
  icmp: {
    to: (c) => c.host,
    expected: () => 'reply',
    commands: (c, t) => [ping(c.host, t)],
    classify: (_c, [o]) => classifyPing(o),
  },
  mtu: {
    to: (c) => c.url,
    expected: (c) => `${c.bytes} bytes ${c.direction === 'both' ? 'down and up' : c.direction === 'download' ? 'down' : 'up'}`,
    commands: (c, t) => {
      // A transfer that moves nothing for a network timeout has stalled (the blackhole's signature:
      // the first full-size segment never arrives); it is not waited on to the whole-transfer limit.
      const limits = `--connect-timeout ${t.netTimeoutS} --max-time ${t.transferTimeoutS} --speed-limit 1 --speed-time ${t.netTimeoutS}`;
      const cmds: ProbeCommand[] = [];
      if (c.direction !== 'upload') {
        cmds.push({
          script: `${CURL} ${limits} -o /dev/null -w '\\n${CURL_MARK}%{http_code} %{size_download}' ${shq(joinUrl(c.url, `/bytes/${c.bytes}`))}`,
          timeoutS: t.transferTimeoutS + 1,
        });
      }
      if (c.direction !== 'download') {
        // "Expect:" off: no 100-continue round trip; the server answers with the byte count it read.
        cmds.push({
          script: `head -c ${c.bytes} /dev/zero | ${CURL} ${limits} -H 'Expect:' -H 'Content-Type: application/octet-stream' --data-binary @- -w '\\n${CURL_MARK}%{http_code} %{size_upload}' ${shq(joinUrl(c.url, '/upload'))}`,
          timeoutS: t.transferTimeoutS + 1,
        });
      }
      if (c.dfPing) cmds.push({ ...ping(c.dfPing.host, t, ` -M do -s ${c.dfPing.size}`), evidenceOnly: true });
      return cmds;
    },
    classify: (c, outputs) => {
      const parts: Classification[] = [];
      let i = 0;
      if (c.direction !== 'upload') parts.push(classifyDownload(outputs[i++], c.bytes));
      if (c.direction !== 'download') parts.push(classifyUpload(outputs[i++], c.bytes));
      return { ...worst(parts), observed: parts.map((p) => p.observed).join('; ') };
    },
  },
  negative: {
    to: (c) => `${c.host}:${c.port}`,
    expected: () => 'blocked',
    commands: (c, t) => [blockedConnect(c.host, c.port, t)],
    classify: (_c, [o]) => classifyNegative(o),
  },
  state: {
    to: () => '',
    expected: () => 'exit 0',
    commands: (c, t) => [{ script: c.run, timeoutS: t.stateTimeoutS }],
    classify: (_c, [o]) => classifyState(o),
  },
};

export function planCheck(check: Check, t: ProbeTimeouts): ProbePlan {
  const spec = KINDS[check.kind] as KindSpec<Check> | undefined;
  if (!spec) throw new Error(`unknown check kind "${(check as { kind: string }).kind}"`);
  return {
    check,
    to: spec.to(check),
    expected: spec.expected(check),
    commands: spec.commands(check, t),
    classify: (outputs) => spec.classify(check, outputs),
  };
}

/** `to` and `expected` without building commands (for results of checks that never ran). */
export function describeCheck(check: Check): { to: string; expected: string } {
  const spec = KINDS[check.kind] as KindSpec<Check> | undefined;
  if (!spec) return { to: '', expected: 'PASS' };
  try {
    return { to: spec.to(check), expected: spec.expected(check) };
  } catch {
    return { to: '', expected: 'PASS' };
  }
}

// ---------------------------------------------------------------- batch script

/** Bytes of a probe's output kept (before base64): enough for dig/curl/ping, bounded for a chatty guard. */
export const OUTPUT_LIMIT = 16384;

export interface Batch {
  nonce: string;
  script: string;
  count: number;
  /** The longest probe limit: the batch's probes run in parallel. */
  maxTimeoutS: number;
}

export const newNonce = () => randomBytes(8).toString('hex');

/**
 * One bash script running every command in parallel, each under `timeout`, each printing
 * `@<nonce> {"id":i,"rc":..,"ms":..,"out":"<base64 stdout>","err":"<base64 stderr>"}`, then
 * `@<nonce> {"sentinel":n}` last.
 * Lines are collected in files and printed after `wait`, so parallel probes never interleave.
 */
export function buildBatch(commands: readonly ProbeCommand[], nonce = newNonce()): Batch {
  const lines = [
    'set -u',
    `N=${nonce}`,
    // Without a scratch dir the run cannot report: exit without the sentinel (→ ERROR).
    'd=$(mktemp -d) || exit 90',
    `trap 'rm -rf "$d"' EXIT`,
    // Milliseconds without a fork where bash has EPOCHREALTIME (bash 5+).
    'now() { if [ -n "${EPOCHREALTIME:-}" ]; then local x=${EPOCHREALTIME/[.,]/}; REPLY=$((10#$x / 1000)); else REPLY=$(date +%s%3N); fi; }',
    'p() {',
    '  local id=$1 lim=$2 s rc',
    '  now; s=$REPLY',
    '  timeout -k 1 "$lim" bash -c "$3" </dev/null >"$d/$id.out" 2>"$d/$id.err"; rc=$?',
    '  now',
    `  printf '@%s {"id":%s,"rc":%s,"ms":%s,"out":"%s","err":"%s"}\\n' "$N" "$id" "$rc" "$((REPLY - s))" "$(head -c ${OUTPUT_LIMIT} "$d/$id.out" | base64 -w0)" "$(head -c ${OUTPUT_LIMIT} "$d/$id.err" | base64 -w0)" >"$d/$id.line"`,
    '}',
    ...commands.map((c, i) => `p ${i} ${c.timeoutS} ${sq(c.script)} &`),
    'wait',
    'for f in "$d"/*.line; do [ -e "$f" ] && cat "$f"; done',
    `printf '@%s {"sentinel":%s}\\n' "$N" ${commands.length}`,
  ];
  return {
    nonce,
    script: `${lines.join('\n')}\n`,
    count: commands.length,
    maxTimeoutS: Math.max(0, ...commands.map((c) => c.timeoutS)),
  };
}

export type BatchParse =
  | { ok: true; outputs: (ProbeOutput | undefined)[] }
  | { ok: false; reason: string };

/**
 * Reads a batch run's stdout. Lines without this run's nonce are ignored (noise from the pod's
 * environment); a marked line that does not parse, or no sentinel, fails the whole run.
 */
export function parseBatch(stdout: string, batch: Pick<Batch, 'nonce' | 'count'>): BatchParse {
  const mark = `@${batch.nonce} `;
  const outputs: (ProbeOutput | undefined)[] = new Array(batch.count).fill(undefined);
  let sentinel = false;
  for (const line of stdout.split('\n')) {
    if (!line.startsWith(mark)) continue;
    let rec: unknown;
    try {
      rec = JSON.parse(line.slice(mark.length));
    } catch {
      return { ok: false, reason: `unparsable probe line: ${line.slice(0, 120)}` };
    }
    const r = rec as { id?: unknown; rc?: unknown; ms?: unknown; out?: unknown; err?: unknown; sentinel?: unknown };
    if (typeof r.sentinel === 'number') {
      if (r.sentinel !== batch.count) return { ok: false, reason: `sentinel counts ${r.sentinel} probes, expected ${batch.count}` };
      sentinel = true;
      continue;
    }
    if (sentinel) return { ok: false, reason: 'probe line after the sentinel' };
    if (typeof r.id !== 'number' || !Number.isInteger(r.id) || r.id < 0 || r.id >= batch.count
      || typeof r.rc !== 'number' || typeof r.ms !== 'number' || typeof r.out !== 'string' || typeof r.err !== 'string') {
      return { ok: false, reason: `malformed probe line: ${line.slice(0, 120)}` };
    }
    const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');
    outputs[r.id] = { rc: r.rc, ms: r.ms, out: decode(r.out), err: decode(r.err) };
  }
  if (!sentinel) return { ok: false, reason: 'the probe run ended without its sentinel line (killed or cut off)' };
  return { ok: true, outputs };
}
