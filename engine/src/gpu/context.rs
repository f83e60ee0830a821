//! The wgpu device and queue the kernels run on (burn's, natively; the page's in a browser),
//! buffer helpers and asynchronous readback.

use crate::error::{EngineError, Result};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// The wgpu handles the kernels run on (natively the ones burn's runtime uses).
#[derive(Clone, Debug)]
pub struct GpuContext {
    /// The logical device.
    pub device: wgpu::Device,
    /// Its queue (shared with burn where burn computes on wgpu).
    pub queue: wgpu::Queue,
    /// The device's limits (buffer sizes, dispatch sizes).
    pub limits: wgpu::Limits,
}

impl GpuContext {
    /// A context over a device and queue someone else set up (the browser's WebGPU device).
    pub fn new(device: wgpu::Device, queue: wgpu::Queue) -> Self {
        let limits = device.limits();
        Self {
            device,
            queue,
            limits,
        }
    }

    /// The context of burn's wgpu device (initializing it on first use).
    #[cfg(feature = "burn-wgpu")]
    pub fn shared() -> Result<Self> {
        let setup = crate::device::wgpu_setup()?;
        Ok(Self::new(setup.device, setup.queue))
    }

    /// Without burn's wgpu backend there is no shared device: the caller creates one and passes
    /// it ([`Self::new`]).
    #[cfg(not(feature = "burn-wgpu"))]
    pub fn shared() -> Result<Self> {
        Err(EngineError::Device(
            "this build has no shared wgpu device (built without the engine's `burn-wgpu` \
             feature): pass a GpuContext"
                .into(),
        ))
    }

    /// A compute pipeline for a complete WGSL module with entry point `main`.
    pub fn pipeline(&self, label: &str, source: &str) -> wgpu::ComputePipeline {
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(label),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            });
        self.device
            .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(label),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            })
    }

    /// A storage buffer initialized with `bytes` (copy source and destination too).
    pub fn storage(&self, label: &str, bytes: &[u8]) -> wgpu::Buffer {
        let buf = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (bytes.len().max(4) as u64).next_multiple_of(4),
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.queue.write_buffer(&buf, 0, bytes);
        buf
    }

    /// A storage buffer like [`Self::storage`] that can also be bound as a vertex buffer (for
    /// drawing what a kernel computed without reading it back).
    pub fn storage_vertex(&self, label: &str, bytes: &[u8]) -> wgpu::Buffer {
        let buf = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (bytes.len().max(4) as u64).next_multiple_of(4),
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::VERTEX
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.queue.write_buffer(&buf, 0, bytes);
        buf
    }

    /// A uniform buffer of `size` bytes.
    pub fn uniform(&self, label: &str, size: u64) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// Checks that a storage buffer of `bytes` fits the device; the error names `field` and the
    /// largest count that fits (`per_item` bytes each).
    pub fn check_storage(&self, field: &str, items: usize, per_item: u64) -> Result<()> {
        let max = self
            .limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size);
        let bytes = items as u64 * per_item;
        if bytes > max {
            return Err(EngineError::config(
                field,
                format!(
                    "this device's storage buffers hold at most {max} bytes: expected 1 to {} items, found {items}",
                    max / per_item
                ),
            ));
        }
        Ok(())
    }

    /// Workgroup counts `(x, y)` and the row stride (in invocations) to cover `n` invocations of
    /// a kernel with workgroup size `wg`, within the device's per-dimension dispatch limit.
    pub fn dispatch_2d(&self, n: usize, wg: u32) -> Result<(u32, u32, u32)> {
        let groups = n.div_ceil(wg as usize) as u64;
        let max = u64::from(self.limits.max_compute_workgroups_per_dimension);
        let gx = groups.clamp(1, max);
        let gy = groups.div_ceil(gx);
        if gy > max {
            return Err(EngineError::config(
                "particles",
                format!(
                    "the device dispatches at most {} invocations: found {n}",
                    max * max * u64::from(wg)
                ),
            ));
        }
        Ok((gx as u32, gy as u32, gx as u32 * wg))
    }

    /// Reads `size` bytes of `buffer` back asynchronously: copy to a mappable buffer, then await
    /// `map_async`. Usable from wasm; natively, drive it with [`GpuContext::block_on`].
    pub fn read_bytes(
        &self,
        buffer: &wgpu::Buffer,
        size: u64,
    ) -> impl Future<Output = Result<Vec<u8>>> + use<> {
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("sgdlab readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("readback"),
            });
        enc.copy_buffer_to_buffer(buffer, 0, &staging, 0, size);
        self.queue.submit([enc.finish()]);
        let mapped = MapFuture::new(&staging);
        async move {
            mapped.await?;
            let bytes = staging
                .slice(..)
                .get_mapped_range()
                .map_err(|e| EngineError::Device(format!("reading a mapped buffer: {e}")))?
                .to_vec();
            staging.unmap();
            Ok(bytes)
        }
    }

    /// Runs a future that waits on this device, polling the device between future polls (native
    /// only; in a browser, `.await` it instead).
    pub fn block_on<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        let mut fut = std::pin::pin!(fut);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                return v;
            }
            self.device
                .poll(wgpu::PollType::wait_indefinitely())
                .map_err(|e| EngineError::Device(format!("waiting for the GPU: {e}")))?;
        }
    }
}

#[derive(Default)]
struct MapState {
    outcome: Option<std::result::Result<(), String>>,
    waker: Option<Waker>,
}

/// Resolves when `map_async` on a buffer completes.
struct MapFuture {
    state: Arc<Mutex<MapState>>,
}

impl MapFuture {
    fn new(buffer: &wgpu::Buffer) -> Self {
        let state = Arc::new(Mutex::new(MapState::default()));
        let s = state.clone();
        buffer.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let mut st = s.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            st.outcome = Some(r.map_err(|e| e.to_string()));
            if let Some(w) = st.waker.take() {
                w.wake();
            }
        });
        Self { state }
    }
}

impl Future for MapFuture {
    type Output = Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mut st = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match st.outcome.take() {
            Some(r) => {
                Poll::Ready(r.map_err(|e| EngineError::Device(format!("mapping a buffer: {e}"))))
            }
            None => {
                st.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// 32-bit words from little-endian bytes.
pub fn bytes_to_u32(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// `f32`s from little-endian bytes.
pub fn bytes_to_f32(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
