// Without WebGPU the lab runs burn's CPU backend inside the wasm module and draws with WebGL
// (egui's glow painter): in a paint worker on the canvas's OffscreenCanvas, or, where a Worker
// cannot have WebGL2, with eframe on the page. The lab says so once, with what the user can do:
// with navigator.gpu missing, with WebGPU present but giving no adapter, and without
// OffscreenCanvas. Pointer, keys and text reach the lab on both painters. (Launched without the
// WebGPU canvas flags, which turn WebGL2 off.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertCleanPage, canvasStats, launch, labServer, openLab, waitForFrames,
} from './helpers.mjs';

let server;
before(async () => { server = await labServer(); });
after(async () => { await server?.close(); });

const SCENARIOS = [
  {
    name: 'navigator.gpu missing (no WebGPU flags, the property deleted)',
    webgpu: false,
    initScript: () => { delete Navigator.prototype.gpu; },
    reason: /navigator\.gpu is missing/,
    renderer: 'webgl-worker',
  },
  {
    // Chromium without the WebGPU flags on a machine without a GPU: navigator.gpu exists but
    // requestAdapter() resolves to null, so burn's own initialization fails.
    name: 'WebGPU present but no adapter (Chromium without the WebGPU flags)',
    webgpu: false,
    reason: /WebGPU is present but unusable/,
    renderer: 'webgl-worker',
  },
  {
    name: 'no OffscreenCanvas either (eframe paints on the page)',
    webgpu: false,
    initScript: () => {
      delete Navigator.prototype.gpu;
      delete HTMLCanvasElement.prototype.transferControlToOffscreen;
    },
    reason: /navigator\.gpu is missing/,
    renderer: 'webgl',
  },
];

for (const scenario of SCENARIOS) {
  describe(scenario.name, () => {
    let browser, lab, state;
    before(async () => {
      browser = await launch({ webgpu: scenario.webgpu });
      lab = await openLab(browser, server.url, { initScript: scenario.initScript });
      state = await waitForFrames(lab.page, lab.watch);
    });
    after(async () => { await browser?.close(); });

    test('runs burn on the CPU and draws with WebGL', () => {
      assert.equal(state.backend, 'cpu', JSON.stringify(state));
      assert.match(state.adapter, /burn-flex/);
      assert.equal(state.renderer, scenario.renderer);
      assert.match(state.fallback_reason ?? '', scenario.reason);
    });

    test('the self-check computed the hand-worked results on the CPU', () => {
      assert.equal(state.self_check.ok, true, JSON.stringify(state.self_check));
      // The large matmul and sum: sizes where burn-flex would split work natively (the browser
      // build has no rayon; it runs on the page's one thread).
      assert.equal(state.self_check.large_ok, true);
      // No GPU, so no kernel check.
      assert.equal(state.self_check.kernel, null);
    });

    test('one notice says why and what to do; no banner, no toast', async () => {
      const notice = state.fallback_notice ?? '';
      assert.match(notice, /CPU/);
      assert.match(notice, scenario.reason);
      assert.match(notice, /browser with WebGPU/);
      assert.equal(await lab.page.locator('#sgdlab-banner').count(), 0);
      assert.deepEqual(state.notices, [], 'the fallback is not repeated as a toast');
    });

    test('the lab steps and the canvas is not blank', async () => {
      await lab.page.waitForFunction((s) => window.sgdlab.state().steps > s, state.steps, { timeout: 30_000 });
      const { distinct, dominantShare } = await canvasStats(lab.page);
      assert.ok(distinct >= 16, `only ${distinct} distinct colours`);
      assert.ok(dominantShare < 0.97, `one colour covers ${(100 * dominantShare).toFixed(1)}%`);
    });

    test('a seed typed into its field applies (pointer, keys and text reach the lab)', async () => {
      const { page } = lab;
      const before = await page.evaluate(() => window.sgdlab.state());
      const field = before.seed_field;
      assert.ok(field && field.w > 0, JSON.stringify(before.seed_field));
      const box = await page.locator('#lab-canvas').boundingBox();
      await page.mouse.click(box.x + field.x + field.w / 2, box.y + field.y + field.h / 2);
      // Let a pass give the field the focus before the keys arrive.
      await page.waitForFunction((f) => window.sgdlab.state().frames > f + 2, before.frames,
        { timeout: 30_000 });
      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.type('4242');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => window.sgdlab.state().seed === 4242, null, { timeout: 30_000 });
      assert.match((await page.evaluate(() => window.sgdlab.state())).fragment, /seed=4242/);
    });

    test('no console errors, no uncaught exceptions, no request off the origin', () => {
      assertCleanPage(lab.watch);
    });
  });
}

describe('a touch screen on the paint-worker path', () => {
  let browser, lab;
  before(async () => {
    browser = await launch({ webgpu: false });
    lab = await openLab(browser, `${server.url}#lab=smoothing`, {
      initScript: () => { delete Navigator.prototype.gpu; },
      hasTouch: true,
    });
    await waitForFrames(lab.page, lab.watch);
  });
  after(async () => { await browser?.close(); });

  test('a tap on a lab tab switches the lab', async () => {
    const { page } = lab;
    const state = await page.evaluate(() => window.sgdlab.state());
    assert.equal(state.renderer, 'webgl-worker');
    assert.equal(state.lab, 'smoothing');
    const tab = state.tabs.find((t) => t.lab === 'sharp-minima');
    const box = await page.locator('#lab-canvas').boundingBox();
    await page.touchscreen.tap(box.x + tab.x + tab.w / 2, box.y + tab.y + tab.h / 2);
    await page.waitForFunction(() => window.sgdlab.state().lab === 'sharp-minima',
      null, { timeout: 30_000, polling: 100 });
    assertCleanPage(lab.watch);
  });
});
