// Bundles the browser client (web/client/main.ts → web/dist/main.js + main.css, with xterm.js and its
// CSS); runs on install so a fresh clone serves a working page. `node web/build.mjs --watch` rebuilds on
// change. The bundle's inputs are listed beside it (meta.json), so the server can tell that a pull or an
// edit changed one since and rebuild before it serves a stale page.
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = fileURLToPath(new URL('./client/main.ts', import.meta.url));
const outdir = fileURLToPath(new URL('./dist/', import.meta.url));
const bundle = `${outdir}main.js`;
const meta = `${outdir}meta.json`;

const options = {
  entryPoints: [entry], bundle: true, minify: true, sourcemap: true, format: 'esm', target: ['chrome110', 'firefox115', 'safari16'],
  outdir, loader: { '.css': 'css' }, logLevel: 'warning', metafile: true, absWorkingDir: root,
};

/**
 * Each file is written beside its place and renamed over it: servers started at once (test files
 * run in parallel) may each rebuild a stale bundle while another one serves it, and a rename is
 * atomic where a rewrite in place lets a page load half a bundle.
 */
export async function buildClient() {
  const esbuild = await import('esbuild');
  const r = await esbuild.build({ ...options, write: false });
  mkdirSync(outdir, { recursive: true });
  const put = (path, contents) => {
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, contents);
    renameSync(tmp, path);
  };
  for (const f of r.outputFiles) put(f.path, f.contents);
  put(meta, JSON.stringify({ inputs: Object.keys(r.metafile.inputs).filter((f) => !f.includes('node_modules/')) }));
}

/** No bundle, no list of its inputs, or an input newer than the bundle (or gone). */
export function isStale(bundlePath, metaPath, base) {
  if (!existsSync(bundlePath) || !existsSync(metaPath)) return true;
  const built = statSync(bundlePath).mtimeMs;
  const { inputs } = JSON.parse(readFileSync(metaPath, 'utf8'));
  return inputs.some((f) => { const p = `${base}${f}`; return !existsSync(p) || statSync(p).mtimeMs > built; });
}

export const clientIsStale = () => isStale(bundle, meta, root);

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && existsSync(entry)) {
  if (process.argv.includes('--watch')) await (await (await import('esbuild')).context(options)).watch();
  else await buildClient();
}
