//! One frame for the paint worker, as bytes: what egui's pass produced (texture changes and the
//! tessellated meshes) and the canvas's size, written by the page ([`encode`]) and read back by
//! the worker's painter ([`decode`]). The CPU fallback paints in a worker so that the browser's
//! per-frame handling of the canvas (on a machine without a GPU, a readback of every WebGL
//! frame) stays off the page's main thread (`web/README.md`, "Speed").
//!
//! Layout, little-endian: a magic word, the canvas size in pixels, pixels per point and the
//! clear colour; the texture changes in the order egui gave them (each: the id, the options, the
//! patch position if any, the image size and its RGBA pixels); the ids to free; then what to
//! paint, in order:
//! meshes (the clip rectangle, the texture id, the indices and the vertices as egui lays them
//! out) and particle splats ([`sgdlab_ui::ParticleSplat`]: the clip rectangle, the plot's
//! rectangle, its ranges, the image's size, the square's side, the positions and the labels),
//! which the worker turns into an image and a textured quad. Other paint callbacks cannot cross
//! a thread and are left out (the fallback draws none).

use egui::epaint::{
    ClippedPrimitive, ColorImage, ImageData, ImageDelta, Mesh, Primitive, TextureId, Vertex,
};
use egui::{Color32, Pos2, Rect, TextureFilter, TextureOptions, TextureWrapMode, TexturesDelta};
use sgdlab_engine::landscape::ParticleState;
use sgdlab_ui::{MAX_SPLAT_SIDE, ParticleSplat};
use std::sync::Arc;

/// Something the worker paints.
#[derive(Clone)]
pub enum Painted {
    /// A mesh.
    Mesh {
        /// Where it may paint.
        clip_rect: Rect,
        /// The mesh.
        mesh: Mesh,
    },
    /// Particles to splat into `rect`.
    Splat {
        /// Where it may paint.
        clip_rect: Rect,
        /// The plot's rectangle, which the image covers.
        rect: Rect,
        /// The particles.
        splat: Arc<ParticleSplat>,
    },
}

/// The first word of every frame: "sgF1" (an sgdlab frame, layout 1).
const MAGIC: u32 = u32::from_le_bytes(*b"sgF1");

/// A frame as the worker paints it.
#[derive(Clone, Default)]
pub struct PaintFrame {
    /// The canvas's size in physical pixels (the worker sizes its `OffscreenCanvas` to it).
    pub size_px: [u32; 2],
    /// Physical pixels per egui point.
    pub pixels_per_point: f32,
    /// What the canvas is cleared to (normalized gamma RGBA, eframe's `App::clear_color`).
    pub clear_color: [f32; 4],
    /// Textures to create or patch, in order (a texture may be patched twice in one frame).
    pub set: Vec<(TextureId, ImageDelta)>,
    /// Textures to free after painting.
    pub free: Vec<TextureId>,
    /// What to paint, in order.
    pub primitives: Vec<Painted>,
}

impl PaintFrame {
    /// A frame from egui's output. Returns it with the number of paint callbacks left out (all
    /// but particle splats).
    pub fn new(
        size_px: [u32; 2],
        pixels_per_point: f32,
        clear_color: [f32; 4],
        mut textures: TexturesDelta,
        primitives: Vec<ClippedPrimitive>,
    ) -> (Self, usize) {
        let total = primitives.len();
        let primitives: Vec<_> = primitives
            .into_iter()
            .filter_map(|p| match p.primitive {
                Primitive::Mesh(mesh) => Some(Painted::Mesh {
                    clip_rect: p.clip_rect,
                    mesh,
                }),
                Primitive::Callback(c) => {
                    c.callback
                        .downcast::<ParticleSplat>()
                        .ok()
                        .map(|splat| Painted::Splat {
                            clip_rect: p.clip_rect,
                            rect: c.rect,
                            splat,
                        })
                }
            })
            .collect();
        let dropped = total - primitives.len();
        // Within one texture the deltas keep their order; across textures order does not matter.
        let set = std::mem::take(&mut textures.set)
            .into_iter()
            .flat_map(|(id, deltas)| deltas.into_iter().map(move |d| (id, d)))
            .collect();
        let free = std::mem::take(&mut textures.free).into_iter().collect();
        (
            Self {
                size_px,
                pixels_per_point,
                clear_color,
                set,
                free,
                primitives,
            },
            dropped,
        )
    }
}

/// Why a frame could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError(pub String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a paint frame could not be read: {}", self.0)
    }
}

impl std::error::Error for WireError {}

/// Appends `frame` to `out` (cleared first).
pub fn encode(frame: &PaintFrame, out: &mut Vec<u8>) {
    out.clear();
    let mut w = Writer(out);
    w.u32(MAGIC);
    w.u32(frame.size_px[0]);
    w.u32(frame.size_px[1]);
    w.f32(frame.pixels_per_point);
    for c in frame.clear_color {
        w.f32(c);
    }
    w.len(frame.set.len());
    for (id, delta) in &frame.set {
        w.texture_id(*id);
        w.options(delta.options);
        match delta.pos {
            Some([x, y]) => {
                w.u8(1);
                w.len(x);
                w.len(y);
            }
            None => w.u8(0),
        }
        let img = image(delta);
        w.len(img.size[0]);
        w.len(img.size[1]);
        w.f32(img.source_size.x);
        w.f32(img.source_size.y);
        w.bytes(bytemuck::cast_slice(&img.pixels));
    }
    w.len(frame.free.len());
    for id in &frame.free {
        w.texture_id(*id);
    }
    w.len(frame.primitives.len());
    for p in &frame.primitives {
        match p {
            Painted::Mesh { clip_rect, mesh } => {
                w.u8(0);
                w.rect(*clip_rect);
                w.texture_id(mesh.texture_id);
                w.len(mesh.indices.len());
                w.bytes(bytemuck::cast_slice(&mesh.indices));
                w.len(mesh.vertices.len());
                w.bytes(bytemuck::cast_slice(&mesh.vertices));
            }
            Painted::Splat {
                clip_rect,
                rect,
                splat,
            } => {
                w.u8(1);
                w.rect(*clip_rect);
                w.rect(*rect);
                for v in splat.x.iter().chain(&splat.y) {
                    w.f64(*v);
                }
                w.len(splat.size[0]);
                w.len(splat.size[1]);
                w.len(splat.side);
                let n = splat.state.pos.len().min(splat.state.meta.len());
                w.len(n);
                w.bytes(bytemuck::cast_slice(&splat.state.pos[..n]));
                w.0.extend(splat.labels().take(n));
            }
        }
    }
}

/// Reads a frame [`encode`] wrote. Every length is checked against the bytes left, so a
/// truncated or foreign message is an error, never a panic or a huge allocation.
pub fn decode(bytes: &[u8]) -> Result<PaintFrame, WireError> {
    let mut r = Reader { bytes, at: 0 };
    if r.u32()? != MAGIC {
        return Err(WireError("not a paint frame (wrong magic word)".into()));
    }
    let size_px = [r.u32()?, r.u32()?];
    let pixels_per_point = r.f32()?;
    let clear_color = [r.f32()?, r.f32()?, r.f32()?, r.f32()?];
    let n = r.count(1)?;
    let mut set = Vec::with_capacity(n);
    for _ in 0..n {
        let id = r.texture_id()?;
        let options = r.options()?;
        let pos = match r.u8()? {
            0 => None,
            1 => Some([r.len()?, r.len()?]),
            t => return Err(WireError(format!("patch flag {t}"))),
        };
        let size = [r.len()?, r.len()?];
        let source_size = egui::vec2(r.f32()?, r.f32()?);
        let count = size[0]
            .checked_mul(size[1])
            .ok_or_else(|| WireError("image size overflows".into()))?;
        let pixels: Vec<Color32> = r.pods(count)?;
        let image = ColorImage {
            size,
            source_size,
            pixels,
        };
        set.push((
            id,
            ImageDelta {
                image: ImageData::Color(Arc::new(image)),
                options,
                pos,
            },
        ));
    }
    let n = r.count(1)?;
    let free = (0..n).map(|_| r.texture_id()).collect::<Result<_, _>>()?;
    let n = r.count(1)?;
    let mut primitives = Vec::with_capacity(n);
    for _ in 0..n {
        let kind = r.u8()?;
        let clip_rect = r.rect()?;
        primitives.push(match kind {
            0 => Painted::Mesh {
                clip_rect,
                mesh: r.mesh()?,
            },
            1 => Painted::Splat {
                clip_rect,
                rect: r.rect()?,
                splat: Arc::new(r.splat()?),
            },
            k => return Err(WireError(format!("primitive kind {k}"))),
        });
    }
    if r.at != bytes.len() {
        return Err(WireError(format!(
            "{} bytes after the frame",
            bytes.len() - r.at
        )));
    }
    Ok(PaintFrame {
        size_px,
        pixels_per_point,
        clear_color,
        set,
        free,
        primitives,
    })
}

fn image(delta: &ImageDelta) -> &ColorImage {
    match &delta.image {
        ImageData::Color(c) => c,
    }
}

struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// Sizes and counts as u32 (wasm32's usize; nothing here reaches 4 Gi).
    fn len(&mut self, v: usize) {
        self.u32(u32::try_from(v).unwrap_or(u32::MAX));
    }
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    fn rect(&mut self, r: Rect) {
        for v in [r.min.x, r.min.y, r.max.x, r.max.y] {
            self.f32(v);
        }
    }
    fn texture_id(&mut self, id: TextureId) {
        match id {
            TextureId::Managed(n) => {
                self.u8(0);
                self.u64(n);
            }
            TextureId::User(n) => {
                self.u8(1);
                self.u64(n);
            }
        }
    }
    fn options(&mut self, o: TextureOptions) {
        let filter = |f: TextureFilter| match f {
            TextureFilter::Nearest => 0,
            TextureFilter::Linear => 1,
        };
        self.u8(filter(o.magnification));
        self.u8(filter(o.minification));
        self.u8(match o.wrap_mode {
            TextureWrapMode::ClampToEdge => 0,
            TextureWrapMode::Repeat => 1,
            TextureWrapMode::MirroredRepeat => 2,
        });
        self.u8(o.mipmap_mode.map_or(2, filter));
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], WireError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| {
                WireError(format!(
                    "{n} bytes wanted at {} of {}",
                    self.at,
                    self.bytes.len()
                ))
            })?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn f32(&mut self) -> Result<f32, WireError> {
        Ok(f32::from_le_bytes(self.array()?))
    }
    fn f64(&mut self) -> Result<f64, WireError> {
        Ok(f64::from_le_bytes(self.array()?))
    }
    fn len(&mut self) -> Result<usize, WireError> {
        Ok(self.u32()? as usize)
    }
    fn rect(&mut self) -> Result<Rect, WireError> {
        let min = Pos2::new(self.f32()?, self.f32()?);
        let max = Pos2::new(self.f32()?, self.f32()?);
        Ok(Rect::from_min_max(min, max))
    }
    /// A count of items at least `min_bytes` each: more than the bytes left is an error.
    fn count(&mut self, min_bytes: usize) -> Result<usize, WireError> {
        let n = self.len()?;
        if n.saturating_mul(min_bytes) > self.bytes.len() - self.at {
            return Err(WireError(format!(
                "{n} items in {} bytes",
                self.bytes.len()
            )));
        }
        Ok(n)
    }
    /// `n` plain values (the reader's bytes need not be aligned).
    fn pods<T: bytemuck::Pod>(&mut self, n: usize) -> Result<Vec<T>, WireError> {
        let bytes = n
            .checked_mul(size_of::<T>())
            .ok_or_else(|| WireError("a length overflows".into()))?;
        Ok(bytemuck::pod_collect_to_vec(self.take(bytes)?))
    }
    /// A mesh: its texture, indices (each within the vertices) and vertices.
    fn mesh(&mut self) -> Result<Mesh, WireError> {
        let texture_id = self.texture_id()?;
        let n = self.len()?;
        let indices: Vec<u32> = self.pods(n)?;
        let n = self.len()?;
        let vertices: Vec<Vertex> = self.pods(n)?;
        if let Some(bad) = indices.iter().find(|&&i| i as usize >= vertices.len()) {
            return Err(WireError(format!(
                "index {bad} of a mesh with {} vertices",
                vertices.len()
            )));
        }
        Ok(Mesh {
            indices,
            vertices,
            texture_id,
        })
    }

    /// A particle splat: its ranges, image size (at most [`MAX_SPLAT_SIDE`] a side), square
    /// side, positions and labels.
    fn splat(&mut self) -> Result<ParticleSplat, WireError> {
        let x = [self.f64()?, self.f64()?];
        let y = [self.f64()?, self.f64()?];
        let size = [self.len()?, self.len()?];
        if size.iter().any(|&s| s == 0 || s > MAX_SPLAT_SIDE) {
            return Err(WireError(format!("a splat of {size:?} pixels")));
        }
        let side = self.len()?.clamp(1, 64);
        let n = self.len()?;
        let pos: Vec<[f32; 2]> = self.pods(n)?;
        let meta = self
            .take(n)?
            .iter()
            .map(|&l| [u32::from(l), 0, 0, 0])
            .collect();
        Ok(ParticleSplat {
            state: Arc::new(ParticleState {
                pos,
                meta,
                stats: Vec::new(),
                steps_done: 0,
            }),
            x,
            y,
            size,
            side,
        })
    }

    fn texture_id(&mut self) -> Result<TextureId, WireError> {
        match self.u8()? {
            0 => Ok(TextureId::Managed(self.u64()?)),
            1 => Ok(TextureId::User(self.u64()?)),
            t => Err(WireError(format!("texture id kind {t}"))),
        }
    }
    fn options(&mut self) -> Result<TextureOptions, WireError> {
        let filter = |b: u8| match b {
            0 => Ok(TextureFilter::Nearest),
            1 => Ok(TextureFilter::Linear),
            b => Err(WireError(format!("texture filter {b}"))),
        };
        let magnification = filter(self.u8()?)?;
        let minification = filter(self.u8()?)?;
        let wrap_mode = match self.u8()? {
            0 => TextureWrapMode::ClampToEdge,
            1 => TextureWrapMode::Repeat,
            2 => TextureWrapMode::MirroredRepeat,
            b => return Err(WireError(format!("wrap mode {b}"))),
        };
        let mipmap_mode = match self.u8()? {
            2 => None,
            b => Some(filter(b)?),
        };
        Ok(TextureOptions {
            magnification,
            minification,
            wrap_mode,
            mipmap_mode,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(w: usize, h: usize, seed: u8, pos: Option<[usize; 2]>) -> ImageDelta {
        let pixels = (0..w * h)
            .map(|i| {
                let b = (i as u8).wrapping_mul(31).wrapping_add(seed);
                Color32::from_rgba_premultiplied(b, b ^ 0x55, seed, 255)
            })
            .collect();
        ImageDelta {
            image: ImageData::Color(Arc::new(ColorImage {
                size: [w, h],
                source_size: egui::vec2(w as f32, h as f32),
                pixels,
            })),
            options: TextureOptions {
                magnification: TextureFilter::Nearest,
                minification: TextureFilter::Linear,
                wrap_mode: TextureWrapMode::MirroredRepeat,
                mipmap_mode: Some(TextureFilter::Linear),
            },
            pos,
        }
    }

    fn mesh(texture: TextureId, n: u32, clip: f32) -> ClippedPrimitive {
        let vertices = (0..n)
            .map(|i| Vertex {
                pos: Pos2::new(i as f32 * 1.5, -(i as f32)),
                uv: Pos2::new(0.25, i as f32 / 7.0),
                color: Color32::from_rgba_unmultiplied(i as u8, 2, 3, 200),
            })
            .collect();
        ClippedPrimitive {
            clip_rect: Rect::from_min_max(Pos2::new(clip, 1.0), Pos2::new(640.0, 480.5)),
            primitive: Primitive::Mesh(Mesh {
                indices: (0..n).rev().collect(),
                vertices,
                texture_id: texture,
            }),
        }
    }

    fn as_painted(p: ClippedPrimitive) -> Painted {
        let Primitive::Mesh(mesh) = p.primitive else {
            unreachable!("the tests' meshes are meshes")
        };
        Painted::Mesh {
            clip_rect: p.clip_rect,
            mesh,
        }
    }

    fn splat() -> Painted {
        Painted::Splat {
            clip_rect: Rect::from_min_max(Pos2::new(10.0, 20.0), Pos2::new(300.0, 200.0)),
            rect: Rect::from_min_max(Pos2::new(12.0, 22.0), Pos2::new(290.0, 190.5)),
            splat: Arc::new(ParticleSplat {
                state: Arc::new(ParticleState {
                    pos: vec![[0.5, 0.0], [-1.25, 2.0], [3.0, -0.5]],
                    meta: vec![[0, 0, 0, 0], [5, 0, 0, 0], [2, 0, 0, 0]],
                    stats: Vec::new(),
                    steps_done: 0,
                }),
                x: [-2.0, 4.0],
                y: [-1.0, 1.0],
                size: [278, 169],
                side: 3,
            }),
        }
    }

    fn sample() -> PaintFrame {
        PaintFrame {
            size_px: [1024, 700],
            pixels_per_point: 1.25,
            clear_color: [0.1, 0.2, 0.3, 0.75],
            set: vec![
                (TextureId::Managed(0), delta(5, 3, 1, None)),
                (TextureId::User(7), delta(2, 2, 9, Some([3, 1]))),
                (TextureId::Managed(0), delta(1, 1, 4, Some([4, 2]))),
            ],
            free: vec![TextureId::Managed(3)],
            primitives: vec![
                as_painted(mesh(TextureId::Managed(0), 6, 0.0)),
                splat(),
                as_painted(mesh(TextureId::User(7), 3, 10.0)),
            ],
        }
    }

    /// What is painted, in comparable form.
    #[derive(Debug, PartialEq)]
    enum Seen {
        Mesh(Rect, Mesh),
        Splat(Rect, Rect, ParticleSplat),
    }

    /// Everything a frame says, in comparable form.
    type Parts = (
        [u32; 2],
        f32,
        [f32; 4],
        Vec<(
            TextureId,
            [usize; 2],
            Vec<Color32>,
            TextureOptions,
            Option<[usize; 2]>,
        )>,
        Vec<TextureId>,
        Vec<Seen>,
    );

    fn seen(p: &Painted) -> Seen {
        match p {
            Painted::Mesh { clip_rect, mesh } => Seen::Mesh(*clip_rect, mesh.clone()),
            Painted::Splat {
                clip_rect,
                rect,
                splat,
            } => Seen::Splat(*clip_rect, *rect, (**splat).clone()),
        }
    }

    fn parts(f: &PaintFrame) -> Parts {
        (
            f.size_px,
            f.pixels_per_point,
            f.clear_color,
            f.set
                .iter()
                .map(|(id, d)| {
                    (
                        *id,
                        image(d).size,
                        image(d).pixels.clone(),
                        d.options,
                        d.pos,
                    )
                })
                .collect(),
            f.free.clone(),
            f.primitives.iter().map(seen).collect(),
        )
    }

    fn bytes_of(frame: &PaintFrame) -> Vec<u8> {
        let mut b = Vec::new();
        encode(frame, &mut b);
        b
    }

    #[test]
    fn a_frame_reads_back_as_written() {
        let frame = sample();
        let mut bytes = vec![0xff; 3];
        encode(&frame, &mut bytes);
        let read = decode(&bytes).expect("decodes");
        assert_eq!(parts(&read), parts(&frame));
        assert_eq!(image(&read.set[1].1).source_size, egui::vec2(2.0, 2.0));
        let empty = PaintFrame::default();
        assert_eq!(
            parts(&decode(&bytes_of(&empty)).expect("decodes")),
            parts(&empty)
        );
    }

    #[test]
    fn truncated_extended_or_foreign_bytes_are_errors() {
        let bytes = bytes_of(&sample());
        for cut in [0, 3, 4, 17, 33, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        let mut foreign = bytes.clone();
        foreign[0] ^= 1;
        assert!(decode(&foreign).is_err());
        // A count of 2^32-1 textures in a short message: an error, not an allocation.
        let mut huge = bytes[..32].to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge).is_err());
        // An image whose size overflows, or outruns the bytes: errors.
        let mut big = bytes[..32].to_vec();
        big.extend_from_slice(&1u32.to_le_bytes());
        big.extend_from_slice(&[0; 14]);
        big.extend_from_slice(&u32::MAX.to_le_bytes());
        big.extend_from_slice(&u32::MAX.to_le_bytes());
        big.extend_from_slice(&[0; 8]);
        assert!(decode(&big).is_err());
    }

    #[test]
    fn an_index_past_the_vertices_is_an_error() {
        let mut frame = sample();
        if let Painted::Mesh { mesh, .. } = &mut frame.primitives[2] {
            mesh.indices[0] = 3;
        }
        match decode(&bytes_of(&frame)) {
            Err(e) => assert!(e.0.contains("index 3"), "{e}"),
            Ok(_) => panic!("a mesh indexing past its vertices was read"),
        }
    }

    #[test]
    fn a_splat_larger_than_the_worker_makes_is_an_error() {
        for size in [[MAX_SPLAT_SIDE + 1, 10], [10, 0]] {
            let mut frame = sample();
            if let Painted::Splat { splat, .. } = &mut frame.primitives[1] {
                Arc::make_mut(splat).size = size;
            }
            match decode(&bytes_of(&frame)) {
                Err(e) => assert!(e.0.contains("splat"), "{e}"),
                Ok(_) => panic!("a splat of {size:?} pixels was read"),
            }
        }
    }

    #[test]
    fn splats_are_kept_and_other_paint_callbacks_left_out_and_counted() {
        let callback = |payload: Arc<dyn std::any::Any + Send + Sync>| ClippedPrimitive {
            clip_rect: Rect::EVERYTHING,
            primitive: Primitive::Callback(egui::epaint::PaintCallback {
                rect: Rect::from_min_max(Pos2::ZERO, Pos2::new(5.0, 5.0)),
                callback: payload,
            }),
        };
        let Painted::Splat { splat: s, .. } = splat() else {
            unreachable!()
        };
        let kept = mesh(TextureId::Managed(0), 3, 0.0);
        let (frame, dropped) = PaintFrame::new(
            [1, 1],
            1.0,
            [0.0; 4],
            TexturesDelta::default(),
            vec![callback(Arc::new(())), kept.clone(), callback(s.clone())],
        );
        assert_eq!(dropped, 1);
        let Primitive::Mesh(m) = kept.primitive else {
            unreachable!()
        };
        assert_eq!(
            frame.primitives.iter().map(seen).collect::<Vec<_>>(),
            vec![
                Seen::Mesh(kept.clip_rect, m),
                Seen::Splat(
                    Rect::EVERYTHING,
                    Rect::from_min_max(Pos2::ZERO, Pos2::new(5.0, 5.0)),
                    (*s).clone()
                ),
            ]
        );
    }
}
