//! wgpu drawing, the egui way: pipelines built once from the render state and
//! kept in egui-wgpu's `callback_resources`; per-frame callbacks carry small
//! `Copy` data. No panels live here.

pub mod image;
pub mod plane;

use std::collections::HashSet;
use std::sync::Mutex;

use egui_wgpu::RenderState;

/// Builds every pipeline and stores it in the renderer's callback resources.
pub fn install(render_state: &RenderState) {
    let plane = plane::PlaneResources::new(&render_state.device, render_state.target_format);
    let image = image::ImageResources::new(&render_state.device, render_state.target_format);
    let mut renderer = render_state.renderer.write();
    renderer.callback_resources.insert(plane);
    renderer.callback_resources.insert(image);
}

/// Reports a missing GPU resource once per name, instead of panicking each frame.
pub fn log_missing_once(name: &'static str) {
    static SEEN: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    if let Ok(mut seen) = SEEN.lock()
        && seen.get_or_insert_with(HashSet::new).insert(name)
    {
        eprintln!("noisescope: GPU resource {name} is missing; that view stays empty");
    }
}
