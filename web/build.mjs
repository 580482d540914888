// Bundles the browser client; runs on install so a fresh clone serves a working page.
import { existsSync } from 'node:fs';
const entry = new URL('./client/main.ts', import.meta.url).pathname;
if (existsSync(entry)) {
  const { build } = await import('esbuild');
  await build({ entryPoints: [entry], bundle: true, minify: true, sourcemap: true, format: 'esm',
    outdir: new URL('./dist/', import.meta.url).pathname, loader: { '.css': 'css' }, logLevel: 'warning' });
}
