//! wgpu drawing, the egui way: pipelines built once from the render state and
//! kept in egui-wgpu's `callback_resources`; per-frame callbacks carry small
//! `Copy` data. No panels live here.

pub(crate) mod cached;
mod density_size;
pub mod faults;
pub mod grid;
pub mod image;
mod particles;
pub mod plane;
mod trails;

use egui_wgpu::{RenderState, wgpu};

/// Storage buffers the grid's fragment shader reads (the batch and its colours).
const GRID_FRAGMENT_STORAGE_BUFFERS: u32 = 2;

/// Builds every pipeline the device can run and stores it in the renderer's
/// callback resources; returns, in one line, what this device cannot draw.
///
/// A downlevel adapter (OpenGL ES, WebGL) may offer no storage buffers to
/// fragment shaders: the grid is then left out (its view logs once and stays
/// empty) rather than failing validation, and the window says so.
#[must_use]
pub fn install(render_state: &RenderState) -> Option<String> {
    let device = &render_state.device;
    let plane = plane::PlaneResources::new(device, render_state.target_format);
    let image = image::ImageResources::new(device, render_state.target_format);
    let offered = device.limits().max_storage_buffers_per_shader_stage;
    let grid = (offered >= GRID_FRAGMENT_STORAGE_BUFFERS)
        .then(|| grid::GridResources::new(device, render_state.target_format));
    let mut renderer = render_state.renderer.write();
    renderer.callback_resources.insert(plane);
    renderer.callback_resources.insert(image);
    match grid {
        Some(grid) => {
            renderer.callback_resources.insert(grid);
            None
        }
        None => {
            let text = format!(
                "this GPU offers {offered} storage buffers to fragment shaders, the image batch grid needs \
                 {GRID_FRAGMENT_STORAGE_BUFFERS}: the grid stays empty"
            );
            faults::log_once("grid unsupported", &text);
            Some(text)
        }
    }
}

/// Whether the adapter rasterises on the CPU (lavapipe, llvmpipe, WARP):
/// there every primitive pays for its setup and for each 4×4 block it
/// touches, however few of its pixels it covers.
#[must_use]
pub fn is_software(render_state: &RenderState) -> bool {
    render_state.adapter.get_info().device_type == wgpu::DeviceType::Cpu
}

/// The bytes of GPU memory every view's buffers and textures hold now (the
/// pipelines' own small buffers aside): what a leak would grow.
#[must_use]
pub fn held_bytes(render_state: &RenderState) -> u64 {
    let renderer = render_state.renderer.read();
    let resources = &renderer.callback_resources;
    resources
        .get::<plane::PlaneResources>()
        .map_or(0, plane::PlaneResources::held_bytes)
        + resources
            .get::<grid::GridResources>()
            .map_or(0, grid::GridResources::run_bytes)
        + resources
            .get::<image::ImageResources>()
            .map_or(0, image::ImageResources::texture_bytes)
}

/// Reports a missing GPU resource once per name, instead of panicking each frame.
pub fn log_missing_once(name: &'static str) {
    faults::log_once(
        &format!("missing {name}"),
        &format!("GPU resource {name} is missing; that view stays empty"),
    );
}

/// Builds the render pipelines of one shader module that share a layout.
pub(crate) struct PipelineBuilder<'a> {
    pub device: &'a wgpu::Device,
    pub layout: &'a wgpu::PipelineLayout,
    pub shader: &'a wgpu::ShaderModule,
    pub format: wgpu::TextureFormat,
    pub blend: Option<wgpu::BlendState>,
}

impl PipelineBuilder<'_> {
    /// The pipeline whose entry points are `{name}_vs` and `{name}_fs`.
    pub fn build(
        &self,
        name: &str,
        buffers: &[Option<wgpu::VertexBufferLayout<'_>>],
        topology: wgpu::PrimitiveTopology,
    ) -> wgpu::RenderPipeline {
        self.build_with(&format!("{name}_vs"), &format!("{name}_fs"), buffers, topology)
    }

    /// The pipeline with the entry points `vs` and `fs`.
    pub fn build_with(
        &self,
        vs: &str,
        fs: &str,
        buffers: &[Option<wgpu::VertexBufferLayout<'_>>],
        topology: wgpu::PrimitiveTopology,
    ) -> wgpu::RenderPipeline {
        self.device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some(fs),
            layout: Some(self.layout),
            vertex: wgpu::VertexState {
                module: self.shader,
                entry_point: Some(vs),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                buffers,
            },
            primitive: wgpu::PrimitiveState {
                topology,
                ..wgpu::PrimitiveState::default()
            },
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            fragment: Some(wgpu::FragmentState {
                module: self.shader,
                entry_point: Some(fs),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format: self.format,
                    blend: self.blend,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        })
    }
}

/// Writes `rows` one after another into `buffer` from byte `offset` through
/// one staging buffer; false if there is nothing to write or it does not fit.
/// A run streams dozens of steps between two frames, and each
/// `Queue::write_buffer` makes a staging allocation and a queued copy of its own.
pub(crate) fn write_rows(queue: &wgpu::Queue, buffer: &wgpu::Buffer, offset: u64, rows: &[&[f32]]) -> bool {
    let bytes: usize = rows.iter().map(|row| std::mem::size_of_val(*row)).sum();
    let Some(size) = wgpu::BufferSize::new(bytes as u64) else {
        return false;
    };
    if offset.saturating_add(size.get()) > buffer.size() {
        return false;
    }
    let Some(mut staging) = queue.write_buffer_with(buffer, offset, size) else {
        return false;
    };
    let mut at = 0;
    for row in rows {
        let row: &[u8] = bytemuck::cast_slice(row);
        staging.slice(at..at + row.len()).copy_from_slice(row);
        at += row.len();
    }
    true
}

/// A uniform buffer of `size` bytes, written each frame by a callback.
pub(crate) fn uniform_buffer(device: &wgpu::Device, label: &str, size: usize) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: size as u64,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// A bind-group layout entry for a uniform buffer.
pub(crate) fn uniform_entry(binding: u32, visibility: wgpu::ShaderStages) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    }
}

/// A pipeline that paints its whole viewport: `common.wgsl`'s `fullscreen_vs`
/// with the fragment entry point `fragment` of `source` (common.wgsl is
/// prepended), one bind group of `entries`, blended by `blend` (`None`: it
/// replaces what is there).
pub(crate) fn fullscreen_pipeline(
    device: &wgpu::Device,
    target_format: wgpu::TextureFormat,
    source: &str,
    fragment: &str,
    entries: &[wgpu::BindGroupLayoutEntry],
    blend: Option<wgpu::BlendState>,
) -> (wgpu::RenderPipeline, wgpu::BindGroupLayout) {
    let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(fragment),
        source: wgpu::ShaderSource::Wgsl(format!("{}\n{source}", include_str!("../../shaders/common.wgsl")).into()),
    });
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(fragment),
        entries,
    });
    let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(fragment),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let pipeline = PipelineBuilder {
        device,
        layout: &pipeline_layout,
        shader: &shader,
        format: target_format,
        blend,
    }
    .build_with("fullscreen_vs", fragment, &[], wgpu::PrimitiveTopology::TriangleList);
    (pipeline, layout)
}
