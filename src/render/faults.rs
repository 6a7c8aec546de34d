//! GPU faults, each logged once and survived where it can be.
//!
//! - **Surface errors** (a resized, hidden or lost window surface): the
//!   surface is reconfigured or recreated and the frame skipped.
//! - **Errors nobody captured** (a validation error in a pipeline): logged,
//!   not the wgpu default of a panic, so a class's window stays open.
//! - **A lost device** (a driver reset, a removed GPU): nothing drawn on it can
//!   come back, so [`DeviceWatch`] reports it and the window closes itself with
//!   that message, after saving its session.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use egui_wgpu::{SurfaceErrorAction, WgpuConfiguration, wgpu};

/// Prints `message` to standard error the first time `key` is seen.
pub fn log_once(key: &str, message: &str) {
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    if let Ok(mut seen) = SEEN.lock()
        && seen.get_or_insert_with(HashSet::new).insert(key.to_owned())
    {
        eprintln!("noisescope: {message}");
    }
}

/// What to do about a surface that did not hand out a frame.
#[must_use]
pub fn surface_action(status: &wgpu::CurrentSurfaceTexture) -> SurfaceErrorAction {
    use wgpu::CurrentSurfaceTexture as Status;
    let (action, what) = match status {
        // Hidden or minimised: nothing to draw, nothing to say.
        Status::Occluded => return SurfaceErrorAction::SkipFrame,
        Status::Outdated => (SurfaceErrorAction::Reconfigure, "reconfiguring it"),
        Status::Lost => (SurfaceErrorAction::RecreateSurface, "recreating it"),
        _ => (SurfaceErrorAction::SkipFrame, "skipping the frame"),
    };
    let kind = format!("{status:?}");
    let kind = kind.split(['(', ' ', '{']).next().unwrap_or("surface");
    log_once(
        &format!("surface {kind}"),
        &format!("the window's surface reported {kind}; {what} (reported once)"),
    );
    action
}

/// eframe's wgpu setup with [`surface_action`] as its surface policy.
#[must_use]
pub fn wgpu_configuration() -> WgpuConfiguration {
    WgpuConfiguration {
        on_surface_status: Arc::new(surface_action),
        ..WgpuConfiguration::default()
    }
}

/// Watches one device: errors nobody captured are counted and logged once
/// each, and the device's loss is kept as a message for the window.
#[derive(Clone, Debug, Default)]
pub struct DeviceWatch {
    lost: Arc<Mutex<Option<String>>>,
    uncaptured: Arc<AtomicUsize>,
}

impl DeviceWatch {
    /// Installs the watch's callbacks on `device`.
    #[must_use]
    pub fn install(device: &wgpu::Device) -> Self {
        let watch = Self::default();
        let lost = Arc::clone(&watch.lost);
        device.set_device_lost_callback(move |reason, message| {
            let detail = if message.is_empty() {
                String::new()
            } else {
                format!(": {message}")
            };
            let text = format!("the GPU device was lost ({reason:?}{detail})");
            log_once("device lost", &text);
            if let Ok(mut slot) = lost.lock() {
                *slot = Some(text);
            }
        });
        let uncaptured = Arc::clone(&watch.uncaptured);
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            uncaptured.fetch_add(1, Ordering::Relaxed);
            let text = error.to_string();
            let first_line = text.lines().next().unwrap_or("a GPU error");
            log_once(
                &format!("gpu error {first_line}"),
                &format!("GPU error: {first_line} (reported once)"),
            );
        }));
        watch
    }

    /// Why the device was lost, once it has been.
    #[must_use]
    pub fn lost(&self) -> Option<String> {
        self.lost.lock().ok().and_then(|slot| slot.clone())
    }

    /// How many errors nobody captured have happened.
    #[must_use]
    pub fn uncaptured_errors(&self) -> usize {
        self.uncaptured.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_surface_status_gets_its_recovery() {
        use wgpu::CurrentSurfaceTexture as Status;
        assert!(matches!(
            surface_action(&Status::Outdated),
            SurfaceErrorAction::Reconfigure
        ));
        assert!(matches!(
            surface_action(&Status::Lost),
            SurfaceErrorAction::RecreateSurface
        ));
        assert!(matches!(
            surface_action(&Status::Occluded),
            SurfaceErrorAction::SkipFrame
        ));
        assert!(matches!(
            surface_action(&Status::Timeout),
            SurfaceErrorAction::SkipFrame
        ));
        // Repeats are fine (logged once).
        assert!(matches!(
            surface_action(&Status::Lost),
            SurfaceErrorAction::RecreateSurface
        ));
    }
}
