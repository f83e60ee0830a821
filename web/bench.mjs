// The web build's benchmark, printed as one JSON object:
//   wasm_bytes, wasm_gz_bytes,  size of web/dist's .wasm, raw, gzip -9 and brotli 11
//   wasm_br_bytes
//   first_view_gz_bytes,        what a first view downloads (page, scripts, .wasm, the first
//   first_view_br_bytes         frame's fonts), gzip -9 and brotli 11 (web/compress.mjs)
//   compute_ready_ms            navigation start to the compute device and self-check ready
//   first_frame_ms              navigation start to the lab's first frame (performance.now()
//                               at the app's first frame: the clock starts at navigation)
//   frame_ms_p50, frame_ms_p95  requestAnimationFrame intervals over BENCH_SECONDS (default 5)
// of the sharp-minima view with 16,384 particles (BENCH_PARTICLES), running,
//   main_thread_ms_per_frame,   the page's main-thread busy time (CDP TaskDuration) and the part
//   script_ms_per_frame         of it running script (wasm included), per lab frame; the rest
//                               of a frame waits on the GPU process (SwiftShader here)
//   sgd_steps_per_s             SGD steps of the sharp-minima dynamics per second of wall time
//                               (paced by time, not by frames: ui/src/labs/field.rs)
//   load_average                the machine's 1-minute load average at the end (os.loadavg)
// in headless Chromium on WebGPU (SwiftShader), or with --cpu on the CPU fallback.
// Usage: web/build.sh && node web/bench.mjs [--cpu]   (SGDLAB_URL to use a running server)
import { loadavg } from 'node:os';
import { firstViewSizes } from './compress.mjs';
import { DIST, launch, labServer, openLab, waitForFrames } from './tests/helpers.mjs';

const cpu = process.argv.includes('--cpu');
const seconds = Number(process.env.BENCH_SECONDS ?? 5);

function percentile(sorted, p) {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const sizes = await firstViewSizes(DIST);
const server = await labServer();
const browser = await launch({ webgpu: !cpu });
try {
  const particles = Number(process.env.BENCH_PARTICLES ?? 16384);
  const { page, watch } = await openLab(browser, `${server.url}#lab=sharp-minima&particles=${particles}`, {
    initScript: cpu ? () => { delete Navigator.prototype.gpu; } : undefined,
  });
  const state = await waitForFrames(page, watch, 1);
  // Let compilation and the first uploads settle before timing frames.
  await page.waitForTimeout(1000);
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const metrics = async () => Object.fromEntries(
    (await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  const cdpBefore = await metrics();
  const before = await page.evaluate(() => window.sgdlab.state());
  const t0 = Date.now();
  const { intervals } = await page.evaluate((ms) => new Promise((done) => {
    const stamps = [];
    const tick = (t) => {
      stamps.push(t);
      if (t - stamps[0] < ms) requestAnimationFrame(tick);
      else done({ intervals: stamps.slice(1).map((s, i) => s - stamps[i]) });
    };
    requestAnimationFrame(tick);
  }), seconds * 1000);
  const end = await page.evaluate(() => window.sgdlab.state());
  const wall = (Date.now() - t0) / 1000;
  const cdpAfter = await metrics();
  const sorted = [...intervals].sort((a, b) => a - b);
  const round = (x) => Math.round(x * 100) / 100;
  const labFrames = Math.max(1, end.frames - before.frames);
  const perFrame = (key) => round((1000 * (cdpAfter[key] - cdpBefore[key])) / labFrames);
  console.log(JSON.stringify({
    wasm_bytes: sizes.wasm_bytes,
    wasm_gz_bytes: sizes.wasm_gz_bytes,
    wasm_br_bytes: sizes.wasm_br_bytes,
    first_view_gz_bytes: sizes.first_view_gz_bytes,
    first_view_br_bytes: sizes.first_view_br_bytes,
    compute_ready_ms: round(state.compute_ready_ms),
    first_frame_ms: round(state.first_frame_ms),
    frame_ms_p50: round(percentile(sorted, 50)),
    frame_ms_p95: round(percentile(sorted, 95)),
    main_thread_ms_per_frame: perFrame('TaskDuration'),
    script_ms_per_frame: perFrame('ScriptDuration'),
    frames_timed: intervals.length,
    lab_frames_during: end.frames - before.frames,
    sgd_steps_per_s: round((end.metrics.sgd_steps - before.metrics.sgd_steps) / wall),
    particles,
    backend: end.backend,
    adapter: end.adapter,
    renderer: end.renderer,
    lab: end.lab,
    load_average: round(loadavg()[0]),
  }, null, 2));
} finally {
  await browser.close();
  await server.close();
}
