import { basename } from 'node:path';
import { LabError } from '../../lab/types.ts';
import { labHelper } from './helper.ts';
import { netnsProvider } from './index.ts';
import { INSIDE_ENV } from './lab.ts';

/** `lab ...` as typed in a lab shell: finds its own lab from the environment the shell was given. */
export async function runLabHelper(args: string[]): Promise<number> {
  const dir = process.env[INSIDE_ENV];
  try {
    if (!dir) throw new LabError('the lab helper runs inside a lab: open a lab shell (netdojo shell <lab>) or use `netdojo exec <lab> admin -- lab ...`');
    const lab = await netnsProvider.open(basename(dir));
    return await labHelper(lab, args, (s) => process.stdout.write(`${s}\n`));
  } catch (e) {
    if (!(e instanceof LabError)) throw e;
    process.stderr.write(`lab: ${e.message}\n${e.hint ? `  (${e.hint})\n` : ''}`);
    return 1;
  }
}
