// While the module downloads the page shows a loading screen; when it cannot be downloaded or
// instantiated, the page says so in words (not a blank canvas or an endless spinner).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, labServer, openLab } from './helpers.mjs';

let server, browser;
before(async () => {
  server = await labServer();
  browser = await launch({ webgpu: false });
});
after(async () => {
  await browser?.close();
  await server?.close();
});

async function errorPageFor(handler) {
  const { page, context } = await openLab(browser, server.url, {
    route: { pattern: '**/*.wasm', handler },
  });
  const error = page.locator('#error');
  await error.waitFor({ state: 'visible', timeout: 60_000 });
  const text = await error.textContent();
  const loadingVisible = await page.locator('#loading').isVisible();
  await context.close();
  return { text, loadingVisible };
}

test('a corrupt .wasm shows the error page with the instantiation error', async () => {
  const { text, loadingVisible } = await errorPageFor((route) =>
    route.fulfill({ status: 200, contentType: 'application/wasm', body: Buffer.from('not wasm at all') }));
  assert.match(text, /could not start/);
  assert.match(text, /could not be downloaded or instantiated/);
  assert.match(text, /CompileError|WebAssembly/);
  assert.equal(loadingVisible, false);
});

test('a missing .wasm shows the error page with the HTTP status', async () => {
  const { text } = await errorPageFor((route) => route.fulfill({ status: 404, body: 'gone' }));
  assert.match(text, /HTTP 404/);
});

test('the loading screen shows while the module downloads', async () => {
  let release;
  const held = new Promise((ok) => { release = ok; });
  const { page, context } = await openLab(browser, server.url, {
    route: { pattern: '**/*.wasm', handler: async (route) => { await held; await route.abort(); } },
  });
  try {
    const loading = page.locator('#loading');
    await loading.waitFor({ state: 'visible', timeout: 30_000 });
    assert.match(await page.locator('#loading-text').textContent(), /Downloading the lab/);
    assert.equal(await page.locator('#loading-progress').count(), 1);
    assert.equal(await page.locator('#error').isVisible(), false);
  } finally {
    release();
    await context.close();
  }
});
