// The 2D scene: the noised density p_t behind, trails, then particles on top.
// Data coordinates map to clip space as clip = (p - center) * scale.
// common.wgsl is prepended (fullscreen_vs for the density).

struct View {
    center: vec2<f32>,
    scale: vec2<f32>,
    point_radius: vec2<f32>,
    alpha_bar: f32,
    density_gain: f32,
    particle_color: vec4<f32>,
    trail_color: vec4<f32>,
    x0_color: vec4<f32>,
}

// Each component: mean.xy, std, weight (normalised).
struct Mixture {
    count: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
    components: array<vec4<f32>, 32>,
}

@group(0) @binding(0) var<uniform> view: View;
@group(0) @binding(1) var<uniform> mixture: Mixture;

// p_t(x) = sum_k w_k N(x; sqrt(abar) mu_k, (abar s_k^2 + 1 - abar) I), shown relative
// to its highest component peak, on a sqrt scale so faint modes stay visible.
@fragment
fn density_fs(in: FullscreenOut) -> @location(0) vec4<f32> {
    let clip = vec2<f32>(in.uv.x * 2.0 - 1.0, 1.0 - in.uv.y * 2.0);
    let p = view.center + clip / view.scale;
    let a = view.alpha_bar;
    var density = 0.0;
    var peak = 0.0;
    for (var k = 0u; k < mixture.count; k = k + 1u) {
        let c = mixture.components[k];
        let v = a * c.z * c.z + 1.0 - a;
        let d = p - sqrt(a) * c.xy;
        let height = c.w / (6.2831853 * v);
        density = density + height * exp(-dot(d, d) / (2.0 * v));
        peak = max(peak, height);
    }
    let level = sqrt(clamp(view.density_gain * density / max(peak, 1e-30), 0.0, 1.0));
    // Dark slate to amber.
    let low = vec3<f32>(0.07, 0.09, 0.13);
    let high = vec3<f32>(0.98, 0.62, 0.18);
    return vec4<f32>(mix(low, high, level), 1.0);
}

struct ParticleOut {
    @builtin(position) position: vec4<f32>,
    @location(0) corner: vec2<f32>,
}

// Instanced quads (triangle strip), one per particle.
@vertex
fn particle_vs(@builtin(vertex_index) index: u32, @location(0) center: vec2<f32>) -> ParticleOut {
    let corner = vec2<f32>(f32(index & 1u), f32((index >> 1u) & 1u)) * 2.0 - 1.0;
    var out: ParticleOut;
    out.position = vec4<f32>((center - view.center) * view.scale + corner * view.point_radius, 0.0, 1.0);
    out.corner = corner;
    return out;
}

@fragment
fn particle_fs(in: ParticleOut) -> @location(0) vec4<f32> {
    let r = length(in.corner);
    if r > 1.0 {
        discard;
    }
    let alpha = view.particle_color.a * (1.0 - smoothstep(0.6, 1.0, r));
    return vec4<f32>(view.particle_color.rgb * alpha, alpha);
}

// Trail segments from a particle's position at one step to the next, as
// instanced quads (triangle strip), not GPU lines: lines are one pixel wide on
// every screen, so they thinned to a hair at 4K. The width follows the
// particles' size (in points), so it scales with the screen like the UI does.
const TRAIL_HALF_WIDTH_PER_RADIUS: f32 = 0.3125; // 0.5 pt half-width for 1.6 pt dots
@vertex
fn trail_vs(@builtin(vertex_index) index: u32, @location(0) start: vec2<f32>, @location(1) end: vec2<f32>) -> @builtin(position) vec4<f32> {
    let a = (start - view.center) * view.scale;
    let b = (end - view.center) * view.scale;
    let along = b - a;
    let length_clip = length(along);
    // The viewport is square, so clip space is isotropic and a perpendicular stays one.
    let direction = select(vec2<f32>(1.0, 0.0), along / length_clip, length_clip > 1e-9);
    let normal = vec2<f32>(-direction.y, direction.x) * view.point_radius * TRAIL_HALF_WIDTH_PER_RADIUS;
    let side = f32(index & 1u) * 2.0 - 1.0;
    let p = select(a, b, (index >> 1u) == 1u);
    return vec4<f32>(p + side * normal, 0.0, 1.0);
}

@fragment
fn trail_fs() -> @location(0) vec4<f32> {
    let c = view.trail_color;
    return vec4<f32>(c.rgb * c.a, c.a);
}

// The model's x0 estimate of each particle (E[x0|x_t] for the exact mixture),
// drawn with particle_vs from the x0 buffer, and its segment from x_t with trail_vs.
@fragment
fn x0_fs(in: ParticleOut) -> @location(0) vec4<f32> {
    let r = length(in.corner);
    if r > 1.0 {
        discard;
    }
    let alpha = view.x0_color.a * (1.0 - smoothstep(0.6, 1.0, r));
    return vec4<f32>(view.x0_color.rgb * alpha, alpha);
}

@fragment
fn x0_segment_fs() -> @location(0) vec4<f32> {
    let c = view.x0_color;
    let a = 0.35 * c.a;
    return vec4<f32>(c.rgb * a, a);
}
