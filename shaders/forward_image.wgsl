// The forward process on an image, per pixel, every frame:
// x_t = sqrt(abar) x0 + sqrt(1 - abar) eps (Ho et al. 2020, eq. 4),
// from the image x0 (in [0, 1], mapped to [-1, 1]) and a fixed noise texture,
// so scrubbing t changes one uniform and uploads nothing.
// common.wgsl is prepended (fullscreen_vs, diverging, grey, mean3).

struct Params {
    alpha_bar: f32,
    // 0: x_t, 1: x0, 2: eps, 3: score, 4: v
    quantity: u32,
    pad0: f32,
    pad1: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var x0_texture: texture_2d<f32>;
@group(0) @binding(2) var noise_texture: texture_2d<f32>;

@fragment
fn image_fs(in: FullscreenOut) -> @location(0) vec4<f32> {
    let size = vec2<i32>(textureDimensions(x0_texture));
    // Nearest neighbour: one texel per image pixel, however large the view.
    let texel = clamp(vec2<i32>(floor(in.uv * vec2<f32>(size))), vec2<i32>(0, 0), size - vec2<i32>(1, 1));
    let x0 = textureLoad(x0_texture, texel, 0).rgb * 2.0 - 1.0;
    let eps = textureLoad(noise_texture, texel, 0).rgb;
    let a = params.alpha_bar;
    let signal = sqrt(a);
    let noise = sqrt(max(1.0 - a, 0.0));
    var color: vec3<f32>;
    switch params.quantity {
        case 1u: {
            color = grey(x0);
        }
        case 2u: {
            // eps ~ N(0, 1): +-3 spans the colour map.
            color = diverging(mean3(eps) / 3.0);
        }
        case 3u: {
            // The score of q(x_t | x0), -eps / sqrt(1 - abar), scaled by its std.
            color = diverging(-mean3(eps) / 3.0);
        }
        case 4u: {
            color = diverging(mean3(signal * eps - noise * x0) / 3.0);
        }
        default: {
            let x_t = signal * x0 + noise * eps;
            color = grey(x_t);
        }
    }
    return vec4<f32>(color, 1.0);
}
