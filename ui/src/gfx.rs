//! Drawing helpers: particles through an egui-wgpu paint callback (straight from the GPU
//! buffers the particle kernel writes, or from CPU positions uploaded once per frame), with an
//! image fallback when the renderer is not wgpu (splatted here, or by the browser's paint
//! worker); heatmap textures and a colormap.

use egui::{Color32, Pos2, Rect};
use egui_wgpu::wgpu;
use sgdlab_engine::landscape::ParticleState;
use std::sync::Arc;

/// What the views draw with.
#[derive(Clone, Default)]
pub struct Gfx {
    /// eframe's wgpu render state (the same device burn uses), when rendering with wgpu.
    pub render: Option<egui_wgpu::RenderState>,
    /// Without wgpu: the painter splats the particles (a paint callback holding a
    /// [`ParticleSplat`]), not this thread.
    pub splat_in_painter: bool,
}

/// Who paints the frames the app lays out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Painting {
    /// eframe, on this thread, right after each pass.
    OnThisThread,
    /// A paint worker that takes each pass's meshes (the browser's CPU fallback, `web/`): it
    /// also splats the particles ([`ParticleSplat`] callbacks).
    InAWorker,
}

/// The largest side of a [`ParticleSplat`]'s image, in pixels.
pub const MAX_SPLAT_SIDE: usize = 2048;

/// Particles splatted into an image the size of their plot, one square of a label's colour
/// each: how they are drawn without wgpu. A mesh of a square per particle cost the software
/// WebGL rasterizer ~300 ms a frame at 16,384 particles; an upload of the image costs a few.
#[derive(Clone, Debug, PartialEq)]
pub struct ParticleSplat {
    /// The particles (shared with the lab's snapshot, not copied): their positions in plot
    /// coordinates and their labels (`meta[i][0]`, an index into [`LABEL_COLORS`], clamped).
    pub state: Arc<ParticleState>,
    /// The plot's `x` range.
    pub x: [f64; 2],
    /// The plot's `y` range (up).
    pub y: [f64; 2],
    /// The image's size in pixels.
    pub size: [usize; 2],
    /// A square's side in pixels.
    pub side: usize,
}

impl ParticleSplat {
    /// Each particle's label, clamped to [`LABEL_COLORS`].
    pub fn labels(&self) -> impl Iterator<Item = u8> + '_ {
        self.state.meta.iter().map(|m| m[0].min(5) as u8)
    }

    /// The image: transparent, with a square per particle inside the plot.
    pub fn image(&self) -> egui::ColorImage {
        let [w, h] = self.size;
        let mut pixels = vec![Color32::TRANSPARENT; w * h];
        let side = self.side.max(1);
        let (sx, sy) = (
            w as f64 / (self.x[1] - self.x[0]),
            h as f64 / (self.y[1] - self.y[0]),
        );
        for (p, label) in self.state.pos.iter().zip(self.labels()) {
            let c = LABEL_COLORS[usize::from(label).min(5)];
            let px = (f64::from(p[0]) - self.x[0]) * sx;
            let py = (self.y[1] - f64::from(p[1])) * sy;
            if !(px >= 0.0 && py >= 0.0 && px < w as f64 && py < h as f64) {
                continue;
            }
            let (cx, cy) = (px as usize, py as usize);
            let (x0, y0) = (cx.saturating_sub(side / 2), cy.saturating_sub(side / 2));
            for row in y0..(y0 + side).min(h) {
                pixels[row * w + x0..row * w + (x0 + side).min(w)].fill(c);
            }
        }
        egui::ColorImage::new([w, h], pixels)
    }
}

/// Colors of the particle labels (basins 0..3, no basin, diverged).
pub const LABEL_COLORS: [Color32; 6] = [
    Color32::from_rgb(86, 180, 233),
    Color32::from_rgb(230, 80, 60),
    Color32::from_rgb(0, 170, 120),
    Color32::from_rgb(240, 228, 66),
    Color32::from_rgb(235, 235, 235),
    Color32::from_rgb(120, 120, 120),
];

/// Where particles come from.
#[derive(Clone)]
pub enum ParticleSource {
    /// Buffers on the render device: positions (`[f32; 2]`) and meta (`[u32; 4]`) per particle.
    Gpu {
        /// Positions.
        pos: wgpu::Buffer,
        /// Labels and bookkeeping.
        meta: wgpu::Buffer,
        /// Count.
        n: u32,
    },
    /// Positions and labels on the CPU.
    Cpu(Arc<ParticleState>),
}

impl ParticleSource {
    /// Number of particles.
    pub fn len(&self) -> usize {
        match self {
            Self::Gpu { n, .. } => *n as usize,
            Self::Cpu(s) => s.pos.len(),
        }
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Draws `source` into `rect`, which shows plot coordinates `x` × `y` (y up). `id` is the plot's
/// (stable across frames, moves and resizes): the fallback keeps its texture under it.
#[allow(clippy::too_many_arguments)]
pub fn draw_particles(
    ui: &egui::Ui,
    gfx: &Gfx,
    id: egui::Id,
    rect: Rect,
    x: (f64, f64),
    y: (f64, f64),
    source: &ParticleSource,
    point_px: f32,
) {
    if source.is_empty() {
        return;
    }
    if gfx.render.is_some() {
        let cb = ParticleCallback {
            source: source.clone(),
            bounds: [x.0 as f32, x.1 as f32, y.0 as f32, y.1 as f32],
            size_px: [
                rect.width() * ui.ctx().pixels_per_point(),
                rect.height() * ui.ctx().pixels_per_point(),
            ],
            point_px: point_px * ui.ctx().pixels_per_point(),
        };
        ui.painter()
            .with_clip_rect(rect)
            .add(egui_wgpu::Callback::new_paint_callback(rect, cb));
        return;
    }
    // No wgpu renderer (the browser's WebGL fallback draws with glow): the particles are splatted
    // into one image the size of the plot and drawn as one textured quad ([`ParticleSplat`]), by
    // the paint worker where there is one, else here.
    let ParticleSource::Cpu(state) = source else {
        return;
    };
    let ppp = ui.ctx().pixels_per_point();
    let w = ((rect.width() * ppp).round() as usize).clamp(1, MAX_SPLAT_SIDE);
    let h = ((rect.height() * ppp).round() as usize).clamp(1, MAX_SPLAT_SIDE);
    let side = ((point_px * ppp).round() as usize).max(1);
    let splat = ParticleSplat {
        state: state.clone(),
        x: [x.0, x.1],
        y: [y.0, y.1],
        size: [w, h],
        side,
    };
    if gfx.splat_in_painter {
        ui.painter().with_clip_rect(rect).add(egui::PaintCallback {
            rect,
            callback: Arc::new(splat),
        });
        return;
    }
    let image = splat.image();
    // One texture a plot, replaced in place as the plot moves or changes size.
    let key = id.with("sgdlab-particles");
    let tex = match ui.data(|d| d.get_temp::<egui::TextureHandle>(key)) {
        Some(mut t) => {
            t.set(image, egui::TextureOptions::NEAREST);
            t
        }
        None => {
            let t = ui
                .ctx()
                .load_texture("sgdlab-particles", image, egui::TextureOptions::NEAREST);
            ui.data_mut(|d| d.insert_temp(key, t.clone()));
            t
        }
    };
    ui.painter().with_clip_rect(rect).image(
        tex.id(),
        rect,
        Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
        Color32::WHITE,
    );
}

struct ParticleCallback {
    source: ParticleSource,
    bounds: [f32; 4],
    size_px: [f32; 2],
    point_px: f32,
}

/// The pipeline and buffers, kept in egui-wgpu's callback resources.
struct ParticlePipeline {
    pipeline: wgpu::RenderPipeline,
    uniform: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
    cpu_pos: Option<wgpu::Buffer>,
    cpu_meta: Option<wgpu::Buffer>,
    cpu_len: u32,
    /// The snapshot last uploaded (held, so that its address is not reused), so an unchanged
    /// one is not uploaded again.
    cpu_uploaded: Option<Arc<ParticleState>>,
}

/// The particle shader (instanced quads, one per particle).
pub const SHADER: &str = r"
struct U {
    bounds: vec4<f32>,   // xmin, xmax, ymin, ymax
    size: vec4<f32>,     // viewport width, height (px), point size (px), 0
    colors: array<vec4<f32>, 6>,
};
@group(0) @binding(0) var<uniform> u: U;

struct Out {
    @builtin(position) pos: vec4<f32>,
    @location(0) color: vec4<f32>,
    @location(1) local: vec2<f32>,
};

@vertex
fn vs(@builtin(vertex_index) vi: u32, @location(0) p: vec2<f32>, @location(1) info: vec4<u32>) -> Out {
    var corners = array<vec2<f32>, 6>(
        vec2(-1.0, -1.0), vec2(1.0, -1.0), vec2(1.0, 1.0),
        vec2(-1.0, -1.0), vec2(1.0, 1.0), vec2(-1.0, 1.0));
    let c = corners[vi];
    let nx = (p.x - u.bounds.x) / (u.bounds.y - u.bounds.x) * 2.0 - 1.0;
    let ny = (p.y - u.bounds.z) / (u.bounds.w - u.bounds.z) * 2.0 - 1.0;
    let half = vec2(u.size.z / u.size.x, u.size.z / u.size.y);
    var o: Out;
    o.pos = vec4(nx + c.x * half.x, ny + c.y * half.y, 0.0, 1.0);
    o.color = u.colors[min(info.x, 5u)];
    o.local = c;
    return o;
}

@fragment
fn fs(i: Out) -> @location(0) vec4<f32> {
    let d = dot(i.local, i.local);
    if d > 1.0 { discard; }
    let a = i.color.a * (1.0 - smoothstep(0.6, 1.0, d));
    return vec4(i.color.rgb * a, a);
}
";

fn pipeline_for(device: &wgpu::Device, format: wgpu::TextureFormat) -> ParticlePipeline {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("sgdlab particles"),
        source: wgpu::ShaderSource::Wgsl(SHADER.into()),
    });
    let uniform = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("sgdlab particles uniform"),
        size: UNIFORM_BYTES,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let bgl = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("sgdlab particles"),
        entries: &[wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::VERTEX,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        }],
    });
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("sgdlab particles"),
        layout: &bgl,
        entries: &[wgpu::BindGroupEntry {
            binding: 0,
            resource: uniform.as_entire_binding(),
        }],
    });
    let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some("sgdlab particles"),
        bind_group_layouts: &[Some(&bgl)],
        immediate_size: 0,
    });
    let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some("sgdlab particles"),
        layout: Some(&layout),
        vertex: wgpu::VertexState {
            module: &module,
            entry_point: Some("vs"),
            compilation_options: Default::default(),
            buffers: &[
                Some(wgpu::VertexBufferLayout {
                    array_stride: 8,
                    step_mode: wgpu::VertexStepMode::Instance,
                    attributes: &[wgpu::VertexAttribute {
                        format: wgpu::VertexFormat::Float32x2,
                        offset: 0,
                        shader_location: 0,
                    }],
                }),
                Some(wgpu::VertexBufferLayout {
                    array_stride: 16,
                    step_mode: wgpu::VertexStepMode::Instance,
                    attributes: &[wgpu::VertexAttribute {
                        format: wgpu::VertexFormat::Uint32x4,
                        offset: 0,
                        shader_location: 1,
                    }],
                }),
            ],
        },
        fragment: Some(wgpu::FragmentState {
            module: &module,
            entry_point: Some("fs"),
            compilation_options: Default::default(),
            targets: &[Some(wgpu::ColorTargetState {
                format,
                blend: Some(wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING),
                write_mask: wgpu::ColorWrites::ALL,
            })],
        }),
        primitive: wgpu::PrimitiveState::default(),
        depth_stencil: None,
        multisample: wgpu::MultisampleState::default(),
        multiview_mask: None,
        cache: None,
    });
    ParticlePipeline {
        pipeline,
        uniform,
        bind_group,
        cpu_pos: None,
        cpu_meta: None,
        cpu_len: 0,
        cpu_uploaded: None,
    }
}

const UNIFORM_BYTES: u64 = 16 + 16 + 6 * 16;

/// Registers the particle pipeline with eframe's renderer (call once at startup).
pub fn register(render: &egui_wgpu::RenderState) {
    let p = pipeline_for(&render.device, render.target_format);
    render.renderer.write().callback_resources.insert(p);
}

fn upload(device: &wgpu::Device, queue: &wgpu::Queue, label: &str, bytes: &[u8]) -> wgpu::Buffer {
    let buf = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: (bytes.len().max(16) as u64).next_multiple_of(16),
        usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    queue.write_buffer(&buf, 0, bytes);
    buf
}

impl egui_wgpu::CallbackTrait for ParticleCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        _encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        let Some(p) = resources.get_mut::<ParticlePipeline>() else {
            return Vec::new();
        };
        let mut u: Vec<u8> = Vec::with_capacity(UNIFORM_BYTES as usize);
        for f in self.bounds {
            u.extend_from_slice(&f.to_le_bytes());
        }
        for f in [
            self.size_px[0].max(1.0),
            self.size_px[1].max(1.0),
            self.point_px,
            0.0,
        ] {
            u.extend_from_slice(&f.to_le_bytes());
        }
        for c in LABEL_COLORS {
            for v in [c.r(), c.g(), c.b()] {
                u.extend_from_slice(&(f32::from(v) / 255.0).to_le_bytes());
            }
            u.extend_from_slice(&0.85f32.to_le_bytes());
        }
        queue.write_buffer(&p.uniform, 0, &u);
        if let ParticleSource::Cpu(state) = &self.source
            && !p
                .cpu_uploaded
                .as_ref()
                .is_some_and(|u| Arc::ptr_eq(u, state))
        {
            p.cpu_uploaded = Some(state.clone());
            let (pos, meta) = (&state.pos, &state.meta);
            let pb: Vec<u8> = pos
                .iter()
                .flat_map(|q| [q[0].to_le_bytes(), q[1].to_le_bytes()])
                .flatten()
                .collect();
            let mb: Vec<u8> = (0..pos.len())
                .flat_map(|i| meta.get(i).copied().unwrap_or([4, 0, 0, 0]))
                .flat_map(u32::to_le_bytes)
                .collect();
            let fits = p
                .cpu_pos
                .as_ref()
                .is_some_and(|b| b.size() >= pb.len() as u64);
            if fits {
                if let (Some(bp), Some(bm)) = (&p.cpu_pos, &p.cpu_meta) {
                    queue.write_buffer(bp, 0, &pb);
                    queue.write_buffer(bm, 0, &mb);
                }
            } else {
                p.cpu_pos = Some(upload(device, queue, "sgdlab particle positions", &pb));
                p.cpu_meta = Some(upload(device, queue, "sgdlab particle meta", &mb));
            }
            p.cpu_len = pos.len() as u32;
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        let Some(p) = resources.get::<ParticlePipeline>() else {
            return;
        };
        pass.set_pipeline(&p.pipeline);
        pass.set_bind_group(0, &p.bind_group, &[]);
        match &self.source {
            ParticleSource::Gpu { pos, meta, n } => {
                pass.set_vertex_buffer(0, pos.slice(..));
                pass.set_vertex_buffer(1, meta.slice(..));
                pass.draw(0..6, 0..*n);
            }
            ParticleSource::Cpu(_) => {
                if let (Some(bp), Some(bm)) = (&p.cpu_pos, &p.cpu_meta) {
                    pass.set_vertex_buffer(0, bp.slice(..));
                    pass.set_vertex_buffer(1, bm.slice(..));
                    pass.draw(0..6, 0..p.cpu_len);
                }
            }
        }
    }
}

/// A perceptually ordered colormap (viridis, 9 stops, linear in between), `t` in [0, 1].
pub fn viridis(t: f32) -> Color32 {
    const STOPS: [[u8; 3]; 9] = [
        [68, 1, 84],
        [71, 44, 122],
        [59, 81, 139],
        [44, 113, 142],
        [33, 144, 141],
        [39, 173, 129],
        [92, 200, 99],
        [170, 220, 50],
        [253, 231, 37],
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (STOPS.len() - 1) as f32;
    let i = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - i as f32;
    let a = STOPS[i];
    let b = STOPS[i + 1];
    let mix = |k: usize| (f32::from(a[k]) * (1.0 - f) + f32::from(b[k]) * f).round() as u8;
    Color32::from_rgb(mix(0), mix(1), mix(2))
}

/// A diverging red–white–blue map for class probabilities, `t` in [0, 1].
pub fn diverging(t: f32) -> Color32 {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let lerp = |a: f32, b: f32, f: f32| (a * (1.0 - f) + b * f).round() as u8;
    if t < 0.5 {
        let f = t / 0.5;
        Color32::from_rgb(
            lerp(200.0, 245.0, f),
            lerp(60.0, 245.0, f),
            lerp(50.0, 245.0, f),
        )
    } else {
        let f = (t - 0.5) / 0.5;
        Color32::from_rgb(
            lerp(245.0, 50.0, f),
            lerp(245.0, 110.0, f),
            lerp(245.0, 200.0, f),
        )
    }
}

/// A heatmap image of `values` (`nx` × `ny`, row-major, row 0 at the bottom), colored by `map`
/// after scaling to [lo, hi] (log-scaled when `log`).
pub fn heatmap_image(
    values: &[f32],
    nx: usize,
    ny: usize,
    lo: f32,
    hi: f32,
    map: fn(f32) -> Color32,
) -> egui::ColorImage {
    let mut pixels = Vec::with_capacity(nx * ny);
    let span = (hi - lo).max(1e-12);
    for row in (0..ny).rev() {
        for col in 0..nx {
            let v = values.get(row * nx + col).copied().unwrap_or(f32::NAN);
            pixels.push(map((v - lo) / span));
        }
    }
    egui::ColorImage::new([nx, ny], pixels)
}

/// Robust color limits: the 2nd and 98th percentiles of the finite values.
pub fn limits(values: &[f32]) -> (f32, f32) {
    limits_q(values, 0.02, 0.98)
}

/// Color limits at quantiles `lo` and `hi` of the finite values (a narrow range shows detail
/// in the low part of a landscape, where the minima are).
pub fn limits_q(values: &[f32], lo: f64, hi: f64) -> (f32, f32) {
    let mut v: Vec<f32> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return (0.0, 1.0);
    }
    v.sort_by(f32::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    let (lo, hi) = (at(lo.clamp(0.0, 1.0)), at(hi.clamp(0.0, 1.0)));
    if hi > lo { (lo, hi) } else { (lo, lo + 1.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_particle_shader_parses_and_validates() {
        let module = naga::front::wgsl::parse_str(SHADER).expect("WGSL parses");
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&module)
        .expect("WGSL validates");
    }

    #[test]
    fn colormaps_cover_their_ends_and_clamp() {
        assert_eq!(viridis(0.0), Color32::from_rgb(68, 1, 84));
        assert_eq!(viridis(1.0), Color32::from_rgb(253, 231, 37));
        assert_eq!(viridis(7.0), viridis(1.0));
        assert_eq!(viridis(f32::NAN), viridis(0.0));
        assert_eq!(diverging(0.5), Color32::from_rgb(245, 245, 245));
        let (lo, hi) = limits(&[f32::NAN, 1.0, 2.0, 3.0, f32::INFINITY]);
        assert!(lo < hi && lo >= 1.0 && hi <= 3.0);
    }

    #[test]
    fn a_splat_draws_a_square_of_its_label_colour_per_particle_inside_the_plot() {
        // A 10×4 pixel plot of x in [0, 10], y in [0, 4]: a pixel per unit.
        let splat = ParticleSplat {
            state: Arc::new(ParticleState {
                pos: vec![[2.5, 3.5], [7.5, 0.5], [11.0, 1.0], [-0.5, 2.0]],
                meta: [1, 9, 0, 0].map(|l| [l, 0, 0, 0]).to_vec(),
                stats: Vec::new(),
                steps_done: 0,
            }),
            x: [0.0, 10.0],
            y: [0.0, 4.0],
            size: [10, 4],
            side: 1,
        };
        let img = splat.image();
        assert_eq!(img.size, [10, 4]);
        let at = |x: usize, y: usize| img.pixels[y * 10 + x];
        // y is up: y = 3.5 is the top row, y = 0.5 the bottom one.
        assert_eq!(at(2, 0), LABEL_COLORS[1]);
        // A label past the colours takes the last one (diverged).
        assert_eq!(at(7, 3), LABEL_COLORS[5]);
        // Outside the plot: nothing; everything else transparent.
        let drawn = img
            .pixels
            .iter()
            .filter(|&&c| c != Color32::TRANSPARENT)
            .count();
        assert_eq!(drawn, 2);
        // A side of 3 paints a 3×3 square around the particle: at the top edge it starts at the
        // edge (whole), at the bottom it is cut (two rows).
        let big = ParticleSplat { side: 3, ..splat }.image();
        let drawn = big
            .pixels
            .iter()
            .filter(|&&c| c != Color32::TRANSPARENT)
            .count();
        assert_eq!(drawn, 3 * 3 + 3 * 2);
    }
}
