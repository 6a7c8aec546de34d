// Shared colour maps, prepended to the shaders that use them.

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
