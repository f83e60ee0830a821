// Shared setup of the browser tests and the benchmark: Debian's chromium driven by
// playwright-core (no browser download), the lab served from web/dist, and what a test watches
// on a page (console errors, uncaught exceptions, requests that leave the origin).
import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { colourStats, decodePng } from './png.mjs';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const DIST = resolve(fileURLToPath(new URL('../dist', import.meta.url)));

// Without the networking flags Chromium calls Google's hosts, which this machine's closed
// network refuses (many at a time).
export const BASE_FLAGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  // WebGL on SwiftShader (the CPU fallback's renderer) where there is no GPU.
  '--enable-unsafe-swiftshader',
];
// WebGPU on SwiftShader: what the lab's main path runs on in CI. The Vulkan/ANGLE flags are
// for the canvas: without them headless Chromium 156 computes on WebGPU but cannot create the
// canvas's swap-chain image ("Could not find SharedImageBackingFactory ... WebgpuSwapChainTexture")
// and loses the device ~100 ms after the first present, even on a plain JS page. With them,
// WebGL2 is unavailable, so the fallback tests launch without them.
export const WEBGPU_FLAGS = [
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
];
export const WEBGPU_CANVAS_FLAGS = [
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-angle=vulkan',
];

// How long a page may take to download, compile and start the lab (a 2-core CI machine
// compiling a ~20 MB module).
export const START_TIMEOUT_MS = Number(process.env.SGDLAB_START_TIMEOUT_MS ?? 180_000);

export async function launch({ webgpu = true, extraArgs = [] } = {}) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...BASE_FLAGS, ...(webgpu ? [...WEBGPU_FLAGS, ...WEBGPU_CANVAS_FLAGS] : []), ...extraArgs],
  });
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
};

// The lab's URL: SGDLAB_URL (web/test.sh serves web/dist with `sgdlab serve`), else a static
// server on a free loopback port started here. `close()` stops the latter.
export async function labServer() {
  if (process.env.SGDLAB_URL) {
    return { url: process.env.SGDLAB_URL, close: async () => {} };
  }
  await stat(join(DIST, 'index.html')).catch(() => {
    throw new Error(`${DIST}/index.html is missing: run web/build.sh first`);
  });
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const file = join(DIST, path.endsWith('/') ? join(path, 'index.html') : path);
    if (!file.startsWith(DIST + sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, {
        'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
        'Content-Length': body.length,
      }).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((ok) => server.close(ok)) };
}

// Opens the lab in a fresh context and records what a test checks afterwards.
// `initScript` runs before any page script (e.g. to remove navigator.gpu); `route` lets a test
// tamper with responses; `viewport` is the page's size (1024×700 unless given); `hasTouch` gives
// the page a touch screen (`page.touchscreen`). Returns once the
// page has loaded; use `waitForFrames` to wait for the lab.
export async function openLab(browser, url, { initScript, route, viewport, hasTouch = false } = {}) {
  const context = await browser.newContext({
    viewport: viewport ?? { width: 1024, height: 700 },
    hasTouch,
  });
  const page = await context.newPage();
  const watch = { consoleErrors: [], pageErrors: [], offOrigin: [], consoleLog: [] };
  const origin = new URL(url).origin;
  page.on('console', (m) => {
    watch.consoleLog.push(`${m.type()}: ${m.text()}`);
    // Rust's log::error! from some crates reaches the console as a warning that says "ERROR"
    // (cubecl's device-loss report does), and a lost device is an error however it is logged.
    if (m.type() === 'error' || /\bERROR\b|device (was )?lost|panicked/i.test(m.text())) {
      watch.consoleErrors.push(m.text());
    }
  });
  page.on('pageerror', (e) => watch.pageErrors.push(String(e)));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin + '/') && !u.startsWith('data:') && !u.startsWith('blob:')) {
      watch.offOrigin.push(u);
    }
  });
  if (initScript) await page.addInitScript(initScript);
  if (route) await page.route(route.pattern, route.handler);
  await page.goto(url);
  return { context, page, watch };
}

// Waits until the lab has drawn at least `frames` frames and (unless `computeReady: false`)
// its compute device and self-check are ready; returns its state. Fails with what the page
// logged when it doesn't get there (the loader's error page, panics, ...).
export async function waitForFrames(page, watch, frames = 3, { computeReady = true } = {}) {
  try {
    // Done when the lab has drawn enough, or when the loader gave up and shows its error page.
    await page.waitForFunction(
      ([n, ready]) => ((window.sgdlab?.state?.()?.frames ?? 0) >= n
        && (!ready || window.sgdlab.state().compute_ready === true))
        || document.getElementById('error')?.hidden === false,
      [frames, computeReady],
      { timeout: START_TIMEOUT_MS, polling: 250 },
    );
    if (await page.locator('#error').isVisible()) throw new Error('the page shows its error page');
  } catch (e) {
    const error = page.locator('#error');
    const errorPage = (await error.isVisible().catch(() => false))
      ? (await error.textContent()).replace(/\s+/g, ' ').trim()
      : '(not shown)';
    throw new Error(`the lab did not draw ${frames} frames: ${e.message}\n` +
      `error page: ${errorPage}\nconsole:\n${watch.consoleLog.join('\n')}\n` +
      `page errors: ${watch.pageErrors.join('\n')}`);
  }
  return page.evaluate(() => window.sgdlab.state());
}

// The lab canvas as screenshot pixels, with its number of distinct colours and the share of the
// most common one (a blank or one-colour canvas fails the tests that use it).
export async function canvasStats(page) {
  const png = decodePng(await page.locator('#lab-canvas').screenshot());
  return { png, ...colourStats(png) };
}

// Nothing went wrong on the page: no console errors, no uncaught exceptions, and (unless
// `offOrigin: false`) no request that left the origin.
export function assertCleanPage(watch, { offOrigin = true } = {}) {
  assert.deepEqual(watch.consoleErrors, [], watch.consoleLog.join('\n'));
  assert.deepEqual(watch.pageErrors, []);
  if (offOrigin) assert.deepEqual(watch.offOrigin, []);
}
