// Bundles the browser client (web/client/main.ts → web/dist/main.js + main.css, with xterm.js and its
// CSS); runs on install so a fresh clone serves a working page. `node web/build.mjs --watch` rebuilds on change.
import { existsSync } from 'node:fs';
const entry = new URL('./client/main.ts', import.meta.url).pathname;
if (existsSync(entry)) {
  const esbuild = await import('esbuild');
  const options = {
    entryPoints: [entry], bundle: true, minify: true, sourcemap: true, format: 'esm', target: ['chrome110', 'firefox115', 'safari16'],
    outdir: new URL('./dist/', import.meta.url).pathname, loader: { '.css': 'css' }, logLevel: 'warning',
  };
  if (process.argv.includes('--watch')) await (await esbuild.context(options)).watch();
  else await esbuild.build(options);
}
