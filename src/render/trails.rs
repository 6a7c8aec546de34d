//! The 2D scene's particle trails as one indexed line list.
//!
//! A trail runs through a particle's positions at every multiple of the
//! stride up to the step shown (`PlaneCallback::trail_stride`). Drawn as one
//! instanced draw a segment of steps (25 a frame), lavapipe's draw module ran
//! its vertex pipeline once an instance, two vertices at a time: its binning
//! thread spent nearly as long on the trails' 3 750 lines (42% of its work on
//! the 2D picture) as on all the rest. Here every segment is a pair of indices
//! into the buffer that holds every step's positions, so the trails are one
//! draw of one line list.

use egui_wgpu::wgpu;

use super::plane::POSITION_BYTES;

/// Bytes per index (u32).
const INDEX_BYTES: u64 = 4;

/// Which segments the trails draw: from step `from` to step `to`, through the
/// multiples of `stride` between them, for the first `particles` particles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TrailSegments {
    /// The trails' first step.
    pub from: u32,
    /// The step shown, where the trails end.
    pub to: u32,
    /// Steps a segment spans, but for the last, which ends at `to`.
    pub stride: u32,
    /// Particles with a trail.
    pub particles: u32,
}

impl TrailSegments {
    /// Each segment's first and last step, in order. Older points are
    /// multiples of the stride, so they hold still as a run plays.
    pub fn steps(self) -> impl Iterator<Item = (u32, u32)> {
        let (stride, to) = (self.stride.max(1), self.to);
        let next = move |start: u32| ((start / stride + 1) * stride).min(to);
        std::iter::successors(
            (self.from < to).then(|| (self.from, next(self.from))),
            move |&(_, start)| (start < to).then(|| (start, next(start))),
        )
    }

    /// The line list's indices into a buffer of `particles_per_step`
    /// positions a step: each particle's start, then its end, segment by segment.
    pub fn indices(self, particles_per_step: u64) -> Vec<u32> {
        let index = |step: u32, particle: u32| {
            u32::try_from(u64::from(step) * particles_per_step + u64::from(particle)).unwrap_or(u32::MAX)
        };
        self.steps()
            .flat_map(|(start, end)| (0..self.particles).flat_map(move |p| [index(start, p), index(end, p)]))
            .collect()
    }
}

/// The index buffer and what it holds.
pub(crate) struct TrailIndices {
    buffer: wgpu::Buffer,
    count: u32,
    /// The segments written, and the positions a step they index into.
    written: Option<(TrailSegments, u64)>,
}

impl TrailIndices {
    pub fn new(device: &wgpu::Device) -> Self {
        Self {
            buffer: index_buffer(device, 2),
            count: 0,
            written: None,
        }
    }

    /// Writes the indices of `segments` (none: no trails) if they changed.
    pub fn update(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        segments: Option<TrailSegments>,
        particles_per_step: u64,
    ) {
        let Some(segments) = segments else {
            self.count = 0;
            self.written = None;
            return;
        };
        if self.written == Some((segments, particles_per_step)) {
            return;
        }
        let indices = segments.indices(particles_per_step);
        let bytes = indices.len() as u64 * INDEX_BYTES;
        if bytes > self.buffer.size() {
            self.buffer = index_buffer(device, indices.len() as u64);
        }
        queue.write_buffer(&self.buffer, 0, bytemuck::cast_slice(&indices));
        self.count = u32::try_from(indices.len()).unwrap_or(0);
        self.written = Some((segments, particles_per_step));
    }

    /// Draws the line list with `pipeline`, whose vertex buffer is `positions`.
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>, pipeline: &wgpu::RenderPipeline, positions: &wgpu::Buffer) {
        if self.count == 0 {
            return;
        }
        pass.set_pipeline(pipeline);
        pass.set_vertex_buffer(0, positions.slice(..));
        pass.set_index_buffer(
            self.buffer.slice(..u64::from(self.count) * INDEX_BYTES),
            wgpu::IndexFormat::Uint32,
        );
        pass.draw_indexed(0..self.count, 0, 0..1);
    }
}

/// `plane.wgsl`'s one-pixel trail lines: one line list of positions (two
/// f32 each) picked by [`TrailIndices`].
pub(crate) fn line_pipeline(builder: &super::PipelineBuilder<'_>) -> wgpu::RenderPipeline {
    let position = [wgpu::VertexAttribute {
        format: wgpu::VertexFormat::Float32x2,
        offset: 0,
        shader_location: 0,
    }];
    builder.build_with(
        "trail_line_vs",
        "trail_fs",
        &[Some(wgpu::VertexBufferLayout {
            array_stride: POSITION_BYTES,
            step_mode: wgpu::VertexStepMode::Vertex,
            attributes: &position,
        })],
        wgpu::PrimitiveTopology::LineList,
    )
}

fn index_buffer(device: &wgpu::Device, indices: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("trail indices"),
        size: indices.max(1) * INDEX_BYTES,
        usage: wgpu::BufferUsages::INDEX | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_pass_through_the_multiples_of_the_stride_and_end_at_the_step_shown() {
        let segments = TrailSegments {
            from: 8,
            to: 19,
            stride: 4,
            particles: 2,
        };
        assert_eq!(segments.steps().collect::<Vec<_>>(), [(8, 12), (12, 16), (16, 19)]);
        // A first step off the stride reaches the next multiple first.
        let off = TrailSegments { from: 9, ..segments };
        assert_eq!(off.steps().collect::<Vec<_>>(), [(9, 12), (12, 16), (16, 19)]);
        let none = TrailSegments { from: 19, ..segments };
        assert_eq!(none.steps().count(), 0);
    }

    #[test]
    fn indices_join_each_particle_to_itself_a_segment_on() {
        let segments = TrailSegments {
            from: 0,
            to: 2,
            stride: 1,
            particles: 2,
        };
        // Five particles a step: step s, particle p is at 5 s + p.
        assert_eq!(segments.indices(5), [0, 5, 1, 6, 5, 10, 6, 11]);
    }
}
