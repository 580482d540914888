import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labsUnavailable } from '../../../test/support/env.ts';
import { SandboxShell } from './runtime.ts';
import { LAB_PATH, startSandbox, stopSandbox, type SandboxHandle } from './sandbox.ts';

const why = labsUnavailable();

describe.skipIf(why)(`the sandbox shell${why ? ` (skipped: ${why})` : ''}`, () => {
  let dir: string;
  let sandbox: SandboxHandle;
  let shell: SandboxShell;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'netdojo-shell-'));
    sandbox = await startSandbox(dir, process.getuid?.() === 0 ? { none: true } : { caller: true });
    shell = new SandboxShell(dir, sandbox, false, { PATH: LAB_PATH }, 5_000);
  });
  afterAll(async () => {
    shell?.close();
    if (sandbox) await stopSandbox(sandbox);
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs scripts side by side, each with its own output and exit code', async () => {
    const scripts = Array.from({ length: 30 }, (_, i) => i === 7 ? 'echo partial; exit 3' : i === 9 ? 'false; echo never' : `sleep 0.0$((${i} % 5)); seq ${i} ${i + 200} | tr '\\n' ' '`);
    const results = await Promise.all(scripts.map((s) => shell.run(s)));
    results.forEach((r, i) => {
      if (i === 7) expect(r).toMatchObject({ code: 3, stdout: 'partial\n' });
      else if (i === 9) expect(r).toMatchObject({ code: 1, stdout: '' }); // set -e: the first failure ends it
      else expect(r).toMatchObject({ code: 0, stdout: Array.from({ length: 201 }, (_, k) => i + k).join(' ') + ' ' });
    });
    // Nothing is left behind in the lab's directory once the scripts are done.
    expect(readdirSync(join(dir, 'run', 'shell'))).toEqual([]);
  });

  it('runs inside the sandbox, not on the host', async () => {
    const r = await shell.run('cat /proc/1/cmdline | tr "\\0" " "; echo; ip -o link show | wc -l');
    expect(r.stdout).toContain('netdojo-lab:');
    expect(r.stdout.trim().split('\n').at(-1)).toBe('1'); // only the sandbox's loopback
  });

  it('keeps a script from signalling the shell, other scripts or the process that runs it', async () => {
    const other = shell.run('sleep 0.3; echo other');
    expect(await shell.run('kill -TERM 0')).toMatchObject({ code: 143 });
    expect(await other).toMatchObject({ code: 0, stdout: 'other\n' });
    expect(await shell.run('echo still here')).toMatchObject({ code: 0, stdout: 'still here\n' });
  });

  it('starts again after its shell is killed; what was running fails with a message', async () => {
    // $$ in a script is the shell's PID (in the sandbox's PID namespace, where the script runs).
    const long = shell.run('sleep 30');
    await shell.run('kill -9 $$');
    expect(await long).toMatchObject({ code: 1, stderr: expect.stringContaining('sandbox shell exited') });
    expect(await shell.run('echo back')).toMatchObject({ code: 0, stdout: 'back\n' });
  });

  it('does not make the lab directory again once the lab is removed', async () => {
    const gone = join(dir, 'removed-lab');
    const orphan = new SandboxShell(gone, sandbox, false, { PATH: LAB_PATH });
    expect(await orphan.run('true')).toMatchObject({ code: 1, stderr: expect.stringContaining("the lab's directory is gone") });
    expect(existsSync(gone)).toBe(false);
  });

  it('gives up on a script that runs past its timeout', async () => {
    const quick = new SandboxShell(dir, sandbox, false, { PATH: LAB_PATH }, 300);
    try {
      expect(await quick.run('sleep 5')).toMatchObject({ code: 124, timedOut: true });
    } finally {
      quick.close();
    }
  });
});
