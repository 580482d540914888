// The real kubectl against a recording stub: what each generator command POSTs (protobuf from 1.32 on,
// JSON before), decoded, must be exactly what the same command prints with `--dry-run=client -o json`.

import { existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KUBE_PROTOBUF } from './decode.ts';
import { BINARY_FILE_CONTENT, GENERATOR_COMMANDS, runGenerator, type KubectlRun } from './kubectl-commands.ts';
import { startKubectlStub } from './kubectl-stub.ts';

const dispatcher = (process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'kubectl')).find(existsSync);
const binDir = dispatcher && dirname(realpathSync(dispatcher));
/** The dispatcher runs kubectl 1.33, the minor the stub's /version names; older minors by path. */
const CLIENTS = !binDir ? [] : [
  { minor: 33, bin: dispatcher! },
  ...[32, 31, 30].map((minor) => ({ minor, bin: join(binDir, `kubectl.1.${minor}`) })).filter((c) => existsSync(c.bin)),
];

const scratch = mkdtempSync(join(tmpdir(), 'netdojo-protobuf-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe.skipIf(!CLIENTS.length)('kubectl generator commands', () => {
  it.concurrent.each(CLIENTS)('kubectl 1.$minor sends what --dry-run=client -o json prints', async ({ minor, bin }) => {
    const stub = await startKubectlStub();
    const scratchDir = mkdtempSync(join(scratch, `1.${minor}-`));
    const binaryFile = join(scratchDir, 'blob.bin');
    writeFileSync(binaryFile, BINARY_FILE_CONTENT);
    const run: KubectlRun = { bin, server: stub.url, scratchDir, binaryFile };
    try {
      for (const command of GENERATOR_COMMANDS) {
        const before = stub.requests.length;
        // A dry run only reads (GETs are not recorded), so both can run at once.
        const [, printed] = await Promise.all([runGenerator(run, command, false), command.dryRun ? runGenerator(run, command, true) : undefined]);
        const sent = stub.requests.slice(before);
        expect(sent.map((r) => r.method), command.name).toEqual(['POST']);
        const expectedType = command.protobufSince !== undefined && minor >= command.protobufSince ? KUBE_PROTOBUF : 'application/json';
        expect(sent[0].contentType, command.name).toBe(expectedType);
        if (printed !== undefined) {
          expect(sent[0].object, command.name).toEqual(JSON.parse(printed));
        } else {
          // `create token`: an empty TokenRequest (JSON clients write its nil fields as nulls).
          expect(withoutNulls(sent[0].object), command.name).toEqual({
            kind: 'TokenRequest', apiVersion: 'authentication.k8s.io/v1', metadata: {}, spec: {}, status: { token: '' },
          });
        }
      }
    } finally {
      await stub.close();
    }
  });
});

function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, withoutNulls(v)]));
}
