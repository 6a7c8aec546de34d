// The 2D scene's density p_t, drawn into a small texture when it changes
// (`plane.wgsl`'s density_fs) and magnified here with bilinear filtering: a
// software renderer pays for every pixel of the view each frame, and one
// texture sample costs it far less than the mixture's exponentials.

@group(0) @binding(0) var density_texture: texture_2d<f32>;
@group(0) @binding(1) var density_sampler: sampler;

@fragment
fn density_blit_fs(in: FullscreenOut) -> @location(0) vec4<f32> {
    return textureSample(density_texture, density_sampler, in.uv);
}
