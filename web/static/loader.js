// Loads the lab: downloads the .wasm with a progress bar, starts it on the canvas, and replaces
// the page with a readable error if anything on the way fails (or the lab stops later).
import init, { start } from './sgdlab_web.js';

const WASM_URL = new URL('./sgdlab_web_bg.wasm', import.meta.url);
const CANVAS_ID = 'lab-canvas';

const $ = (id) => document.getElementById(id);
let failed = false;

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

// The wasm as a Response whose body reports progress as it streams, so the module still
// compiles while it downloads (WebAssembly.instantiateStreaming).
async function fetchWasm() {
  const response = await fetch(WASM_URL);
  if (!response.ok) {
    throw new Error(`downloading ${WASM_URL.pathname} failed: HTTP ${response.status} ${response.statusText}`);
  }
  const built = Number(document.querySelector('meta[name="sgdlab-wasm-bytes"]')?.content);
  const sent = Number(response.headers.get('Content-Length'));
  // A compressed response's Content-Length counts compressed bytes; the stream yields raw ones.
  const total = !response.headers.get('Content-Encoding') && sent > 0 ? sent : (built > 0 ? built : 0);
  if (!response.body) return response;
  const reader = response.body.getReader();
  let loaded = 0;
  const body = new ReadableStream({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) {
        setPhase('Compiling the lab…');
        controller.close();
        return;
      }
      loaded += value.byteLength;
      setPhase(total > 0
        ? `Downloading the lab: ${MB(loaded)} of ${MB(total)} MB`
        : `Downloading the lab: ${MB(loaded)} MB`, total > 0 ? loaded / total : undefined);
      controller.enqueue(value);
    },
  });
  return new Response(body, { headers: { 'Content-Type': 'application/wasm' } });
}

window.addEventListener('error', (event) => {
  showError('The lab stopped with an error.', event.error ?? event.message);
});
window.addEventListener('unhandledrejection', (event) => {
  showError('The lab stopped with an error.', event.reason);
});

async function main() {
  setPhase('Downloading the lab…', 0);
  let wasm;
  try {
    wasm = await fetchWasm();
    await init({ module_or_path: wasm });
  } catch (error) {
    showError('The lab\'s WebAssembly module could not be downloaded or instantiated.', error);
    return;
  }
  setPhase('Starting the GPU…');
  try {
    await start(CANVAS_ID);
  } catch (error) {
    showError('The lab loaded but could not start its graphics.', error);
    return;
  }
  $('loading').hidden = true;
}

main();
