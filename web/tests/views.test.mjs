// The three headline views in a real browser (WebGPU on SwiftShader): each runs and its metrics
// move as the paper predicts; the sharp-minima run matches the native CPU reference.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  assertCleanPage, canvasStats, launch, labServer, openLab, waitForFrames,
} from './helpers.mjs';

const FIXTURE = JSON.parse(await readFile(new URL('./fixtures/sharp-minima.json', import.meta.url)));
const RUN_TIMEOUT_MS = Number(process.env.SGDLAB_RUN_TIMEOUT_MS ?? 240_000);

let server, browser;
before(async () => {
  server = await labServer();
  browser = await launch({ webgpu: true });
});
after(async () => {
  await browser?.close();
  await server?.close();
});

async function open(fragment) {
  const lab = await openLab(browser, `${server.url}#${fragment}`);
  const first = await waitForFrames(lab.page, lab.watch);
  return { ...lab, first };
}

async function until(page, predicate, arg) {
  await page.waitForFunction(predicate, arg, { timeout: RUN_TIMEOUT_MS, polling: 250 });
  return page.evaluate(() => window.sgdlab.state());
}

test('sharp minima: with truncation and small η the sharp well empties', async () => {
  const { context, page, watch, first } = await open('lab=sharp-minima&seed=0&particles=4096&speed=50&stop_at=2000');
  try {
    assert.equal(first.lab, 'sharp-minima');
    assert.equal(first.backend, 'wgpu', JSON.stringify(first));
    const s = await until(page, () => window.sgdlab.state().metrics.stats_steps >= 2000);
    assert.equal(s.metrics.initial_sharp_share, 0.5);
    assert.ok(s.metrics.sharp_share < 0.1, `sharp share ${s.metrics.sharp_share} after 2000 steps`);
    assert.ok(s.metrics.wide_share > 0.85, `wide share ${s.metrics.wide_share}`);
    const { distinct, dominantShare } = await canvasStats(page);
    assert.ok(distinct >= 64 && dominantShare < 0.9, `${distinct} colours, ${dominantShare}`);
    assertCleanPage(watch, { offOrigin: false });
  } finally {
    await context.close();
  }
});

test('sharp minima on WebGPU agrees with the native CPU reference', async () => {
  const { context, page } = await open(FIXTURE.link);
  try {
    const s = await until(page, (n) => window.sgdlab.state().metrics.stats_steps >= n, FIXTURE.stop_at);
    assert.equal(s.metrics.stats_steps, FIXTURE.stop_at);
    const d = Math.abs(s.metrics.sharp_share - FIXTURE.native_cpu.sharp_share);
    assert.ok(d <= FIXTURE.tolerance_share, `WebGPU ${s.metrics.sharp_share} vs native ${FIXTURE.native_cpu.sharp_share}`);
  } finally {
    await context.close();
  }
});

test('smoothing: particles gather in the global basin of the spiky bowl', async () => {
  const { context, page, first } = await open('lab=smoothing&seed=0&particles=4096&speed=8');
  try {
    assert.equal(first.lab, 'smoothing');
    const s = await until(page, () => window.sgdlab.state().metrics.sgd_steps >= 600);
    const m = s.metrics;
    assert.ok(m.initial_frac_global_basin < 0.05, JSON.stringify(m));
    assert.ok(m.frac_global_basin > 0.25, JSON.stringify(m));
  } finally {
    await context.close();
  }
});

test('random labels: phase A learns nothing true; phase B from scratch generalizes', async () => {
  const { context, page, first } = await open('lab=random-labels&seed=0&random_epochs=30&true_epochs=15');
  try {
    assert.equal(first.lab, 'random-labels');
    const a = await until(page, () => {
      const m = window.sgdlab.state().metrics;
      return m.phase === 'A' && m.epoch >= 20;
    });
    // Random labels carry no information about the true ones: test accuracy near chance.
    assert.ok(a.metrics.pre_test_acc < 0.8, JSON.stringify(a.metrics));
    const b = await until(page, () => window.sgdlab.state().done === true);
    assert.equal(b.metrics.phase, 'B');
    assert.ok(b.metrics.scratch_test_acc > 0.9, JSON.stringify(b.metrics));
    assert.ok(b.metrics.pre_train_acc > 0.9, JSON.stringify(b.metrics));
  } finally {
    await context.close();
  }
});
