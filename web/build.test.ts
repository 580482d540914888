import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module script without types
import { isStale } from './build.mjs';

const dir = mkdtempSync(join(tmpdir(), 'netdojo-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the client bundle', () => {
  it('is stale without a bundle or its inputs list, when an input is newer than it, or gone', () => {
    mkdirSync(join(dir, 'web/client'), { recursive: true });
    mkdirSync(join(dir, 'dist'));
    const [bundle, meta, src] = [join(dir, 'dist/main.js'), join(dir, 'dist/meta.json'), join(dir, 'web/client/main.ts')];
    writeFileSync(src, 'export {}');
    expect(isStale(bundle, meta, `${dir}/`)).toBe(true);
    writeFileSync(bundle, '');
    expect(isStale(bundle, meta, `${dir}/`)).toBe(true);
    writeFileSync(meta, JSON.stringify({ inputs: ['web/client/main.ts'] }));
    utimesSync(src, 1000, 1000);
    utimesSync(bundle, 2000, 2000);
    expect(isStale(bundle, meta, `${dir}/`)).toBe(false);
    utimesSync(src, 3000, 3000); // a pull or an edit after the build
    expect(isStale(bundle, meta, `${dir}/`)).toBe(true);
    utimesSync(bundle, 4000, 4000);
    expect(isStale(bundle, meta, `${dir}/`)).toBe(false);
    rmSync(src);
    expect(isStale(bundle, meta, `${dir}/`)).toBe(true);
  });
});
