// Loads the lab: downloads the .wasm and the first frame's fonts with a progress bar, starts the
// lab on the canvas, and replaces the page with a readable error if anything on the way fails (or
// the lab stops later). The lab fetches what it needs later (the symbol font, the MNIST subset)
// through `fetchBytes`, with progress. On the CPU fallback a Worker paints the canvas
// (`startPainter`, web/static/painter.js).
import init, { start } from './sgdlab_web.js';

const WASM_URL = new URL('./sgdlab_web_bg.wasm', import.meta.url);
// The first frame's fonts (two of egui's defaults), not compiled into the .wasm (web/build.sh
// copies them here); the lab fetches Hack and the symbol font after its first frame.
const FONT_URLS = ['fonts/Ubuntu-Light.ttf', 'fonts/egui-icons.ttf'];
const CANVAS_ID = 'lab-canvas';

// Wakes the browser's WebGPU while the .wasm downloads: the first adapter request starts the GPU
// process's WebGPU (~0.5 s on SwiftShader), and the lab's own request (wgpu's, after `start`)
// then finds it warm. The answer is not used: where there is no adapter the lab falls back as
// it would have.
navigator.gpu?.requestAdapter?.().catch(() => null);

const $ = (id) => document.getElementById(id);
let failed = false;
// The lab's compiled module (for the paint worker).
let compiled = null;

function setPhase(text, fraction) {
  $('loading-text').textContent = text;
  const bar = $('loading-progress');
  if (fraction === undefined) {
    bar.removeAttribute('value'); // indeterminate
  } else {
    bar.value = Math.min(1, Math.max(0, fraction));
  }
}

function describe(error) {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  if (typeof error === 'string') return error;
  try { return JSON.stringify(error); } catch { return String(error); }
}

function showError(summary, error) {
  if (failed) return;
  failed = true;
  $('loading').hidden = true;
  $('error-summary').textContent = summary;
  $('error-detail').textContent = describe(error);
  $('error').hidden = false;
}

const MB = (bytes) => (bytes / 1e6).toFixed(1);
const meta = (name) => Number(document.querySelector(`meta[name="${name}"]`)?.content);

// `response`'s body as a stream that reports (loaded, total) as it arrives. A compressed
// response's Content-Length counts compressed bytes while the stream yields raw ones, so the
// total is then `built` (the raw size web/build.sh wrote into the page), if known.
function withProgress(response, built, onProgress) {
  const sent = Number(response.headers.get('Content-Length'));
  const total = !response.headers.get('Content-Encoding') && sent > 0 ? sent : (built > 0 ? built : 0);
  if (!response.body) return response.body;
  const reader = response.body.getReader();
  let loaded = 0;
  return new ReadableStream({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        controller.close();
        return;
      }
      loaded += value.byteLength;
      onProgress(loaded, total);
      controller.enqueue(value);
    },
  });
}

async function get(url) {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`downloading ${new URL(url, location.href).pathname} failed: HTTP ${response.status} ${response.statusText}`);
  }
  return response;
}

// What the lab calls for the files it fetches later: the bytes at `url`, with progress.
export async function fetchBytes(url, onProgress) {
  const response = await get(url);
  const body = withProgress(response, 0, (loaded, total) => onProgress?.(loaded, total));
  return new Uint8Array(await new Response(body ?? (await response.arrayBuffer())).arrayBuffer());
}

// What the lab calls on the CPU fallback: starts the paint worker on `canvas` (an
// OffscreenCanvas) and resolves to { worker, maxTextureSide } once it can paint. The worker's
// later failures replace the page with the error.
export function startPainter(canvas) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./painter.js', import.meta.url), { type: 'module' });
    const failure = (what) => {
      const error = new Error(`the paint worker: ${what}`);
      reject(error);
      showError('The lab stopped with an error.', error);
    };
    worker.addEventListener('error', (event) => failure(event.message || 'its script failed to load'));
    worker.addEventListener('messageerror', () => failure('a message could not be read'));
    worker.onmessage = ({ data }) => {
      if (data?.ready) {
        worker.onmessage = null;
        resolve({ worker, maxTextureSide: data.maxTextureSide });
      } else if (data?.error) {
        failure(data.error);
      }
    };
    worker.postMessage({ module: compiled, canvas }, [canvas]);
  });
}

// The first view's downloads, in parallel: the .wasm (streamed into compilation) and the fonts.
async function download() {
  const built = meta('sgdlab-first-bytes');
  const loaded = new Map();
  const report = (key) => (bytes) => {
    loaded.set(key, bytes);
    const sum = [...loaded.values()].reduce((a, b) => a + b, 0);
    setPhase(built > 0
      ? `Downloading the lab: ${MB(sum)} of ${MB(built)} MB`
      : `Downloading the lab: ${MB(sum)} MB`, built > 0 ? sum / built : undefined);
  };
  const fonts = Promise.all(FONT_URLS.map(async (url) => {
    const response = await get(url);
    const body = withProgress(response, 0, report(url));
    return new Uint8Array(await new Response(body ?? (await response.arrayBuffer())).arrayBuffer());
  }));
  const wasmResponse = await get(WASM_URL);
  const wasmBody = withProgress(wasmResponse, meta('sgdlab-wasm-bytes'), report('wasm'));
  const wasm = new Response(wasmBody ?? (await wasmResponse.arrayBuffer()),
    { headers: { 'Content-Type': 'application/wasm' } });
  // Compiled here (streaming) rather than inside init, so that a paint worker can be handed the
  // same compiled module.
  const instantiated = WebAssembly.compileStreaming(wasm).then((module) => {
    compiled = module;
    return init({ module_or_path: module });
  }).then((x) => {
    performance.mark('sgdlab:instantiated');
    return x;
  });
  await Promise.all([fonts.then((x) => {
    performance.mark('sgdlab:fonts');
    return x;
  }), instantiated]);
  setPhase('Compiling the lab…');
  return fonts;
}

window.addEventListener('error', (event) => {
  showError('The lab stopped with an error.', event.error ?? event.message);
});
window.addEventListener('unhandledrejection', (event) => {
  showError('The lab stopped with an error.', event.reason);
});

async function main() {
  setPhase('Downloading the lab…', 0);
  let fonts;
  try {
    fonts = await download();
  } catch (error) {
    showError('The lab\'s WebAssembly module could not be downloaded or instantiated.', error);
    return;
  }
  setPhase('Starting…');
  // The lab draws its first frame as soon as the device exists; it says itself when the GPU is
  // still starting, so the overlay goes once `start` has handed the canvas to the lab.
  // Marks for web/bench.mjs: where the time to the first frame goes.
  performance.mark('sgdlab:start');
  const started = start(CANVAS_ID, fonts[0], fonts[1], fetchBytes, startPainter);
  try {
    await started;
  } catch (error) {
    showError('The lab loaded but could not start its graphics.', error);
    return;
  }
  $('loading').hidden = true;
}

main();
