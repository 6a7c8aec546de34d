// The 2D scene: the noised density p_t behind, trails, then particles on top.
// Data coordinates map to clip space as clip = (p - center) * scale.
// common.wgsl is prepended (fullscreen_vs for the density).

struct View {
    center: vec2<f32>,
    scale: vec2<f32>,
    point_radius: vec2<f32>,
    trail_half_width: vec2<f32>,
    alpha_bar: f32,
    density_gain: f32,
    particle_color: vec4<f32>,
    trail_color: vec4<f32>,
    x0_color: vec4<f32>,
    arrow_color: vec4<f32>,
    // clip units per point, points of length per unit of direction,
    // the shaft's half-width and the head's longest length in points.
    arrow_geometry: vec4<f32>,
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

// One instanced triangle per particle: the equilateral triangle around the
// unit disc (its corners two radii out), so the disc the fragment stage cuts
// is whole. A software rasteriser pays for every triangle however small, and
// a quad is two.
fn particle_corner(center: vec2<f32>, index: u32) -> ParticleOut {
    let corner = array<vec2<f32>, 3>(
        vec2<f32>(0.0, 2.0),
        vec2<f32>(-1.7320508, -1.0),
        vec2<f32>(1.7320508, -1.0),
    )[index];
    var out: ParticleOut;
    out.position = vec4<f32>((center - view.center) * view.scale + corner * view.point_radius, 0.0, 1.0);
    out.corner = corner;
    return out;
}

@vertex
fn particle_vs(@builtin(vertex_index) index: u32, @location(0) center: vec2<f32>) -> ParticleOut {
    return particle_corner(center, index);
}

// Eight particles an instance, in order (`src/render/particles.rs`): lavapipe
// runs its vertex pipeline once an instance, so one a particle cost it more
// than the particles' triangles.
@vertex
fn particle_batch_vs(
    @builtin(vertex_index) index: u32,
    @location(0) p0: vec2<f32>,
    @location(1) p1: vec2<f32>,
    @location(2) p2: vec2<f32>,
    @location(3) p3: vec2<f32>,
    @location(4) p4: vec2<f32>,
    @location(5) p5: vec2<f32>,
    @location(6) p6: vec2<f32>,
    @location(7) p7: vec2<f32>,
) -> ParticleOut {
    var centers = array<vec2<f32>, 8>(p0, p1, p2, p3, p4, p5, p6, p7);
    return particle_corner(centers[index / 3u], index % 3u);
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
// instanced quads (triangle strip) of the width the view sets (in points, so
// it scales with the screen like the UI does): GPU lines are one pixel wide on
// every screen, so they thinned to a hair at 4K.
@vertex
fn trail_vs(@builtin(vertex_index) index: u32, @location(0) start: vec2<f32>, @location(1) end: vec2<f32>) -> @builtin(position) vec4<f32> {
    let a = (start - view.center) * view.scale;
    let b = (end - view.center) * view.scale;
    let along = b - a;
    let length_clip = length(along);
    // The viewport is square, so clip space is isotropic and a perpendicular stays one.
    let direction = select(vec2<f32>(1.0, 0.0), along / length_clip, length_clip > 1e-9);
    let normal = vec2<f32>(-direction.y, direction.x) * view.trail_half_width;
    let side = f32(index & 1u) * 2.0 - 1.0;
    let p = select(a, b, (index >> 1u) == 1u);
    return vec4<f32>(p + side * normal, 0.0, 1.0);
}

// The same segments as GPU lines, where a trail is about a pixel wide anyway:
// one primitive a segment where a quad is two triangles, and a software
// rasteriser pays for every primitive however few pixels it covers. One
// indexed line list over every step's positions (`src/render/trails.rs`).
@vertex
fn trail_line_vs(@location(0) p: vec2<f32>) -> @builtin(position) vec4<f32> {
    return vec4<f32>((p - view.center) * view.scale, 0.0, 1.0);
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

// The score arrows, instanced: a shaft (two triangles) and a head (one), nine
// vertices per arrow. Each vertex carries its signed distances in points to
// the shape's edges, which interpolate exactly (they are linear), so the
// fragment stage can anti-alias the edges the way egui's feathering does.
// The geometry is grown by GROW points so the soft edge has room; the shaft
// and head meet at the neck without overlapping (no double-blended seam).
const GROW: f32 = 1.0;
const FAR: f32 = 1e4;

struct ArrowOut {
    @builtin(position) position: vec4<f32>,
    @location(0) edges: vec4<f32>,
}

// Signed distance of q from the line through a and b, positive to its left.
fn left_of(q: vec2<f32>, a: vec2<f32>, b: vec2<f32>) -> f32 {
    let d = normalize(b - a);
    return dot(q - a, vec2<f32>(-d.y, d.x));
}

@vertex
fn arrow_vs(@builtin(vertex_index) index: u32, @location(0) origin: vec2<f32>, @location(1) direction: vec2<f32>) -> ArrowOut {
    let clip_per_point = view.arrow_geometry.x;
    let tip = direction * view.arrow_geometry.y;
    let length_points = max(length(tip), 1e-3);
    let along = select(vec2<f32>(1.0, 0.0), tip / length_points, length(tip) > 1e-6);
    let across = vec2<f32>(-along.y, along.x);
    let half_width = view.arrow_geometry.z;
    let head_length = min(0.35 * length_points, view.arrow_geometry.w);
    let head_half_width = 0.55 * head_length;
    let neck = along * (length_points - head_length);
    var q: vec2<f32>;
    var edges: vec4<f32>;
    if index < 6u {
        // Shaft corners, in strip order per triangle: (0,1,2) and (2,1,3).
        let corner = array<u32, 6>(0u, 1u, 2u, 2u, 1u, 3u)[index];
        let back = select(-GROW, length_points - head_length, (corner & 1u) == 1u);
        let side = select(-1.0, 1.0, (corner & 2u) == 2u);
        q = along * back + across * side * (half_width + GROW);
        let a = dot(q, across);
        edges = vec4<f32>(half_width - a, half_width + a, dot(q, along), FAR);
    } else {
        let left = neck + across * head_half_width;
        let right = neck - across * head_half_width;
        let grown = array<vec2<f32>, 3>(
            neck + across * (head_half_width + 2.0 * GROW),
            tip + along * 2.0 * GROW,
            neck - across * (head_half_width + 2.0 * GROW),
        );
        q = grown[index - 6u];
        edges = vec4<f32>(left_of(q, tip, left), left_of(q, right, tip), FAR, FAR);
    }
    var out: ArrowOut;
    let base = (origin - view.center) * view.scale;
    out.position = vec4<f32>(base + q * clip_per_point, 0.0, 1.0);
    out.edges = edges;
    return out;
}

@fragment
fn arrow_fs(in: ArrowOut) -> @location(0) vec4<f32> {
    // Each edge's distance in pixels, then coverage over a one-pixel ramp.
    let pixels = in.edges / max(fwidth(in.edges), vec4<f32>(1e-6));
    let coverage = clamp(min(min(pixels.x, pixels.y), min(pixels.z, pixels.w)) + 0.5, 0.0, 1.0);
    let alpha = view.arrow_color.a * coverage;
    if alpha <= 0.0 {
        discard;
    }
    return vec4<f32>(view.arrow_color.rgb * alpha, alpha);
}
