import { spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensurePki } from './pki.ts';

const noOpenssl = spawnSync('sh', ['-c', 'command -v openssl']).status === 0 ? null : 'the PKI test needs openssl on PATH';
if (noOpenssl) console.warn(`skipping: ${noOpenssl}`);

describe.skipIf(!!noOpenssl)('API server PKI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netdojo-pki-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('callers racing on a fresh state directory all get the one published set, whose key matches its certificate', async () => {
    const sets = await Promise.all(Array.from({ length: 6 }, () => ensurePki(dir)));
    expect(new Set(sets.map((s) => s.key)).size).toBe(1);
    expect(new Set(sets.map((s) => s.cert)).size).toBe(1);
    const cert = new X509Certificate(sets[0].cert);
    expect(cert.checkPrivateKey(createPrivateKey(sets[0].key))).toBe(true);
    expect(cert.verify(new X509Certificate(sets[0].caCert).publicKey)).toBe(true);
    expect(readdirSync(join(dir, 'pki')).sort()).toEqual(['apiserver.crt', 'apiserver.key', 'ca.crt', 'ca.key']);
    expect(await ensurePki(dir)).toEqual(sets[0]);
  });
});
