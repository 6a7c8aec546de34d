//! The 2D scene's particles drawn eight to an instance.
//!
//! Each particle is one triangle (`plane.wgsl`'s `particle_vs`). Drawn one
//! instance a particle, lavapipe's draw module ran its vertex pipeline 2 000
//! times a frame for three vertices each; eight particles an instance (eight
//! vertex attributes, one a particle) run it an eighth as often. The
//! particles past the last whole eight are drawn one an instance.

use egui_wgpu::wgpu;

use super::plane::POSITION_BYTES;

/// Particles an instance of the batched pipeline.
const BATCH: u32 = 8;

/// `plane.wgsl`'s `particle_batch_vs` with `particle_fs`: instances of
/// [`BATCH`] consecutive positions.
pub(crate) fn batch_pipeline(builder: &super::PipelineBuilder<'_>) -> wgpu::RenderPipeline {
    let attributes: Vec<wgpu::VertexAttribute> = (0..BATCH)
        .map(|k| wgpu::VertexAttribute {
            format: wgpu::VertexFormat::Float32x2,
            offset: u64::from(k) * POSITION_BYTES,
            shader_location: k,
        })
        .collect();
    builder.build_with(
        "particle_batch_vs",
        "particle_fs",
        &[Some(wgpu::VertexBufferLayout {
            array_stride: u64::from(BATCH) * POSITION_BYTES,
            step_mode: wgpu::VertexStepMode::Instance,
            attributes: &attributes,
        })],
        wgpu::PrimitiveTopology::TriangleList,
    )
}

/// Draws the `count` particles whose positions start at byte `start` of
/// `positions`: whole eights with `batched`, the rest with `single`
/// (`particle_vs`, one an instance), in order.
pub(crate) fn draw(
    pass: &mut wgpu::RenderPass<'_>,
    [batched, single]: [&wgpu::RenderPipeline; 2],
    positions: &wgpu::Buffer,
    start: u64,
    count: u32,
) {
    let (whole, rest) = split(start, count);
    for (pipeline, (bytes, instances), vertices) in [(batched, whole, 3 * BATCH), (single, rest, 3)] {
        if instances > 0 {
            pass.set_pipeline(pipeline);
            pass.set_vertex_buffer(0, positions.slice(bytes));
            pass.draw(0..vertices, 0..instances);
        }
    }
}

/// The bytes and instances of the whole eights, then of the particles after them.
fn split(start: u64, count: u32) -> ((std::ops::Range<u64>, u32), (std::ops::Range<u64>, u32)) {
    let (whole, rest) = (count / BATCH, count % BATCH);
    let rest_start = start + u64::from(whole * BATCH) * POSITION_BYTES;
    let rest_end = rest_start + u64::from(rest) * POSITION_BYTES;
    ((start..rest_start, whole), (rest_start..rest_end, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_eights_then_the_rest_cover_every_particle_once_in_order() {
        // 13 particles from byte 80: one eight (64 bytes), then five (40 bytes).
        assert_eq!(split(80, 13), ((80..144, 1), (144..184, 5)));
        assert_eq!(split(0, 16), ((0..128, 2), (128..128, 0)));
        assert_eq!(split(0, 3), ((0..0, 0), (0..24, 3)));
    }
}
