//! Every WGSL shader parses and validates, without a GPU.
#![allow(clippy::unwrap_used, clippy::expect_used)]

fn validate(name: &str, source: &str) {
    let module =
        naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(source)));
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
}

#[test]
fn plane_shader_is_valid_wgsl() {
    validate(
        "plane.wgsl",
        concat!(
            include_str!("../shaders/common.wgsl"),
            include_str!("../shaders/plane.wgsl")
        ),
    );
}

#[test]
fn forward_image_shader_is_valid_wgsl() {
    validate(
        "forward_image.wgsl",
        concat!(
            include_str!("../shaders/common.wgsl"),
            include_str!("../shaders/forward_image.wgsl")
        ),
    );
}

#[test]
fn grid_shader_is_valid_wgsl() {
    validate(
        "grid.wgsl",
        concat!(
            include_str!("../shaders/common.wgsl"),
            include_str!("../shaders/grid.wgsl")
        ),
    );
}

#[test]
fn cached_layer_shader_is_valid_wgsl() {
    validate(
        "cached_layer.wgsl",
        concat!(
            include_str!("../shaders/common.wgsl"),
            include_str!("../shaders/cached_layer.wgsl")
        ),
    );
}
