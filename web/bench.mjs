// The web build's benchmark, printed as one JSON object:
//   wasm_bytes, wasm_gz_bytes,  size of web/dist's .wasm, raw, gzip -9 and brotli 11
//   wasm_br_bytes
//   first_view_gz_bytes,        what a first view downloads (page, scripts, .wasm, the first
//   first_view_br_bytes         frame's fonts), gzip -9 and brotli 11 (web/compress.mjs)
//   compute_ready_ms            navigation start to the compute device and self-check ready
//   first_frame_ms              navigation start to the lab's first frame (performance.now()
//                               at the app's first frame: the clock starts at navigation)
//   marks_ms                    the loader's marks on the way there: the .wasm downloaded and
//                               instantiated, the first frame's fonts downloaded, start() called
//   frame_ms_p50, frame_ms_p95  requestAnimationFrame intervals over BENCH_SECONDS (default 5)
// of the sharp-minima view with 16,384 particles (BENCH_PARTICLES), running,
//   main_thread_ms_per_frame,   the page's main-thread busy time (CDP TaskDuration) and the part
//   script_ms_per_frame         of it running script (wasm included), per lab frame; the rest
//                               of a frame waits on the GPU process (SwiftShader here)
//   sgd_steps_per_s             SGD steps of the sharp-minima dynamics per second of wall time
//                               (paced by time, not by frames: ui/src/labs/field.rs)
//   trace_ms_per_frame          where the main thread's time goes, from a Chromium trace of the
//                               next BENCH_TRACE_SECONDS (default 3; 0: no trace), per lab frame:
//                               animation_frame (the lab's script), commit (handing the frame to
//                               the compositor), of it readback (GLES2::ReadPixels: a WebGL
//                               canvas read back for software compositing, waiting for the GPU
//                               process), gpu_process_webgl (the GPU process executing the
//                               page's WebGL commands: SwiftShader rasterizing), and on the CPU
//                               fallback's paint worker paint_worker_tasks and
//                               paint_worker_readback (its thread's tasks and its canvas's
//                               readback, off the main thread); cdp_main_thread_while_tracing
//                               is CDP's main-thread time over the same frames (what tracing
//                               itself adds, against main_thread_ms_per_frame)
//   load_average                the machine's 1-minute load average at the end (os.loadavg)
//   viewport, extra_flags       the page's size (BENCH_VIEWPORT=WxH, default 1024x700) and any
//                               Chromium flags added to the tests' (BENCH_FLAGS, space-separated)
// in headless Chromium on WebGPU (SwiftShader), or with --cpu on the CPU fallback.
// Usage: web/build.sh && node web/bench.mjs [--cpu]   (SGDLAB_URL to use a running server)
import { loadavg, tmpdir } from 'node:os';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { firstViewSizes } from './compress.mjs';
import { DIST, launch, labServer, openLab, waitForFrames } from './tests/helpers.mjs';

const cpu = process.argv.includes('--cpu');
const seconds = Number(process.env.BENCH_SECONDS ?? 5);

// Traces `seconds` of the page and sums, per lab frame, the durations of a few events on the
// renderer's main thread and the GPU process's main thread (null when seconds is 0).
async function traceFrames(browser, page, seconds, metrics) {
  if (!(seconds > 0)) return null;
  const dir = await mkdtemp(join(tmpdir(), 'sgdlab-trace-'));
  const path = join(dir, 'trace.json');
  try {
    await browser.startTracing(page, { path, categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'toplevel', 'gpu', 'cc'] });
    const f0 = await page.evaluate(() => window.sgdlab.state().frames);
    const m0 = await metrics();
    await page.waitForTimeout(seconds * 1000);
    const f1 = await page.evaluate(() => window.sgdlab.state().frames);
    const m1 = await metrics();
    await browser.stopTracing();
    const events = JSON.parse(await readFile(path, 'utf8')).traceEvents;
    const threads = {};
    for (const e of events) {
      if (e.ph === 'M' && e.name === 'thread_name') threads[`${e.pid}:${e.tid}`] = e.args.name;
    }
    const sum = (thread, name) => events
      .filter((e) => e.ph === 'X' && e.name === name && threads[`${e.pid}:${e.tid}`] === thread)
      .reduce((a, e) => a + (e.dur ?? 0) / 1000, 0);
    const frames = Math.max(1, f1 - f0);
    const per = (ms) => Math.round((ms / frames) * 10) / 10;
    return {
      frames: f1 - f0,
      main_thread_tasks: per(sum('CrRendererMain', 'RunTask')),
      cdp_main_thread_while_tracing: per(1000 * (m1.TaskDuration - m0.TaskDuration)),
      animation_frame: per(sum('CrRendererMain', 'FireAnimationFrame')),
      commit: per(sum('CrRendererMain', 'Commit')),
      readback: per(sum('CrRendererMain', 'GLES2::ReadPixels')),
      gpu_process_webgl: per(sum('CrGpuMain', 'WebGL')),
      paint_worker_tasks: per(sum('DedicatedWorker thread', 'RunTask')),
      paint_worker_readback: per(sum('DedicatedWorker thread', 'GLES2::ReadPixels')),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function percentile(sorted, p) {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const [width, height] = (process.env.BENCH_VIEWPORT ?? '1024x700').split('x').map(Number);
if (!(width > 0 && height > 0)) throw new Error(`BENCH_VIEWPORT: expected WxH, got ${process.env.BENCH_VIEWPORT}`);
const extraArgs = (process.env.BENCH_FLAGS ?? '').split(' ').filter(Boolean);

const sizes = await firstViewSizes(DIST);
const server = await labServer();
const browser = await launch({ webgpu: !cpu, extraArgs });
try {
  const particles = Number(process.env.BENCH_PARTICLES ?? 16384);
  const { page, watch } = await openLab(browser, `${server.url}#lab=sharp-minima&particles=${particles}`, {
    initScript: cpu ? () => { delete Navigator.prototype.gpu; } : undefined,
    viewport: { width, height },
  });
  const state = await waitForFrames(page, watch, 1);
  const marks = await page.evaluate(() => Object.fromEntries(performance.getEntriesByType('mark')
    .filter((m) => m.name.startsWith('sgdlab:'))
    .map((m) => [m.name.slice('sgdlab:'.length), Math.round(m.startTime)])));
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
  const traced = await traceFrames(browser, page, Number(process.env.BENCH_TRACE_SECONDS ?? 3), metrics);
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
    marks_ms: marks,
    frame_ms_p50: round(percentile(sorted, 50)),
    frame_ms_p95: round(percentile(sorted, 95)),
    main_thread_ms_per_frame: perFrame('TaskDuration'),
    script_ms_per_frame: perFrame('ScriptDuration'),
    frames_timed: intervals.length,
    lab_frames_during: end.frames - before.frames,
    sgd_steps_per_s: round((end.metrics.sgd_steps - before.metrics.sgd_steps) / wall),
    trace_ms_per_frame: traced,
    particles,
    backend: end.backend,
    adapter: end.adapter,
    renderer: end.renderer,
    lab: end.lab,
    viewport: `${width}x${height}`,
    extra_flags: extraArgs.join(' '),
    load_average: round(loadavg()[0]),
  }, null, 2));
} finally {
  await browser.close();
  await server.close();
}
