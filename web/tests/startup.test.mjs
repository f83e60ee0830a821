// The lab draws and takes input before its compute device is ready, on both paths: with
// `?hold-compute` the device's self-check waits for `window.sgdlab.releaseCompute()`, so the
// test acts while the device is certainly still starting (no race with a fast start).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanPage, launch, labServer, openLab } from './helpers.mjs';

let server;
before(async () => { server = await labServer(); });
after(async () => { await server?.close(); });

const PATHS = [
  { name: 'WebGPU', webgpu: true, backend: 'wgpu' },
  { name: 'the CPU fallback', webgpu: false, backend: 'cpu', initScript: () => { delete Navigator.prototype.gpu; } },
];

for (const path of PATHS) {
  describe(`before the compute device is ready (${path.name})`, () => {
    let browser, lab;
    before(async () => {
      browser = await launch({ webgpu: path.webgpu });
      const url = new URL(server.url);
      url.search = '?hold-compute';
      url.hash = 'lab=smoothing';
      lab = await openLab(browser, url.href, { initScript: path.initScript });
    });
    after(async () => { await browser?.close(); });

    test('a click on a lab tab switches the lab; releasing the device starts it', async () => {
      const { page } = lab;
      // Laid out (tabs) and drawn (first_frame_ms: with a paint worker, once it has painted).
      await page.waitForFunction(() => (window.sgdlab?.state?.()?.tabs?.length ?? 0) > 0
        && window.sgdlab.state().first_frame_ms > 0, null, { timeout: 180_000, polling: 100 });
      const held = await page.evaluate(() => window.sgdlab.state());
      assert.equal(held.compute_ready, false, JSON.stringify(held));
      assert.equal(held.lab, 'smoothing');
      assert.equal(held.backend, path.backend);
      assert.ok(held.first_frame_ms > 0 && held.compute_ready_ms === null, JSON.stringify(held));
      assert.equal(await page.locator('#loading').isVisible(), false, 'the loading overlay is gone');

      const tab = held.tabs.find((t) => t.lab === 'sharp-minima');
      const box = await page.locator('#lab-canvas').boundingBox();
      await page.mouse.click(box.x + tab.x + tab.w / 2, box.y + tab.y + tab.h / 2);
      await page.waitForFunction(() => window.sgdlab.state().lab === 'sharp-minima',
        null, { timeout: 30_000, polling: 100 });
      const switched = await page.evaluate(() => window.sgdlab.state());
      assert.equal(switched.compute_ready, false, 'the device was still held when the tab switched');
      assert.match(switched.fragment, /lab=sharp-minima/);

      await page.evaluate(() => window.sgdlab.releaseCompute());
      await page.waitForFunction(() => window.sgdlab.state().compute_ready && window.sgdlab.state().steps > 0,
        null, { timeout: 180_000, polling: 250 });
      const running = await page.evaluate(() => window.sgdlab.state());
      assert.equal(running.lab, 'sharp-minima');
      assert.equal(running.self_check.ok, true, JSON.stringify(running.self_check));
      assert.ok(running.compute_ready_ms > running.first_frame_ms, JSON.stringify(running));
      assertCleanPage(lab.watch);
    });
  });
}
