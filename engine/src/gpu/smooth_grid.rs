//! The smoothed landscape on a grid on the GPU: the WGSL kernel `smooth_grid.wgsl`, mirroring
//! [`crate::landscape::smooth_grid_cpu`].

use super::context::{GpuContext, bytes_to_f32};
use super::particles::f32_bytes;
use crate::error::Result;
use crate::landscape::{Grid, PackedLandscape, Smoothing, split_seed};

/// Evaluates `g` on every grid point on the GPU and reads it back (asynchronously).
pub async fn smooth_grid_gpu_async(
    ctx: &GpuContext,
    land: &PackedLandscape,
    s: &Smoothing,
    grid: &Grid,
) -> Result<Vec<f32>> {
    let n = grid.len();
    ctx.check_storage("grid", n, 4)?;
    let (gx, gy, stride) = ctx.dispatch_2d(n, sgdlab_shaders::WORKGROUP_SIZE)?;
    let pipeline = ctx.pipeline("smooth_grid", &sgdlab_shaders::smooth_grid_source());
    let land_buf = ctx.storage("landscape", &f32_bytes(&land.0));
    let out = ctx.storage("smoothed", &vec![0u8; n * 4]);
    let params = ctx.uniform("grid params", 64);
    let (lo, hi) = split_seed(s.seed);
    let mut b = Vec::with_capacity(64);
    for w in [
        grid.nx,
        grid.ny,
        s.samples,
        land.0[1] as u32,
        lo,
        hi,
        s.noise.kind.code(),
        stride,
    ] {
        b.extend_from_slice(&w.to_le_bytes());
    }
    for f in [
        grid.x.0,
        grid.x.1,
        grid.y.0,
        grid.y.1,
        s.lr,
        s.noise.sigma,
        s.noise.alpha,
        0.0,
    ] {
        b.extend_from_slice(&f.to_le_bytes());
    }
    ctx.queue.write_buffer(&params, 0, &b);
    let layout = pipeline.get_bind_group_layout(0);
    let bind_group = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("smooth_grid"),
        layout: &layout,
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: params.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: land_buf.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 2,
                resource: out.as_entire_binding(),
            },
        ],
    });
    let mut enc = ctx
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("smooth_grid"),
        });
    {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("smooth_grid"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(gx, gy, 1);
    }
    ctx.queue.submit([enc.finish()]);
    let bytes = ctx.read_bytes(&out, n as u64 * 4).await?;
    Ok(bytes_to_f32(&bytes))
}

/// [`smooth_grid_gpu_async`], blocking on a device-poll loop (native).
pub fn smooth_grid_gpu(
    ctx: &GpuContext,
    land: &PackedLandscape,
    s: &Smoothing,
    grid: &Grid,
) -> Result<Vec<f32>> {
    ctx.block_on(smooth_grid_gpu_async(ctx, land, s, grid))
}
