// A layer drawn into a texture when it changes (`src/render/cached.rs`),
// copied into its view: one texture sample a pixel, bilinear or nearest as the
// sampler says. A software renderer pays for every pixel every frame, and this
// costs it far less than the layers' own shaders (the density's exponentials,
// the image grid's integer arithmetic).

@group(0) @binding(0) var layer_texture: texture_2d<f32>;
@group(0) @binding(1) var layer_sampler: sampler;

@fragment
fn cached_layer_fs(in: FullscreenOut) -> @location(0) vec4<f32> {
    return textureSample(layer_texture, layer_sampler, in.uv);
}
