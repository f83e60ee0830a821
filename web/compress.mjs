// Pre-compresses web/dist for `sgdlab serve` and measures what a first view downloads.
//   node web/compress.mjs [DIR]   writes FILE.gz (zopfli: gzip that any gzip reader takes, ~5%
//                                 smaller than zlib -9) and FILE.br (brotli 11) beside every
//                                 compressible file of DIR (default web/dist), prints the sizes
// Also a module: `firstViewSizes(dir)` is what web/tests/size.test.mjs checks against
// web/size-budget.json and what web/bench.mjs reports: the sizes of those twins, the bytes
// `sgdlab serve` sends. Both compressors are deterministic (zopfli's gzip header has mtime 0),
// so the sizes are the same on every build of the same bytes.
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';
import { gzipAsync } from '@gfx/zopfli';

export const DEFAULT_DIST = resolve(fileURLToPath(new URL('./dist', import.meta.url)));
export const BUDGET = resolve(fileURLToPath(new URL('./size-budget.json', import.meta.url)));

// What the first view downloads: the page, its style and scripts, the .wasm and the fonts the
// first frame needs (web/static/loader.js: FONT_URLS), and on the CPU fallback the paint
// worker's script. The symbol font and the data come later.
export const FIRST_VIEW = [
  'index.html', 'style.css', 'loader.js', 'painter.js', 'sgdlab_web.js', 'sgdlab_web_bg.wasm',
  'fonts/Ubuntu-Light.ttf', 'fonts/egui-icons.ttf',
];

// Already compressed (the MNIST files are gzipped IDX): served as they are.
const COMPRESSIBLE = /\.(html|css|js|mjs|wasm|ttf|json|svg)$/;

// Zopfli's iterations: 15 (its default) for small files; 1 above 1 MB, where 15 would take
// minutes for the .wasm and gain ~0.5% more.
export const gzip = async (bytes) =>
  Buffer.from(await gzipAsync(bytes, { numiterations: bytes.length > 1e6 ? 1 : 15 }));
export const brotli = (bytes) => brotliCompressSync(bytes, {
  params: {
    [constants.BROTLI_PARAM_QUALITY]: 11,
    [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
  },
});

async function files(dir) {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath ?? entry.path, entry.name));
  }
  return out.sort();
}

// Raw bytes of the first view's files and of their .gz and .br twins (written by `main`), and
// their sums. Fails when a twin is missing: the sizes are those of the bytes served.
export async function firstViewSizes(dir = DEFAULT_DIST) {
  const rows = [];
  const size = async (name) => (await stat(join(dir, name)).catch(() => {
    throw new Error(`${join(dir, name)} is missing: run web/build.sh (or node web/compress.mjs)`);
  })).size;
  for (const name of FIRST_VIEW) {
    rows.push({ name, raw: await size(name), gzip: await size(`${name}.gz`), brotli: await size(`${name}.br`) });
  }
  const sum = (k) => rows.reduce((a, r) => a + r[k], 0);
  const wasm = rows.find((r) => r.name === 'sgdlab_web_bg.wasm');
  return {
    files: rows,
    wasm_bytes: wasm.raw,
    wasm_gz_bytes: wasm.gzip,
    wasm_br_bytes: wasm.brotli,
    first_view_bytes: sum('raw'),
    first_view_gz_bytes: sum('gzip'),
    first_view_br_bytes: sum('brotli'),
  };
}

async function main() {
  const dir = resolve(process.argv[2] ?? DEFAULT_DIST);
  for (const file of await files(dir)) {
    if (!COMPRESSIBLE.test(file)) continue;
    const bytes = await readFile(file);
    await writeFile(`${file}.gz`, await gzip(bytes));
    await writeFile(`${file}.br`, brotli(bytes));
  }
  const sizes = await firstViewSizes(dir);
  const budget = JSON.parse(await readFile(BUDGET, 'utf8'));
  for (const r of sizes.files) {
    console.log(`${r.name.padEnd(24)} ${String(r.raw).padStart(10)} raw ${String(r.gzip).padStart(9)} gzip ${String(r.brotli).padStart(9)} brotli`);
  }
  console.log(`first view: ${sizes.first_view_bytes} raw, ${sizes.first_view_gz_bytes} gzip ` +
    `(budget ${budget.first_view_gzip_bytes}), ${sizes.first_view_br_bytes} brotli ` +
    `(budget ${budget.first_view_brotli_bytes}); ` +
    `.wasm ${sizes.wasm_gz_bytes} gzip (budget ${budget.wasm_gzip_bytes}) in ${relative(process.cwd(), dir) || '.'}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
