import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCatalog, unprovenOn } from './load.ts';
import { KIND_PROOFS_FILE, loadKindProofs, recordKindProof } from './proofs.ts';

const dirs: string[] = [];
const dir = () => { const d = mkdtempSync(join(tmpdir(), 'netdojo-proofs-')); dirs.push(d); return d; };
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

describe('kind proofs', () => {
  it('proves nothing without the file, or with one that lists nothing', async () => {
    const d = dir();
    expect((await loadKindProofs(d, ['a'])).size).toBe(0);
    writeFileSync(join(d, KIND_PROOFS_FILE), '# nothing proven yet\n{}\n');
    expect((await loadKindProofs(d, ['a'])).size).toBe(0);
    expect(unprovenOn({ id: 'a', providers: ['netns', 'kind'] }, new Map())).toEqual(['kind']);
    expect(unprovenOn({ id: 'a', providers: ['netns'] }, new Map())).toEqual([]);
  });

  it('records a proof, keeping the comments and the other entries, and reads it back', async () => {
    const d = dir();
    writeFileSync(join(d, KIND_PROOFS_FILE), '# proofs on kind\n{}\n');
    await recordKindProof(d, 'coredns-down', { at: '2026-12-01', kind: 'kind v0.24.0 go1.22.6 linux/amd64', seeds: [1, 2, 3] });
    await recordKindProof(d, 'missing-route', { at: '2026-12-02', kind: 'kind v0.24.0', seeds: [4] });
    await recordKindProof(d, 'coredns-down', { at: '2026-12-03', kind: 'kind v0.25.0', seeds: [5] });
    const text = readFileSync(join(d, KIND_PROOFS_FILE), 'utf8');
    expect(text).toContain('# proofs on kind');
    const proofs = await loadKindProofs(d, ['coredns-down', 'missing-route']);
    expect(Object.fromEntries(proofs)).toEqual({
      'coredns-down': { at: '2026-12-03', kind: 'kind v0.25.0', seeds: [5] },
      'missing-route': { at: '2026-12-02', kind: 'kind v0.24.0', seeds: [4] },
    });
    expect(unprovenOn({ id: 'coredns-down', providers: ['netns', 'kind'] }, proofs)).toEqual([]);
  });

  it('names the line of a bad entry, and a scenario the catalog does not have', async () => {
    const d = dir();
    writeFileSync(join(d, KIND_PROOFS_FILE), 'coredns-down:\n  at: yesterday\n  kind: v0.24.0\n  seeds: [1]\ngone: { at: 2026-12-01, kind: v0.24.0, seeds: [1] }\n');
    await expect(loadKindProofs(d, ['coredns-down', 'gone'])).rejects.toThrow(/kind-proofs\.yaml:\n {2}- coredns-down\.at \(line 2\): a date, YYYY-MM-DD/);
    writeFileSync(join(d, KIND_PROOFS_FILE), 'gone: { at: 2026-12-01, kind: v0.24.0, seeds: [1] }\n');
    await expect(loadKindProofs(d, ['coredns-down'])).rejects.toThrow(/gone \(line 1\): no scenario "gone" in the catalog/);
    // In the catalog, a bad proofs file is one error among the scenarios', and proves nothing.
    const c = await loadCatalog(d);
    expect(c.errors.map((e) => e.message).join('\n')).toMatch(/no scenario "gone" in the catalog/);
    expect(c.kindProofs.size).toBe(0);
  });
});
