// The lab on WebGPU (SwiftShader): the WGSL kernels and eframe share one device, the startup
// self-check computes the hand-worked gradient with burn (on its CPU backend, where burn runs in a
// browser) and checks the particle kernel on the GPU against the CPU stepper, the lab steps, the
// canvas shows something, and the page stays quiet (no console errors, no request off the
// page's origin).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertCleanPage, canvasStats, launch, labServer, openLab, waitForFrames,
} from './helpers.mjs';

let server, browser, lab, first;

before(async () => {
  server = await labServer();
  browser = await launch({ webgpu: true });
  lab = await openLab(browser, server.url);
  first = await waitForFrames(lab.page, lab.watch);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test('reports the kernels on WebGPU with the SwiftShader adapter, rendering on the same device', () => {
  assert.equal(first.backend, 'wgpu', JSON.stringify(first));
  assert.match(first.adapter, /swiftshader/i);
  assert.equal(first.renderer, 'webgpu');
  assert.equal(first.fallback_reason, null);
});

test('the startup self-check: burn\'s hand-worked gradient, and the particle kernel on the GPU agreeing with the CPU stepper', () => {
  const c = first.self_check;
  assert.equal(c.ok, true, JSON.stringify(c));
  assert.equal(c.value, 54);
  assert.deepEqual(c.grad, [7, 11, 9, 13]);
  assert.equal(c.large_ok, true);
  // 1,024 particles, 64 steps of the sharp-minima lab's dynamics: at least 99% agree.
  assert.equal(c.kernel.particles, 1024, JSON.stringify(c.kernel));
  assert.equal(c.kernel.steps, 64);
  assert.ok(c.kernel.agree * 100 >= c.kernel.particles * 99, JSON.stringify(c.kernel));
  assert.equal(c.kernel.ok, true);
});

test('the hook reports a lab that steps and records its first frame', async () => {
  assert.equal(typeof first.seed, 'number');
  assert.equal(typeof first.params, 'object');
  assert.ok(first.compute_ready_ms > 0, `compute_ready_ms ${first.compute_ready_ms}`);
  // The first frame no longer waits for the device's self-check (web/tests/startup.test.mjs).
  assert.ok(first.first_frame_ms > 0, JSON.stringify(first));
  await lab.page.waitForFunction((s) => window.sgdlab.state().steps > s, first.steps, { timeout: 30_000 });
  const later = await lab.page.evaluate(() => window.sgdlab.state());
  assert.ok(later.frames > first.frames);
  assert.equal(typeof later.metrics, 'object');
  // Read-only: changing the returned object changes nothing in the page.
  const steps = await lab.page.evaluate(() => {
    const s = window.sgdlab.state();
    s.steps = -1;
    return window.sgdlab.state().steps;
  });
  assert.ok(steps >= later.steps);
});

test('the loading screen is gone, no banner, no error page', async () => {
  const { page } = lab;
  assert.equal(await page.locator('#loading').isVisible(), false);
  assert.equal(await page.locator('#error').isVisible(), false);
  assert.equal(await page.locator('#sgdlab-banner').count(), 0);
  assert.equal(first.fallback_notice, null);
});

test('the canvas is not blank', async () => {
  const { png, distinct, dominantShare } = await canvasStats(lab.page);
  assert.ok(png.width > 500 && png.height > 400, `canvas ${png.width}x${png.height}`);
  assert.ok(distinct >= 16, `only ${distinct} distinct colours`);
  assert.ok(dominantShare < 0.97, `one colour covers ${(100 * dominantShare).toFixed(1)}%`);
});

test('no console errors, no uncaught exceptions, no request off the origin', () => {
  assertCleanPage(lab.watch);
});
