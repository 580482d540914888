// pods/log as the kubelet serves it (through the API server), over plain-text log files: one file
// per container, plus the log of its previous instance. The files carry no timestamps, so a line's
// time is approximated: lines already in the file when the request arrives carry the file's
// modification time, lines appended while following carry the time they were read. Those times
// are what `timestamps=true` prints and what `sinceSeconds`/`sinceTime` filter on.

import { watch, type FSWatcher } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { badRequest, invalid } from '../object.ts';
import { queryBool } from './exec.ts';

export interface LogOptions {
  container?: string;
  follow: boolean;
  previous: boolean;
  timestamps: boolean;
  tailLines?: number;
  limitBytes?: number;
  sinceSeconds?: number;
  sinceTime?: Date;
  /** Accepted and ignored: there is no kubelet TLS to skip. */
  insecureSkipTLSVerifyBackend: boolean;
}

export interface LogFiles { current: string; previous?: string }

/** Whose log it is (for error messages) and where it lives. */
export interface LogSource { pod: string; container: string; files: LogFiles }

/** Integers as the API server's query conversion parses them (Go's strconv.ParseInt). */
function queryInt(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  if (!/^[+-]?\d+$/.test(v)) throw badRequest(`strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax`);
  const n = BigInt(v);
  if (n > 2n ** 63n - 1n || n < -(2n ** 63n)) throw badRequest(`strconv.ParseInt: parsing ${JSON.stringify(v)}: value out of range`);
  return Number(n);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** metav1.Time as a query parameter: RFC 3339; empty means unset. */
function queryTime(q: URLSearchParams, name: string): Date | undefined {
  const v = q.get(name);
  if (v === null || v === '' || v === 'null') return undefined;
  const t = RFC3339.test(v) ? new Date(v) : undefined;
  if (!t || Number.isNaN(t.getTime())) throw badRequest(`parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05Z07:00": cannot parse as RFC 3339`);
  return t;
}

/** Parses the pods/log query: unparsable values are 400 BadRequest (as the query conversion
 *  reports them), out-of-range ones 422 Invalid on PodLogOptions (as validation reports them). */
export function parseLogQuery(q: URLSearchParams, pod: string): LogOptions {
  const opts: LogOptions = {
    container: q.get('container') || undefined,
    follow: queryBool(q, 'follow'),
    previous: queryBool(q, 'previous'),
    timestamps: queryBool(q, 'timestamps'),
    tailLines: queryInt(q, 'tailLines'),
    limitBytes: queryInt(q, 'limitBytes'),
    sinceSeconds: queryInt(q, 'sinceSeconds'),
    sinceTime: queryTime(q, 'sinceTime'),
    insecureSkipTLSVerifyBackend: queryBool(q, 'insecureSkipTLSVerifyBackend'),
  };
  const causes: { field: string; message: string; reason?: string }[] = [];
  if (opts.tailLines !== undefined && opts.tailLines < 0) causes.push({ field: 'tailLines', message: `Invalid value: ${opts.tailLines}: must be greater than or equal to 0` });
  if (opts.limitBytes !== undefined && opts.limitBytes < 1) causes.push({ field: 'limitBytes', message: `Invalid value: ${opts.limitBytes}: must be greater than 0` });
  if (opts.sinceSeconds !== undefined && opts.sinceTime !== undefined) {
    causes.push({ field: '', message: 'Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified', reason: 'FieldValueForbidden' });
  } else if (opts.sinceSeconds !== undefined && opts.sinceSeconds < 1) {
    causes.push({ field: 'sinceSeconds', message: `Invalid value: ${opts.sinceSeconds}: must be greater than 0` });
  }
  if (causes.length) throw invalid('PodLogOptions', '', pod, causes);
  return opts;
}

/** Writes the log to `res` (text/plain). With `follow` it keeps reading the file as it grows (and
 *  across truncation or rotation) until the client goes away or `done` resolves: the container has
 *  stopped, and the kubelet ends a follow then. Rejects with an ApiError, before writing anything,
 *  when `previous` is asked of a container that has no previous instance. */
export async function streamLog(res: ServerResponse, source: LogSource, opts: LogOptions, done?: Promise<void>): Promise<void> {
  const file = opts.previous ? source.files.previous : source.files.current;
  if (file === undefined) throw badRequest(`previous terminated container "${source.container}" in pod "${source.pod}" not found`);
  // A previous instance has terminated: there is nothing to follow.
  const follow = opts.follow && !opts.previous;
  const since = opts.sinceTime ?? (opts.sinceSeconds !== undefined ? new Date(Date.now() - opts.sinceSeconds * 1000) : undefined);

  res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
  const out = new LogWriter(res, opts.timestamps, opts.limitBytes);
  const reader = new LogFileReader(file);
  try {
    const existing = await reader.openAtStart(opts.tailLines);
    if (existing && !(since && existing.mtime < since)) await reader.copyTo(out, existing.mtime);
    else await reader.skipToEnd();
    if (follow) await followFile(reader, out, done);
  } finally {
    await reader.close();
    if (!res.writableEnded) res.end();
  }
}

/** How often a follow looks at the file even without a change notification (a notification can be
 *  missed across rotation, or on file systems without inotify). */
const FOLLOW_POLL_MS = 1000;

async function followFile(reader: LogFileReader, out: LogWriter, done: Promise<void> | undefined) {
  let wake: () => void = () => {};
  let stopped = false;
  void done?.then(() => { stopped = true; wake(); });
  const watcher = watchFile(reader.file, () => wake());
  out.res.once('close', () => wake());
  try {
    while (!out.closed) {
      const woken = new Promise<void>((resolve) => { wake = resolve; });
      await reader.catchUp(out);
      if (stopped) break;
      const timer = setTimeout(() => wake(), FOLLOW_POLL_MS);
      await woken;
      clearTimeout(timer);
    }
    // `done` resolved: what the container wrote before stopping still belongs to the log.
    if (stopped && !out.closed) await reader.catchUp(out);
  } finally {
    watcher?.close();
  }
}

/** Watches the file's directory, so that a file created or renamed into place is seen too. */
function watchFile(file: string, onChange: () => void): FSWatcher | undefined {
  try {
    const name = path.basename(file);
    const w = watch(path.dirname(file), { persistent: false }, (_event, changed) => {
      if (changed === null || changed.toString() === name) onChange();
    });
    w.on('error', () => w.close());
    return w;
  } catch {
    return undefined; // the directory does not exist (yet): the poll covers it
  }
}

/** Reads one log file from an offset on, noticing truncation (copytruncate) and rotation (a new
 *  file under the same name). */
class LogFileReader {
  private fh: FileHandle | undefined;
  private ino = -1;
  private offset = 0;

  constructor(readonly file: string) {}

  /** Opens the file and positions at the start of its last `tailLines` lines (or its start).
   *  Returns the file's modification time, or undefined when it does not exist yet. */
  async openAtStart(tailLines: number | undefined): Promise<{ mtime: Date } | undefined> {
    if (!(await this.reopen())) return undefined;
    const s = await this.fh!.stat();
    this.offset = tailLines === undefined ? 0 : await tailStart(this.fh!, s.size, tailLines);
    return { mtime: s.mtime };
  }

  async skipToEnd() {
    if (this.fh) this.offset = (await this.fh.stat()).size;
  }

  /** Copies from the current offset to the end of the file. */
  async copyTo(out: LogWriter, time: Date) {
    if (!this.fh) return;
    const buf = Buffer.alloc(64 * 1024);
    while (!out.closed) {
      const { bytesRead } = await this.fh.read(buf, 0, buf.length, this.offset);
      if (bytesRead === 0) return;
      this.offset += bytesRead;
      await out.write(buf.subarray(0, bytesRead), time);
    }
  }

  /** Copies what was appended since the last read, following the name to a new file if it was rotated. */
  async catchUp(out: LogWriter) {
    const now = new Date();
    const current = await stat(this.file).catch(() => undefined);
    if (this.fh && current && current.ino !== this.ino) {
      await this.copyTo(out, now); // the rest of the rotated file
      await this.close();
    }
    if (!this.fh) {
      if (!current || !(await this.reopen())) return;
      this.offset = 0;
    }
    if ((await this.fh!.stat()).size < this.offset) this.offset = 0; // truncated in place
    await this.copyTo(out, now);
  }

  async close() {
    await this.fh?.close();
    this.fh = undefined;
  }

  private async reopen(): Promise<boolean> {
    try {
      this.fh = await open(this.file, 'r');
      this.ino = (await this.fh.stat()).ino;
      return true;
    } catch {
      return false;
    }
  }
}

/** The offset where the last `lines` lines start, as `tail -n` counts them: a final line without
 *  a newline counts as a line. Reads backwards from the end. */
async function tailStart(fh: FileHandle, size: number, lines: number): Promise<number> {
  if (lines === 0) return size;
  const chunk = Buffer.alloc(64 * 1024);
  let seen = 0;
  let end = size;
  let skipFinalNewline = true;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const { bytesRead } = await fh.read(chunk, 0, end - start, start);
    for (let i = bytesRead - 1; i >= 0; i--) {
      if (chunk[i] !== 0x0a) { skipFinalNewline = false; continue; }
      if (skipFinalNewline && start + i === size - 1) { skipFinalNewline = false; continue; }
      if (++seen === lines) return start + i + 1;
    }
    end = start;
  }
  return 0;
}

/** The kubelet's output format: with timestamps, each line starts with its time in RFC 3339 with
 *  nanoseconds (fixed width) and a space; limitBytes counts what is written, prefixes included, and
 *  cuts the last line short. */
class LogWriter {
  private atLineStart = true;
  private remaining: number;
  private clientGone = false;

  constructor(readonly res: ServerResponse, private readonly timestamps: boolean, limitBytes: number | undefined) {
    this.remaining = limitBytes ?? Infinity;
    res.once('close', () => { this.clientGone = true; });
  }

  /** limitBytes reached, or the client went away: nothing more will be written. */
  get closed() { return this.remaining <= 0 || this.clientGone; }

  async write(data: Buffer, time: Date) {
    const text = this.timestamps ? this.prefixLines(data, time) : data;
    const cut = text.length > this.remaining ? text.subarray(0, this.remaining) : text;
    this.remaining -= cut.length;
    if (cut.length === 0 || this.clientGone) return;
    if (!this.res.write(cut)) {
      await new Promise<void>((resolve) => {
        const settle = () => { this.res.off('drain', settle); this.res.off('close', settle); resolve(); };
        this.res.on('drain', settle).on('close', settle);
      });
    }
  }

  private prefixLines(data: Buffer, time: Date): Buffer {
    const prefix = Buffer.from(`${formatTimestamp(time)} `);
    const parts: Buffer[] = [];
    let from = 0;
    while (from < data.length) {
      if (this.atLineStart) parts.push(prefix);
      const nl = data.indexOf(0x0a, from);
      const to = nl < 0 ? data.length : nl + 1;
      parts.push(data.subarray(from, to));
      this.atLineStart = nl >= 0;
      from = to;
    }
    return Buffer.concat(parts);
  }
}

/** RFC3339NanoFixed in UTC: 2024-05-01T10:00:00.123000000Z. */
export const formatTimestamp = (t: Date) => t.toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');
