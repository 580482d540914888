import { join } from 'node:path';
import { LabError } from '../lab/types.ts';
import { stateDir } from '../lab/naming.ts';
import { SqliteStore } from '../store/store.ts';
import { TrainerError } from './trainers.ts';

// What `netdojo trainer` needs beyond the accounts themselves: the server's database, the address
// a login link points at, and a password from standard input.

/** The progress database `netdojo serve` uses (the same state directory). */
export function openTrainerStore(): SqliteStore {
  return new SqliteStore(join(stateDir(), 'progress.db'));
}

/** Where the server is reached: --url, else the host and port it serves on. */
export function linkBase(o: { host: string; port: string; url?: string }): string {
  if (o.url !== undefined) {
    let u: URL;
    try { u = new URL(o.url); } catch { throw new LabError(`--url must be an http or https URL, got "${o.url}"`); }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new LabError(`--url must be an http or https URL, got "${o.url}"`);
    return u.href.replace(/\/+$/, '');
  }
  const port = Number(o.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new LabError(`--port must be 1..65535, got "${o.port}"`);
  const host = o.host === '0.0.0.0' ? '127.0.0.1' : o.host.includes(':') ? `[${o.host}]` : o.host;
  return `http://${host}:${port}`;
}

/** The whole of standard input, without the line end a pipe or `echo` adds. */
export async function readPassword(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of input) chunks.push(Buffer.from(c as Buffer));
  const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (!password) throw new TrainerError('--password-stdin: standard input was empty');
  return password;
}
