// Shared by the image shaders (prepended with concat!): the full-viewport
// vertex stage and the colour maps.

struct FullscreenOut {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
}

// One triangle that covers the viewport; uv runs down the image, as texture rows do.
@vertex
fn fullscreen_vs(@builtin(vertex_index) index: u32) -> FullscreenOut {
    let uv = vec2<f32>(f32((index << 1u) & 2u), f32(index & 2u));
    var out: FullscreenOut;
    out.position = vec4<f32>(uv * 2.0 - 1.0, 0.0, 1.0);
    out.uv = vec2<f32>(uv.x, 1.0 - uv.y);
    return out;
}

// Blue for negative, white for 0, red for positive; v is clamped to [-1, 1].
fn diverging(v: f32) -> vec3<f32> {
    let s = clamp(v, -1.0, 1.0);
    let white = vec3<f32>(1.0, 1.0, 1.0);
    if s < 0.0 {
        return mix(white, vec3<f32>(0.13, 0.32, 0.85), -s);
    }
    return mix(white, vec3<f32>(0.85, 0.15, 0.12), s);
}

// Data in [-1, 1] as grey: -1 black, +1 white.
fn grey(v: vec3<f32>) -> vec3<f32> {
    return clamp((v + 1.0) * 0.5, vec3<f32>(0.0), vec3<f32>(1.0));
}

fn mean3(v: vec3<f32>) -> f32 {
    return (v.x + v.y + v.z) / 3.0;
}
