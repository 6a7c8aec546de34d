// A batch of images from one step of a run, as a grid. Every step of the run
// stays in two storage buffers (x_t and the model's x0_hat); a frame picks one
// with a uniform, so scrubbing uploads nothing. eps_hat, score and v_hat are
// derived from x_t and x0_hat exactly (Ho et al. 2020, eq. 4; Salimans & Ho 2022).
// common.wgsl is prepended (fullscreen_vs, diverging, grey, mean3).

struct Grid {
    frame: u32,
    batch: u32,
    width: u32,
    height: u32,
    cols: u32,
    // 0: x_t, 1: x0_hat, 2: eps_hat, 3: score, 4: v_hat
    quantity: u32,
    alpha_bar: f32,
    pad: f32,
}

@group(0) @binding(0) var<uniform> grid: Grid;
@group(0) @binding(1) var<storage, read> xs: array<f32>;
@group(0) @binding(2) var<storage, read> x0s: array<f32>;

@fragment
fn grid_fs(in: FullscreenOut) -> @location(0) vec4<f32> {
    let rows = (grid.batch + grid.cols - 1u) / grid.cols;
    let gx = min(u32(in.uv.x * f32(grid.cols * grid.width)), grid.cols * grid.width - 1u);
    let gy = min(u32(in.uv.y * f32(rows * grid.height)), rows * grid.height - 1u);
    let sample = (gy / grid.height) * grid.cols + gx / grid.width;
    if sample >= grid.batch {
        return vec4<f32>(0.1, 0.1, 0.12, 1.0);
    }
    let pixels = grid.width * grid.height;
    let index = grid.frame * grid.batch * pixels + sample * pixels + (gy % grid.height) * grid.width + gx % grid.width;
    let x = xs[index];
    let x0 = x0s[index];
    let a = grid.alpha_bar;
    let noise = sqrt(max(1.0 - a, 1e-12));
    let eps = (x - sqrt(a) * x0) / noise;
    var color: vec3<f32>;
    switch grid.quantity {
        case 1u: {
            color = grey(vec3<f32>(x0));
        }
        case 2u: {
            color = diverging(eps / 3.0);
        }
        case 3u: {
            // The score -eps/sqrt(1 - abar), in units of its std.
            color = diverging(-eps / 3.0);
        }
        case 4u: {
            color = diverging((sqrt(a) * eps - noise * x0) / 3.0);
        }
        default: {
            color = grey(vec3<f32>(x));
        }
    }
    return vec4<f32>(color, 1.0);
}
