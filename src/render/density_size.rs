//! How many texels the 2D scene's density texture has: as fine as p_t's
//! finest detail needs, and no finer (see [`super::cached`]).

/// Texels per side of the density's texture, least and most.
const DENSITY_SIDE_RANGE: std::ops::RangeInclusive<u32> = 32..=1024;
/// Texels across the narrowest component's standard deviation σ. The texture
/// holds a colour linear in √(p_t / peak), which for one component is a
/// Gaussian of standard deviation √2·σ; linear interpolation between texels
/// h = σ/6 apart misses it by at most h²/8 · 1/(2σ²) = 1/576 of the colour
/// range along each axis, under one step of an 8-bit colour.
const DENSITY_TEXELS_PER_STD: f32 = 6.0;

/// Texels per side of the density's texture for a view `view_pixels` wide
/// showing [−h, h]² (`view_half_extent` = h), whose finest detail is a
/// component of standard deviation `narrowest_std` (data units): fine enough
/// for that detail, and never finer than half the view's pixels (see
/// [`super::cached`]). Early in a run p_t is broad and a few dozen texels
/// hold it, so a run streaming redraws far fewer than the view's pixels.
#[must_use]
pub fn density_side_for(view_pixels: f32, view_half_extent: f32, narrowest_std: f64) -> u32 {
    let (least, most) = (*DENSITY_SIDE_RANGE.start(), *DENSITY_SIDE_RANGE.end());
    let view_limit = ((view_pixels / 2.0).ceil() as u32).clamp(least, most);
    // A float-to-integer cast saturates: a zero spread asks for the most.
    let for_detail = (2.0 * view_half_extent * DENSITY_TEXELS_PER_STD / narrowest_std as f32).ceil() as u32;
    for_detail.clamp(least, view_limit)
}
