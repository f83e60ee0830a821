// What a first view downloads stays within web/size-budget.json (the sizes of the pre-compressed
// twins `sgdlab serve` sends: deterministic, so a fair test), and those twins are the files they
// stand for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { BUDGET, DEFAULT_DIST, FIRST_VIEW, firstViewSizes } from '../compress.mjs';

const budget = JSON.parse(await readFile(BUDGET, 'utf8'));

test('the first view is within its compressed size budget', async () => {
  const s = await firstViewSizes();
  const table = s.files.map((r) => `${r.name}: ${r.gzip}`).join(', ');
  assert.ok(s.wasm_gz_bytes <= budget.wasm_gzip_bytes,
    `.wasm ${s.wasm_gz_bytes} bytes gzipped > budget ${budget.wasm_gzip_bytes} (the budget is for web/build.sh's wasm-opt build, not --no-opt)`);
  assert.ok(s.first_view_gz_bytes <= budget.first_view_gzip_bytes,
    `first view ${s.first_view_gz_bytes} bytes gzipped > budget ${budget.first_view_gzip_bytes} (${table})`);
  assert.ok(s.first_view_br_bytes <= budget.first_view_brotli_bytes,
    `first view ${s.first_view_br_bytes} bytes brotli > budget ${budget.first_view_brotli_bytes}`);
});

test('the pre-compressed twins decompress to the files', async () => {
  for (const name of FIRST_VIEW) {
    const raw = await readFile(join(DEFAULT_DIST, name));
    const gz = gunzipSync(await readFile(join(DEFAULT_DIST, `${name}.gz`)));
    const br = brotliDecompressSync(await readFile(join(DEFAULT_DIST, `${name}.br`)));
    assert.ok(raw.equals(gz), `${name}.gz`);
    assert.ok(raw.equals(br), `${name}.br`);
  }
});
