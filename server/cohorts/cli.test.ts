import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NETDOJO_BIN, type CliRun } from '../../test/support/cli.ts';
import { tempHome } from '../../test/support/env.ts';
import { SqliteStore } from '../store/store.ts';
import { linkSignIn, passwordSignIn } from './trainers.ts';

// `netdojo trainer`, run as an operator runs it: a real process on its own state directory, the
// password piped in.

function trainer(home: string, args: string[], stdin?: string): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [NETDOJO_BIN, 'trainer', ...args], { env: { ...process.env, NETDOJO_HOME: home, HOME: home } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
    child.stdin!.end(stdin ?? '');
  });
}

const LINK = /^http:\/\/127\.0\.0\.1:8080\/trainer\/login\/([A-Za-z0-9_-]{43})\n$/;

describe('netdojo trainer', () => {
  const home = tempHome();
  afterAll(() => home.remove());
  const store = () => new SqliteStore(join(home.dir, 'progress.db'));

  it('adds a trainer with a password from stdin and prints a one-time link; `link` replaces it', async () => {
    const add = await trainer(home.dir, ['add', 'ada', '--password-stdin'], 'correct horse\n');
    expect(add).toMatchObject({ code: 0, stderr: '' });
    const first = LINK.exec(add.stdout)![1];
    const s = store();
    expect((await passwordSignIn(s.cohorts, 'ada', 'correct horse'))?.name).toBe('ada');
    s.close();

    const link = await trainer(home.dir, ['link', 'ada', '--url', 'https://labs.example.com/']);
    expect(link.code).toBe(0);
    const second = /^https:\/\/labs\.example\.com\/trainer\/login\/([A-Za-z0-9_-]{43})\n$/.exec(link.stdout)![1];
    const onPort = await trainer(home.dir, ['link', 'ada', '--host', '0.0.0.0', '--port', '9090']);
    const third = /^http:\/\/127\.0\.0\.1:9090\/trainer\/login\/([A-Za-z0-9_-]{43})\n$/.exec(onPort.stdout)![1];
    const t = store();
    expect(linkSignIn(t.cohorts, first)).toBeNull();
    expect(linkSignIn(t.cohorts, second)).toBeNull();
    expect(linkSignIn(t.cohorts, third)?.name).toBe('ada');
    t.close();
  });

  it('says what is wrong and exits 1', async () => {
    await trainer(home.dir, ['add', 'bob']);
    expect(await trainer(home.dir, ['add', 'bob'])).toMatchObject({ code: 1, stderr: 'netdojo: there is already a trainer "bob" (netdojo trainer link bob gives them a new login link)\n' });
    expect((await trainer(home.dir, ['link', 'eve'])).stderr).toBe('netdojo: no trainer "eve" (netdojo trainer add eve makes one)\n');
    expect((await trainer(home.dir, ['add', 'Eve Smith'])).stderr).toMatch(/^netdojo: "Eve Smith" is not a trainer name: 1 to 32 of a-z/);
    expect((await trainer(home.dir, ['add', 'eve', '--password-stdin'], ''))).toMatchObject({ code: 1, stderr: 'netdojo: --password-stdin: standard input was empty\n' });
    expect((await trainer(home.dir, ['add', 'eve', '--password-stdin'], 'short'))).toMatchObject({ code: 1, stderr: 'netdojo: the password must have at least 8 characters\n' });
    expect((await trainer(home.dir, ['add', 'eve', '--url', 'ftp://x'])).stderr).toBe('netdojo: --url must be an http or https URL, got "ftp://x"\n');
    // Nothing was made by the failed attempts.
    expect((await trainer(home.dir, ['link', 'eve'])).code).toBe(1);
  });
});
