//! `sgdlab bench ui-frame`: the lab's frame time, rendered offscreen with egui-wgpu on the
//! device burn uses (no window needed): egui pass + tessellation + upload + render + GPU wait.

use crate::Failure;
use anyhow::anyhow;
use egui_wgpu::wgpu;
use sgdlab_engine::device::{BackendChoice, wgpu_setup};
use sgdlab_ui::export::MemoryPlatform;
use sgdlab_ui::{LabApp, LabOptions, Painting};
use web_time::Instant;

/// What one run measured.
#[derive(Debug, serde::Serialize)]
pub struct UiFrameReport {
    /// The lab measured.
    pub lab: String,
    /// Particles.
    pub particles: usize,
    /// Compute backend and adapter.
    pub backend: String,
    /// Adapter the frames were rendered on.
    pub render_adapter: String,
    /// Whether the lab stepped on a worker thread (the desktop app) or inline.
    pub threaded: bool,
    /// Whether the particles were stepping (false: drawing alone).
    pub running: bool,
    /// Frame size in pixels.
    pub size: [u32; 2],
    /// Timed frames.
    pub frames: usize,
    /// Median frame time (ms).
    pub frame_ms_p50: f64,
    /// 95th percentile frame time (ms).
    pub frame_ms_p95: f64,
    /// Mean frame time (ms).
    pub frame_ms_mean: f64,
    /// SGD steps per particle the lab took while timed.
    pub sgd_steps: f64,
}

/// Runs the sharp-minima view with `particles` particles for `frames` frames.
pub fn bench_ui_frame(
    backend: BackendChoice,
    particles: usize,
    frames: usize,
    warmup: usize,
    threaded: bool,
    running: bool,
    size: [u32; 2],
) -> Result<UiFrameReport, Failure> {
    let compute = crate::app::compute_for(backend)?;
    let setup = if compute.gpu.is_some() {
        let s = wgpu_setup().map_err(|e| Failure::Other(e.into()))?;
        egui_wgpu::WgpuSetup::Existing(egui_wgpu::WgpuSetupExisting {
            instance: s.instance,
            adapter: s.adapter,
            device: s.device,
            queue: s.queue,
        })
    } else {
        egui_wgpu::WgpuSetup::CreateNew(egui_wgpu::WgpuSetupCreateNew::without_display_handle())
    };
    let instance = pollster::block_on(setup.new_instance());
    let render = pollster::block_on(egui_wgpu::RenderState::create(
        &egui_wgpu::WgpuConfiguration {
            wgpu_setup: setup,
            ..Default::default()
        },
        &instance,
        None,
        egui_wgpu::RendererOptions::default(),
    ))
    .map_err(|e| Failure::BadInput(anyhow!("no wgpu adapter to render the frames on: {e}")))?;
    let ctx = egui::Context::default();
    let backend_desc = compute.info().to_string();
    let mut app = LabApp::new(
        &ctx,
        Some(render.clone()),
        compute,
        LabOptions {
            threaded,
            painting: Painting::OnThisThread,
            platform: Box::new(MemoryPlatform::default()),
            fragment: Some(format!("lab=sharp-minima&particles={particles}")),
            autostart: running,
        },
    );
    if let Some(n) = app.notices().first() {
        return Err(Failure::BadInput(anyhow!("{}", n.text)));
    }
    let (w, h) = (size[0], size[1]);
    let texture = target_texture(&render, w, h);
    let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
    let screen = egui_wgpu::ScreenDescriptor {
        size_in_pixels: [w, h],
        pixels_per_point: 1.0,
    };
    let mut times = Vec::with_capacity(frames);
    let started = Instant::now();
    let mut steps_at_start = 0.0;
    for f in 0..warmup + frames {
        if f == warmup {
            steps_at_start = steps_of(&app);
        }
        let t0 = Instant::now();
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(w as f32, h as f32),
            )),
            time: Some(started.elapsed().as_secs_f64()),
            ..Default::default()
        };
        let out = ctx.run_ui(input, |ui| app.ui(ui));
        paint_frame(&render, &ctx, out, &view, &screen)?;
        if f >= warmup {
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
    }
    let sgd_steps = steps_of(&app) - steps_at_start;
    if let Some(e) = app.state_json()["error"].as_str() {
        return Err(Failure::Other(anyhow!("the lab stopped: {e}")));
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let q = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
    Ok(UiFrameReport {
        lab: "sharp-minima".into(),
        particles,
        backend: backend_desc,
        render_adapter: format!(
            "{:?} ({:?})",
            render.adapter.get_info().name,
            render.adapter.get_info().backend
        ),
        threaded,
        running,
        size,
        frames,
        frame_ms_p50: q(0.5),
        frame_ms_p95: q(0.95),
        frame_ms_mean: times.iter().sum::<f64>() / times.len().max(1) as f64,
        sgd_steps,
    })
}

/// The offscreen texture the frames are drawn into.
fn target_texture(render: &egui_wgpu::RenderState, w: u32, h: u32) -> wgpu::Texture {
    render.device.create_texture(&wgpu::TextureDescriptor {
        label: Some("sgdlab bench frame"),
        size: wgpu::Extent3d {
            width: w,
            height: h,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: render.target_format,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT,
        view_formats: &[],
    })
}

/// Tessellates one frame's output, uploads its textures and buffers, renders it into `view` and
/// waits for the GPU, as eframe does for a window.
fn paint_frame(
    render: &egui_wgpu::RenderState,
    ctx: &egui::Context,
    mut out: egui::FullOutput,
    view: &wgpu::TextureView,
    screen: &egui_wgpu::ScreenDescriptor,
) -> Result<(), Failure> {
    let prims = ctx.tessellate(out.shapes, out.pixels_per_point);
    {
        let mut r = render.renderer.write();
        for (id, deltas) in out.textures_delta.set.drain() {
            for delta in &deltas {
                r.update_texture(&render.device, &render.queue, id, delta);
            }
        }
        let mut enc = render
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("sgdlab bench frame"),
            });
        let mut cmds = r.update_buffers(&render.device, &render.queue, &mut enc, &prims, screen);
        {
            let pass = enc.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("sgdlab bench frame"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view,
                    resolve_target: None,
                    depth_slice: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            r.render(&mut pass.forget_lifetime(), &prims, screen);
        }
        cmds.push(enc.finish());
        render.queue.submit(cmds);
        for id in out.textures_delta.free.drain() {
            r.free_texture(&id);
        }
    }
    render
        .device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Failure::Other(anyhow!("waiting for the GPU: {e}")))?;
    Ok(())
}

fn steps_of(app: &LabApp) -> f64 {
    app.state_json()["metrics"]["sgd_steps"]
        .as_f64()
        .unwrap_or(0.0)
}
