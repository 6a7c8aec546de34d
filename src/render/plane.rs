//! The 2D scene on the GPU: the noised density p_t (through a texture redrawn
//! only when it changes, [`super::cached`]), particle trails and particles.
//!
//! Every step of a run stays resident in one vertex buffer (`steps × particles`
//! positions), so scrubbing only changes the per-frame [`PlaneCallback`], a small
//! `Copy` value; a step is uploaded once, when it arrives. The model's x̂0 at
//! each step (E[x0|x_t] for the exact mixture: Tweedie's formula) sits in a
//! second buffer of the same shape, drawn on demand with a segment from x_t.
//!
//! A picture that held still for a frame is kept whole in a texture at the
//! view's pixels and copied from then on ([`super::cached`]): the window
//! repaints for hovers, controls and timers while the figure stays the same.

use std::num::NonZeroU64;

use bytemuck::{Pod, Zeroable};
use egui_wgpu::wgpu;

use super::cached::{Blit, CachedLayer, draw_fullscreen};
pub use super::density_size::density_side_for;
use super::trails::{TrailIndices, TrailSegments, line_pipeline};
use super::{PipelineBuilder, uniform_buffer, uniform_entry};

/// The most mixture components the density shader draws.
pub const MAX_COMPONENTS: usize = 32;
/// Particles whose x_t → x̂0 segment is drawn: all 2000 hid the picture.
const X0_SEGMENTS: u32 = 300;
/// Bytes per particle position (two f32), in every positions buffer.
pub(super) const POSITION_BYTES: u64 = 8;
/// Bytes per score arrow (origin and direction, four f32).
const ARROW_BYTES: u64 = 16;

/// What the density's texture shows; a new one redraws it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct DensityKey {
    /// The view uniform's centre, scale, ᾱ_t and gain.
    view: [f32; 6],
    /// Bumped when the mixture changes.
    mixture_generation: u64,
}

/// What the whole picture shows: the callback, and everything uploaded.
#[derive(Clone, Copy, Debug, PartialEq)]
struct PictureKey {
    callback: PlaneCallback,
    /// [`PlaneResources::generation`] when it was drawn.
    generation: u64,
}

/// Where the data plane sits and how it looks, for one frame.
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[repr(C)]
pub struct ViewUniform {
    /// The data point at the centre of the viewport.
    pub center: [f32; 2],
    /// clip = (p − center) · scale.
    pub scale: [f32; 2],
    /// A particle's radius in clip units (x, y).
    pub point_radius: [f32; 2],
    /// Half a trail quad's width in clip units (x, y); lines ignore it.
    pub trail_half_width: [f32; 2],
    /// ᾱ_t of the density shown.
    pub alpha_bar: f32,
    /// Brightness of the density (1 = peak maps to full colour).
    pub density_gain: f32,
    /// Unused: WGSL aligns the colours below to 16 bytes.
    pub padding: [f32; 2],
    /// Premultiplied later; straight RGBA here.
    pub particle_color: [f32; 4],
    /// Straight RGBA of the trails.
    pub trail_color: [f32; 4],
    /// Straight RGBA of the x̂0 points and their segments from x_t.
    pub x0_color: [f32; 4],
    /// Straight RGBA of the score arrows.
    pub arrow_color: [f32; 4],
    /// The score arrows' size: clip units per point, an arrow's length in
    /// points per unit of its direction, the shaft's half-width and the
    /// head's longest length, both in points.
    pub arrow_geometry: [f32; 4],
}

#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
struct MixtureUniform {
    count: u32,
    pad: [u32; 3],
    components: [[f32; 4]; MAX_COMPONENTS],
}

/// What to draw this frame: small and `Copy`, as egui callbacks want.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlaneCallback {
    /// The view and colours.
    pub view: ViewUniform,
    /// The step whose particles are shown.
    pub step: u32,
    /// The first step whose trail segment is drawn.
    pub trail_from: u32,
    /// Particles per step to draw.
    pub particles: u32,
    /// How many of them get trails.
    pub trail_particles: u32,
    /// Whether trails are one-pixel GPU lines (`trail_line_vs`), not quads
    /// of `ViewUniform::trail_half_width`: for trails about a pixel wide.
    pub trail_lines: bool,
    /// Steps per trail segment: trails pass through every step that is a
    /// multiple of this, then end at `step`.
    pub trail_stride: u32,
    /// Whether to draw the density behind.
    pub show_density: bool,
    /// Texels per side of the density's texture (see [`density_side_for`]).
    pub density_side: u32,
    /// Whether to draw the score arrows set by [`PlaneResources::set_arrows`].
    pub show_score: bool,
    /// Whether to draw each particle's x̂0, joined to it.
    pub show_x0: bool,
    /// The view's side in physical pixels: the size of the kept picture.
    pub view_pixels: u32,
}

/// The pipelines and buffers, kept in egui-wgpu's `callback_resources`.
pub struct PlaneResources {
    /// Draws p_t into `density_texture`, which is what the view shows.
    density: wgpu::RenderPipeline,
    density_texture: CachedLayer<DensityKey>,
    /// Bumped by [`Self::set_mixture`], so the density is redrawn.
    mixture_generation: u64,
    /// The whole picture once it has held still ([`PictureKey`]); `None`
    /// only while it is being redrawn.
    picture: Option<CachedLayer<PictureKey>>,
    /// The picture the last frame asked for.
    previous_picture: Option<PictureKey>,
    /// Bumped by every upload, so a kept picture is never shown stale.
    generation: u64,
    /// Whether the last paint copied the kept picture (for tests and benches).
    copied_last: std::sync::atomic::AtomicBool,
    particles: wgpu::RenderPipeline,
    /// Particles eight an instance (`particles.rs`); `particles` draws the rest.
    particle_batches: wgpu::RenderPipeline,
    trails: wgpu::RenderPipeline,
    trail_lines: wgpu::RenderPipeline,
    /// The trails' segments as index pairs into `positions`, for `trail_lines`.
    trail_indices: TrailIndices,
    x0_particles: wgpu::RenderPipeline,
    x0_segments: wgpu::RenderPipeline,
    arrows: wgpu::RenderPipeline,
    /// Each score arrow's origin (data units) and direction (longest = 1).
    arrow_instances: wgpu::Buffer,
    arrow_count: u32,
    bind_group: wgpu::BindGroup,
    view_buffer: wgpu::Buffer,
    mixture_buffer: wgpu::Buffer,
    positions: wgpu::Buffer,
    /// x̂0 made at each step, laid out as `positions`.
    x0_positions: wgpu::Buffer,
    particles_per_step: u64,
    steps_capacity: u64,
    steps_uploaded: u64,
    /// Steps whose x̂0 is on the GPU (they arrive in order).
    x0_steps_uploaded: u64,
}

impl PlaneResources {
    /// Builds the pipelines once, for the window's surface format.
    #[must_use]
    pub fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat) -> Self {
        let shader = plane_shader(device);
        let (layout, bind_group, view_buffer, mixture_buffer) = uniforms(device);
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("plane"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let builder = PipelineBuilder {
            device,
            layout: &pipeline_layout,
            shader: &shader,
            format: target_format,
            blend: Some(wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING),
        };
        let position_attribute = |location| wgpu::VertexAttribute {
            format: wgpu::VertexFormat::Float32x2,
            offset: 0,
            shader_location: location,
        };
        let instance_layout = |attributes| wgpu::VertexBufferLayout {
            array_stride: POSITION_BYTES,
            step_mode: wgpu::VertexStepMode::Instance,
            attributes,
        };
        let at0 = [position_attribute(0)];
        let at1 = [position_attribute(1)];
        let arrow_attributes = [
            position_attribute(0),
            wgpu::VertexAttribute {
                offset: POSITION_BYTES,
                ..position_attribute(1)
            },
        ];
        let arrow_layout = wgpu::VertexBufferLayout {
            array_stride: ARROW_BYTES,
            step_mode: wgpu::VertexStepMode::Instance,
            attributes: &arrow_attributes,
        };
        Self {
            density: builder.build_with(
                "fullscreen_vs",
                "density_fs",
                &[],
                wgpu::PrimitiveTopology::TriangleList,
            ),
            particles: builder.build(
                "particle",
                &[Some(instance_layout(&at0))],
                wgpu::PrimitiveTopology::TriangleList,
            ),
            trails: builder.build(
                "trail",
                &[Some(instance_layout(&at0)), Some(instance_layout(&at1))],
                wgpu::PrimitiveTopology::TriangleStrip,
            ),
            trail_lines: line_pipeline(&builder),
            particle_batches: super::particles::batch_pipeline(&builder),
            x0_particles: builder.build_with(
                "particle_vs",
                "x0_fs",
                &[Some(instance_layout(&at0))],
                wgpu::PrimitiveTopology::TriangleList,
            ),
            x0_segments: builder.build_with(
                "trail_vs",
                "x0_segment_fs",
                &[Some(instance_layout(&at0)), Some(instance_layout(&at1))],
                wgpu::PrimitiveTopology::TriangleStrip,
            ),
            arrows: builder.build("arrow", &[Some(arrow_layout)], wgpu::PrimitiveTopology::TriangleList),
            density_texture: CachedLayer::new(device, target_format, wgpu::FilterMode::Linear, Blit::Opaque),
            mixture_generation: 0,
            // At the view's own pixels, so nearest sampling copies it texel for pixel.
            picture: Some(CachedLayer::new(
                device,
                target_format,
                wgpu::FilterMode::Nearest,
                Blit::Over,
            )),
            previous_picture: None,
            generation: 0,
            copied_last: std::sync::atomic::AtomicBool::new(false),
            trail_indices: TrailIndices::new(device),
            arrow_instances: positions_buffer(device, 2),
            arrow_count: 0,
            bind_group,
            view_buffer,
            mixture_buffer,
            positions: positions_buffer(device, 1),
            x0_positions: positions_buffer(device, 1),
            particles_per_step: 0,
            steps_capacity: 0,
            steps_uploaded: 0,
            x0_steps_uploaded: 0,
        }
    }

    /// Sets the mixture the density shows (the first [`MAX_COMPONENTS`]).
    pub fn set_mixture(&mut self, queue: &wgpu::Queue, components: &[[f32; 4]]) {
        let mut uniform = MixtureUniform::zeroed();
        let count = components.len().min(MAX_COMPONENTS);
        uniform.components[..count].copy_from_slice(&components[..count]);
        uniform.count = u32::try_from(count).unwrap_or(0);
        queue.write_buffer(&self.mixture_buffer, 0, bytemuck::bytes_of(&uniform));
        self.mixture_generation += 1;
        self.generation += 1;
        self.density_texture.invalidate();
    }

    /// Sets the score arrows: (origin x, origin y, direction x, direction y)
    /// each, origins in data units, the longest direction of length 1.
    pub fn set_arrows(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, arrows: &[[f32; 4]]) {
        let bytes = arrows.len() as u64 * ARROW_BYTES;
        if bytes > self.arrow_instances.size() {
            self.arrow_instances = positions_buffer(device, bytes / POSITION_BYTES);
        }
        queue.write_buffer(&self.arrow_instances, 0, bytemuck::cast_slice(arrows));
        self.arrow_count = u32::try_from(arrows.len()).unwrap_or(0);
        self.generation += 1;
    }

    /// Makes room for a run of `steps` frames of `particles` points, forgetting the old run.
    pub fn begin_run(&mut self, device: &wgpu::Device, steps: usize, particles: usize) {
        let (steps, particles) = (steps as u64, particles as u64);
        if steps * particles * POSITION_BYTES > self.positions.size() {
            self.positions = positions_buffer(device, steps * particles);
            self.x0_positions = positions_buffer(device, steps * particles);
        }
        self.steps_capacity = steps;
        self.particles_per_step = particles;
        self.steps_uploaded = 0;
        self.x0_steps_uploaded = 0;
        self.generation += 1;
    }

    /// Uploads the model's x̂0 made at steps `first..` (x, y pairs each);
    /// ignored if they do not fit.
    pub fn upload_x0s(&mut self, queue: &wgpu::Queue, first: usize, x0s: &[&[f32]]) {
        if let Some(offset) = self.offset_of(first, x0s)
            && super::write_rows(queue, &self.x0_positions, offset, x0s)
        {
            self.x0_steps_uploaded = self.x0_steps_uploaded.max((first + x0s.len()) as u64);
            self.generation += 1;
        }
    }

    /// Uploads the positions of steps `first..` (x, y pairs each); ignored if
    /// they do not fit.
    pub fn upload_steps(&mut self, queue: &wgpu::Queue, first: usize, steps: &[&[f32]]) {
        if let Some(offset) = self.offset_of(first, steps)
            && super::write_rows(queue, &self.positions, offset, steps)
        {
            self.steps_uploaded = self.steps_uploaded.max((first + steps.len()) as u64);
            self.generation += 1;
        }
    }

    /// Where step `first` starts in a positions buffer, if `steps` from there
    /// fit the run and each holds one step's particles.
    fn offset_of(&self, first: usize, steps: &[&[f32]]) -> Option<u64> {
        let fits = (first + steps.len()) as u64 <= self.steps_capacity
            && steps
                .iter()
                .all(|step| step.len() as u64 == 2 * self.particles_per_step);
        fits.then(|| self.step_start(first as u64))
    }

    /// Where step `step` starts in a positions buffer (x_t's or x̂0's), in bytes.
    fn step_start(&self, step: u64) -> u64 {
        step * self.particles_per_step * POSITION_BYTES
    }

    /// How many steps of the current run are on the GPU.
    #[must_use]
    pub fn steps_uploaded(&self) -> u64 {
        self.steps_uploaded
    }

    /// The bytes held for run positions (x_t and x̂0).
    #[must_use]
    pub fn position_bytes(&self) -> u64 {
        self.positions.size() + self.x0_positions.size()
    }

    /// The bytes held for run positions and the density's and the picture's textures.
    #[must_use]
    pub fn held_bytes(&self) -> u64 {
        self.position_bytes()
            + self.density_texture.texture_bytes()
            + self.picture.as_ref().map_or(0, CachedLayer::texture_bytes)
    }

    /// Whether the last frame's picture was copied from the kept one, not drawn layer by layer.
    #[must_use]
    pub fn copied_kept_picture(&self) -> bool {
        self.copied_last.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn picture_key(&self, callback: &PlaneCallback) -> PictureKey {
        PictureKey {
            callback: *callback,
            generation: self.generation,
        }
    }

    fn step_slice(&self, step: u32, count: u32) -> wgpu::BufferSlice<'_> {
        let start = self.step_start(u64::from(step));
        self.positions.slice(start..start + u64::from(count) * POSITION_BYTES)
    }

    fn x0_slice(&self, step: u32, count: u32) -> wgpu::BufferSlice<'_> {
        let start = self.step_start(u64::from(step));
        self.x0_positions
            .slice(start..start + u64::from(count) * POSITION_BYTES)
    }

    fn prepare(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
        callback: &PlaneCallback,
    ) {
        queue.write_buffer(&self.view_buffer, 0, bytemuck::bytes_of(&callback.view));
        if callback.trail_lines {
            let segments = self.trail_segments(callback);
            self.trail_indices
                .update(device, queue, segments, self.particles_per_step);
        }
        if callback.show_density {
            let view = &callback.view;
            let key = DensityKey {
                view: [
                    view.center[0],
                    view.center[1],
                    view.scale[0],
                    view.scale[1],
                    view.alpha_bar,
                    view.density_gain,
                ],
                mixture_generation: self.mixture_generation,
            };
            let side = [callback.density_side; 2];
            self.density_texture.refresh(
                device,
                encoder,
                |pass| draw_fullscreen(pass, &self.density, &self.bind_group),
                key,
                side,
            );
        }
        // Kept once the same picture is asked for twice in a row: a picture
        // that changes every frame (a run streaming, playback) is drawn
        // straight, with no copy on top.
        let key = self.picture_key(callback);
        let held_still = self.previous_picture.replace(key) == Some(key);
        if held_still && let Some(mut picture) = self.picture.take() {
            let side = [callback.view_pixels; 2];
            picture.refresh(device, encoder, |pass| self.paint_layers(pass, callback), key, side);
            self.picture = Some(picture);
        }
    }

    fn paint(&self, pass: &mut wgpu::RenderPass<'_>, callback: &PlaneCallback) {
        let kept = self
            .picture
            .as_ref()
            .filter(|picture| picture.holds(self.picture_key(callback)));
        self.copied_last
            .store(kept.is_some(), std::sync::atomic::Ordering::Relaxed);
        match kept {
            Some(picture) => picture.paint(pass),
            None => self.paint_layers(pass, callback),
        }
    }

    /// The trail segments the callback asks for, if any can be drawn.
    fn trail_segments(&self, callback: &PlaneCallback) -> Option<TrailSegments> {
        let uploaded = self.particles_per_step > 0 && u64::from(callback.step) < self.steps_uploaded;
        let particles = callback
            .trail_particles
            .min(callback.particles)
            .min(u32::try_from(self.particles_per_step).unwrap_or(u32::MAX));
        (uploaded && particles > 0 && callback.trail_from < callback.step).then_some(TrailSegments {
            from: callback.trail_from,
            to: callback.step,
            stride: callback.trail_stride.max(1),
            particles,
        })
    }

    /// Draws every layer of the picture into the pass's viewport.
    fn paint_layers(&self, pass: &mut wgpu::RenderPass<'_>, callback: &PlaneCallback) {
        if callback.show_density {
            self.density_texture.paint(pass);
        }
        pass.set_bind_group(0, &self.bind_group, &[]);
        if callback.show_score && self.arrow_count > 0 {
            pass.set_pipeline(&self.arrows);
            pass.set_vertex_buffer(
                0,
                self.arrow_instances.slice(..u64::from(self.arrow_count) * ARROW_BYTES),
            );
            pass.draw(0..9, 0..self.arrow_count);
        }
        let step = u64::from(callback.step);
        if self.particles_per_step == 0 || step >= self.steps_uploaded {
            return;
        }
        let count = callback
            .particles
            .min(u32::try_from(self.particles_per_step).unwrap_or(u32::MAX));
        if callback.trail_lines {
            self.trail_indices.draw(pass, &self.trail_lines, &self.positions);
        } else if let Some(segments) = self.trail_segments(callback) {
            pass.set_pipeline(&self.trails);
            for (from, to) in segments.steps() {
                pass.set_vertex_buffer(0, self.step_slice(from, segments.particles));
                pass.set_vertex_buffer(1, self.step_slice(to, segments.particles));
                pass.draw(0..4, 0..segments.particles);
            }
        }
        if callback.show_x0 && step < self.x0_steps_uploaded {
            let segments = count.min(X0_SEGMENTS);
            pass.set_pipeline(&self.x0_segments);
            pass.set_vertex_buffer(0, self.step_slice(callback.step, segments));
            pass.set_vertex_buffer(1, self.x0_slice(callback.step, segments));
            pass.draw(0..4, 0..segments);
            pass.set_pipeline(&self.x0_particles);
            pass.set_vertex_buffer(0, self.x0_slice(callback.step, count));
            pass.draw(0..3, 0..count);
        }
        super::particles::draw(
            pass,
            [&self.particle_batches, &self.particles],
            &self.positions,
            self.step_start(step),
            count,
        );
    }
}

/// `plane.wgsl`, with `common.wgsl` before it.
fn plane_shader(device: &wgpu::Device) -> wgpu::ShaderModule {
    device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("plane"),
        source: wgpu::ShaderSource::Wgsl(
            concat!(
                include_str!("../../shaders/common.wgsl"),
                include_str!("../../shaders/plane.wgsl")
            )
            .into(),
        ),
    })
}

/// The view and mixture uniform buffers, their layout and bind group.
fn uniforms(device: &wgpu::Device) -> (wgpu::BindGroupLayout, wgpu::BindGroup, wgpu::Buffer, wgpu::Buffer) {
    let uniform_entry = |binding| uniform_entry(binding, wgpu::ShaderStages::VERTEX_FRAGMENT);
    let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("plane"),
        entries: &[uniform_entry(0), uniform_entry(1)],
    });
    let view_buffer = uniform_buffer(device, "plane view", std::mem::size_of::<ViewUniform>());
    let mixture_buffer = uniform_buffer(device, "plane mixture", std::mem::size_of::<MixtureUniform>());
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("plane"),
        layout: &layout,
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: view_buffer.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: mixture_buffer.as_entire_binding(),
            },
        ],
    });
    (layout, bind_group, view_buffer, mixture_buffer)
}

fn positions_buffer(device: &wgpu::Device, points: u64) -> wgpu::Buffer {
    let size = NonZeroU64::new(points.max(1) * POSITION_BYTES).map_or(POSITION_BYTES, NonZeroU64::get);
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("plane points"),
        size,
        usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

impl egui_wgpu::CallbackTrait for PlaneCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &egui_wgpu::ScreenDescriptor,
        encoder: &mut wgpu::CommandEncoder,
        resources: &mut egui_wgpu::CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        match resources.get_mut::<PlaneResources>() {
            Some(plane) => plane.prepare(device, queue, encoder, self),
            None => super::log_missing_once("PlaneResources"),
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        if let Some(plane) = resources.get::<PlaneResources>() {
            plane.paint(pass, self);
        }
    }
}
