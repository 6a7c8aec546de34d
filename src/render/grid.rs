//! A batch of images from one step of a run, drawn as a grid by `shaders/grid.wgsl`.
//!
//! Every step's x_t and x̂0 stay resident in two storage buffers, uploaded once
//! when the step arrives; the per-frame [`GridCallback`] only picks the step.
//! The grid is drawn at the images' own pixels into a texture when the step,
//! the quantity or the data changes, and magnified from it by nearest sampling
//! ([`super::cached`]).

use std::sync::atomic::{AtomicU64, Ordering};

use bytemuck::{Pod, Zeroable};
use egui_wgpu::wgpu;

use super::cached::{Blit, CachedLayer, draw_fullscreen};
use super::image::Quantity;
use super::{uniform_buffer, uniform_entry};

/// Bytes per stored value (f32).
const VALUE_BYTES: u64 = 4;

#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
struct GridUniform {
    frame: u32,
    batch: u32,
    width: u32,
    height: u32,
    cols: u32,
    quantity: u32,
    alpha_bar: f32,
    pad: f32,
}

/// One frame's grid: small and `Copy`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GridCallback {
    /// The step shown.
    pub frame: u32,
    /// ᾱ at that step's t (for ε̂, score and v̂).
    pub alpha_bar: f32,
    /// What to show.
    pub quantity: Quantity,
}

/// The layout of a run's images.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GridShape {
    /// Images per step.
    pub batch: u32,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Images per grid row.
    pub cols: u32,
}

impl GridShape {
    /// A near-square grid for `batch` images of `width × height`.
    #[must_use]
    pub fn new(batch: u32, width: u32, height: u32) -> Self {
        let cols = (1..=batch.max(1)).find(|c| c * c >= batch).unwrap_or(1);
        Self {
            batch,
            width,
            height,
            cols,
        }
    }

    /// Grid rows.
    #[must_use]
    pub fn rows(&self) -> u32 {
        self.batch.div_ceil(self.cols.max(1))
    }

    fn values_per_frame(&self) -> u64 {
        u64::from(self.batch) * u64::from(self.width) * u64::from(self.height)
    }
}

/// What the grid's texture shows; a new one redraws it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct GridKey {
    frame: u32,
    alpha_bar: f32,
    quantity: u32,
    /// The count of uploads and runs begun when it was drawn: new data.
    writes: u64,
}

/// The pipeline and the run's buffers, kept in `callback_resources`.
pub struct GridResources {
    pipeline: wgpu::RenderPipeline,
    cached: CachedLayer<GridKey>,
    /// Bumped by every upload and every run begun (uploads take `&self`).
    writes: AtomicU64,
    layout: wgpu::BindGroupLayout,
    params: wgpu::Buffer,
    xs: Option<wgpu::Buffer>,
    x0s: Option<wgpu::Buffer>,
    bind_group: Option<wgpu::BindGroup>,
    shape: GridShape,
    frames: u64,
}

impl GridResources {
    /// Builds the pipeline once, for the window's surface format.
    #[must_use]
    pub fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> Self {
        let storage_entry = |binding| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only: true },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let (pipeline, layout) = super::fullscreen_pipeline(
            device,
            target_format,
            include_str!("../../shaders/grid.wgsl"),
            "grid_fs",
            &[
                uniform_entry(0, wgpu::ShaderStages::FRAGMENT),
                storage_entry(1),
                storage_entry(2),
            ],
            None,
        );
        Self {
            pipeline,
            cached: CachedLayer::new(device, target_format, wgpu::FilterMode::Nearest, Blit::Opaque),
            writes: AtomicU64::new(0),
            layout,
            params: uniform_buffer(device, "grid params", std::mem::size_of::<GridUniform>()),
            xs: None,
            x0s: None,
            bind_group: None,
            shape: GridShape::default(),
            frames: 0,
        }
    }

    /// The most bytes one storage buffer may hold on this device.
    #[must_use]
    pub fn max_buffer_bytes(device: &wgpu::Device) -> u64 {
        let limits = device.limits();
        limits.max_buffer_size.min(limits.max_storage_buffer_binding_size)
    }

    /// Makes room for `frames` steps of `shape`, forgetting the old run.
    ///
    /// # Errors
    /// The run would not fit in one storage buffer on this device.
    pub fn begin_run(&mut self, device: &wgpu::Device, frames: usize, shape: GridShape) -> Result<(), String> {
        let bytes = frames as u64 * shape.values_per_frame() * VALUE_BYTES;
        let limit = Self::max_buffer_bytes(device);
        if bytes > limit {
            return Err(format!(
                "{frames} steps of {} images need {} MiB of GPU memory, more than this GPU's {} MiB per buffer: use fewer steps",
                shape.batch,
                bytes >> 20,
                limit >> 20
            ));
        }
        let buffer = |label| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size: bytes.max(VALUE_BYTES),
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        let (xs, x0s) = (buffer("run x_t"), buffer("run x0_hat"));
        self.bind_group = Some(device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("grid"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: self.params.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: xs.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: x0s.as_entire_binding(),
                },
            ],
        }));
        self.xs = Some(xs);
        self.x0s = Some(x0s);
        self.shape = shape;
        self.frames = frames as u64;
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Uploads the x_t of frames `first..`.
    pub fn upload_xs(&self, queue: &wgpu::Queue, first: usize, xs: &[&[f32]]) {
        self.write(queue, self.xs.as_ref(), first, xs);
    }

    /// Uploads the model's x̂0 made at frames `first..`.
    pub fn upload_x0s(&self, queue: &wgpu::Queue, first: usize, x0_hats: &[&[f32]]) {
        self.write(queue, self.x0s.as_ref(), first, x0_hats);
    }

    fn write(&self, queue: &wgpu::Queue, buffer: Option<&wgpu::Buffer>, first: usize, rows: &[&[f32]]) {
        let per_frame = self.shape.values_per_frame();
        if let Some(buffer) = buffer
            && (first + rows.len()) as u64 <= self.frames
            && rows.iter().all(|row| row.len() as u64 == per_frame)
            && super::write_rows(queue, buffer, first as u64 * per_frame * VALUE_BYTES, rows)
        {
            self.writes.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The bytes this run holds on the GPU, with the grid's texture.
    #[must_use]
    pub fn run_bytes(&self) -> u64 {
        self.xs.as_ref().map_or(0, wgpu::Buffer::size)
            + self.x0s.as_ref().map_or(0, wgpu::Buffer::size)
            + self.cached.texture_bytes()
    }

    fn prepare(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
        callback: &GridCallback,
    ) {
        let shape = self.shape;
        let cols = shape.cols.max(1);
        let uniform = GridUniform {
            frame: callback.frame,
            batch: shape.batch,
            width: shape.width,
            height: shape.height,
            cols,
            quantity: callback.quantity.code(),
            alpha_bar: callback.alpha_bar,
            pad: 0.0,
        };
        queue.write_buffer(&self.params, 0, bytemuck::bytes_of(&uniform));
        let Some(bind_group) = &self.bind_group else {
            return;
        };
        let key = GridKey {
            frame: callback.frame,
            alpha_bar: callback.alpha_bar,
            quantity: uniform.quantity,
            writes: self.writes.load(Ordering::Relaxed),
        };
        let size = [cols * shape.width, shape.rows() * shape.height];
        self.cached.refresh(
            device,
            encoder,
            |pass| draw_fullscreen(pass, &self.pipeline, bind_group),
            key,
            size,
        );
    }
}

impl egui_wgpu::CallbackTrait for GridCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        match resources.get_mut::<GridResources>() {
            Some(grid) => grid.prepare(device, queue, encoder, self),
            None => super::log_missing_once("GridResources"),
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        if let Some(grid) = resources.get::<GridResources>()
            && grid.bind_group.is_some()
            && u64::from(self.frame) < grid.frames
        {
            grid.cached.paint(pass);
        }
    }
}
