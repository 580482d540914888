import { appendFile, mkdtemp, rename, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from '../object.ts';
import { localSpawn } from './exec.ts';
import { formatTimestamp, parseLogQuery } from './logs.ts';
import { startStubApi, type StubApi } from './testing.ts';

const MINORS = ['1.30', '1.31', '1.32', '1.33'];
const LOG_PATH = '/api/v1/namespaces/default/pods/p/log';

let api: StubApi;
let dir: string;
let current: string;
let previous: string;
/** Ends the current follow, as the kubelet does when the container stops. */
let stopContainer: () => void;

beforeAll(async () => {
  api = await startStubApi({ spawn: localSpawn(() => ({ argv: [] })) });
  dir = await mkdtemp(path.join(tmpdir(), 'logs-test-'));
});
afterAll(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  current = path.join(dir, `c-${Math.random().toString(36).slice(2)}.log`);
  previous = `${current}.previous`;
  await writeFile(current, 'one\ntwo\nthree\n');
  api.config.logFiles = { current };
  api.config.logDone = new Promise((resolve) => { stopContainer = resolve; });
});

describe('parseLogQuery', () => {
  const parse = (query: string) => parseLogQuery(new URLSearchParams(query), 'p');
  const failure = (query: string) => {
    try { parse(query); } catch (err) { return err instanceof ApiError ? { code: err.code, message: err.message } : err; }
    throw new Error('no error');
  };

  it('reads every option', () => {
    expect(parse('container=c&follow=true&tailLines=2&limitBytes=10&sinceSeconds=5&timestamps=1&previous=false&insecureSkipTLSVerifyBackend=true')).toEqual({
      container: 'c', follow: true, previous: false, timestamps: true, tailLines: 2, limitBytes: 10, sinceSeconds: 5, sinceTime: undefined, insecureSkipTLSVerifyBackend: true,
    });
    expect(parse('sinceTime=2024-05-01T10:00:00Z').sinceTime).toEqual(new Date('2024-05-01T10:00:00Z'));
  });

  it('reports unparsable values as the query conversion does, and bad ones as validation does', () => {
    expect(failure('tailLines=abc')).toEqual({ code: 400, message: 'strconv.ParseInt: parsing "abc": invalid syntax' });
    expect(failure('limitBytes=99999999999999999999')).toEqual({ code: 400, message: 'strconv.ParseInt: parsing "99999999999999999999": value out of range' });
    expect(failure('sinceTime=yesterday')).toMatchObject({ code: 400, message: expect.stringMatching(/^parsing time "yesterday" as "2006-01-02T15:04:05Z07:00"/) });
    expect(failure('tailLines=-1')).toEqual({ code: 422, message: 'PodLogOptions "p" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0' });
    expect(failure('sinceSeconds=0&limitBytes=0')).toEqual({ code: 422, message: 'PodLogOptions "p" is invalid: [limitBytes: Invalid value: 0: must be greater than 0, sinceSeconds: Invalid value: 0: must be greater than 0]' });
  });
});

/** GETs the log endpoint; the body as it arrives, and its end. */
function fetchLog(query: string) {
  let body = '';
  const waiters: (() => void)[] = [];
  let status = 0;
  const ended = new Promise<void>((resolve, reject) => {
    get(`${api.url}${LOG_PATH}?${query}`, (res) => {
      status = res.statusCode!;
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; for (const w of waiters.splice(0)) w(); });
      res.on('end', () => resolve());
    }).on('error', reject);
  });
  const waitFor = (text: string) => new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${JSON.stringify(text)}; got ${JSON.stringify(body)}`)), 10_000);
    const check = () => { if (body.includes(text)) { clearTimeout(timer); resolve(); } else waiters.push(check); };
    check();
  });
  return { ended, waitFor, get body() { return body; }, get status() { return status; } };
}

const logOf = async (query: string) => { const r = fetchLog(query); await r.ended; return { status: r.status, body: r.body }; };

describe('streamLog', () => {
  it('tails lines as `tail -n` counts them, with or without a final newline', async () => {
    expect((await logOf('tailLines=2')).body).toBe('two\nthree\n');
    expect((await logOf('tailLines=0')).body).toBe('');
    expect((await logOf('tailLines=10')).body).toBe('one\ntwo\nthree\n');
    await appendFile(current, 'partial');
    expect((await logOf('tailLines=2')).body).toBe('three\npartial');
  });

  it('prefixes lines with the time (the file\'s for what it already holds) and counts limitBytes with it', async () => {
    const written = new Date('2024-05-01T10:00:00.123Z');
    await utimes(current, written, written);
    expect(formatTimestamp(written)).toBe('2024-05-01T10:00:00.123000000Z');
    expect((await logOf('timestamps=true&tailLines=1')).body).toBe('2024-05-01T10:00:00.123000000Z three\n');
    expect((await logOf('timestamps=true&limitBytes=40')).body).toBe('2024-05-01T10:00:00.123000000Z one\n2024-');
    expect((await logOf('sinceTime=2024-05-01T11:00:00Z')).body).toBe('');
    expect((await logOf('sinceTime=2024-05-01T09:00:00Z')).body).toBe('one\ntwo\nthree\n');
  });

  it('follows the file across truncation and rotation until the container stops', async () => {
    const r = fetchLog('follow=true');
    await r.waitFor('three\n');
    await appendFile(current, 'four\n');
    await r.waitFor('four\n');
    await truncate(current, 0);
    await appendFile(current, 'after truncation\n');
    await r.waitFor('after truncation\n');
    await rename(current, `${current}.1`);
    await writeFile(current, 'rotated\n');
    await r.waitFor('rotated\n');
    await appendFile(current, 'last words\n');
    stopContainer();
    await r.ended;
    expect(r.body).toBe('one\ntwo\nthree\nfour\nafter truncation\nrotated\nlast words\n');
  });

  it('waits for a log file that does not exist yet', async () => {
    await rm(current);
    const r = fetchLog('follow=true');
    await writeFile(current, 'started\n');
    await r.waitFor('started\n');
    stopContainer();
    await r.ended;
    expect(r.body).toBe('started\n');
  });

  it('reads the previous instance\'s file, and says so when there is none', async () => {
    await writeFile(previous, 'before the restart\n');
    api.config.logFiles = { current, previous };
    expect(await logOf('previous=true&follow=true')).toEqual({ status: 200, body: 'before the restart\n' });
    api.config.logFiles = { current };
    const missing = await logOf('previous=true');
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.body)).toMatchObject({ kind: 'Status', reason: 'BadRequest', message: 'previous terminated container "c" in pod "p" not found' });
  });
});

describe.each(MINORS)('kubectl %s logs', (minor) => {
  it('prints the log, and its tail', async () => {
    expect(await api.kubectl(minor, ['logs', 'p'])).toEqual({ exitCode: 0, stdout: 'one\ntwo\nthree', stderr: '' });
    expect(await api.kubectl(minor, ['logs', 'p', '--tail=2'])).toEqual({ exitCode: 0, stdout: 'two\nthree', stderr: '' });
  });

  it('-f streams what is appended and ends when the container stops', async () => {
    const { file, args } = api.kubectlArgv(minor, ['logs', '-f', 'p']);
    const child = execa(file, args, { reject: false, timeout: 30_000 });
    // One listener for the whole run: output that arrives between two waits is kept, not dropped.
    let out = '';
    const waiters: (() => void)[] = [];
    child.stdout!.on('data', (d: Buffer) => { out += d; for (const w of waiters.splice(0)) w(); });
    const seen = (text: string) => new Promise<void>((resolve) => {
      const check = () => { if (out.includes(text)) resolve(); else waiters.push(check); };
      check();
    });
    await seen('three\n');
    await appendFile(current, 'four\n');
    await seen('four\n');
    stopContainer();
    const r = await child;
    expect(r.exitCode).toBe(0);
    expect(out).toBe('one\ntwo\nthree\nfour\n');
  });

  it('--previous reads the previous instance, or fails as the API does', async () => {
    await writeFile(previous, 'crashed\n');
    api.config.logFiles = { current, previous };
    expect(await api.kubectl(minor, ['logs', 'p', '--previous'])).toEqual({ exitCode: 0, stdout: 'crashed', stderr: '' });
    api.config.logFiles = { current };
    expect(await api.kubectl(minor, ['logs', 'p', '--previous'])).toEqual({
      exitCode: 1, stdout: '', stderr: 'Error from server (BadRequest): previous terminated container "c" in pod "p" not found',
    });
  });
});
