// The CPU fallback's paint worker: the lab canvas's OffscreenCanvas, painted with egui's glow
// painter (web/src/paint_worker.rs) from the frames the page sends (web/src/paint_wire.rs). It
// runs its own instance of the lab's module, compiled once by the page and handed over here.
// Where the browser composites in software, each WebGL frame is read back on the thread that
// drew it: this one, not the page's (web/README.md, "Speed").
//
// Messages in: { module, canvas } first, then each frame's bytes (an ArrayBuffer).
// Messages out: { ready: true, maxTextureSide } once, { painted: n } after each frame, or
// { error } (the page shows it).
import init, { WorkerPainter } from './sgdlab_web.js';

let painter = null;
let painted = 0;

function fail(error) {
  postMessage({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
}

onmessage = async ({ data }) => {
  if (painter === null) {
    try {
      await init({ module_or_path: data.module });
      painter = new WorkerPainter(data.canvas);
      postMessage({ ready: true, maxTextureSide: painter.maxTextureSide() });
    } catch (error) {
      fail(error);
    }
    return;
  }
  try {
    painter.paint(new Uint8Array(data));
    painted += 1;
    postMessage({ painted });
  } catch (error) {
    fail(error);
  }
};
