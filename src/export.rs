//! Files a user takes away: points and curves as CSV, images as PNG and GIF.
//! Pure data in, files out; the window and the command line share them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, RgbaImage};

use crate::diffusion::Schedule;

/// Points (row-major, `dims` per row) as CSV with the header x,y (then x3, x4, ...).
#[must_use]
pub fn points_csv(values: &[f32], dims: usize) -> String {
    let header: Vec<String> = (0..dims)
        .map(|d| match d {
            0 => "x".to_owned(),
            1 => "y".to_owned(),
            d => format!("x{}", d + 1),
        })
        .collect();
    let mut text = header.join(",") + "\n";
    for row in values.chunks(dims.max(1)) {
        let cells: Vec<String> = row.iter().map(f32::to_string).collect();
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    text
}

/// The plotted curves, one row per t = 1..T; `kl_nats[t − 2]` is L_{t−1} when known.
#[must_use]
pub fn curves_csv(schedule: &Schedule, kl_nats: Option<&[f64]>) -> String {
    let mut text =
        String::from("t,beta,alpha_bar,sqrt_alpha_bar,sqrt_one_minus_alpha_bar,log_snr,posterior_variance,kl_nats\n");
    for t in 1..=schedule.train_steps() {
        let a = schedule.alpha_bar(t);
        let kl = t
            .checked_sub(2)
            .and_then(|i| kl_nats.and_then(|k| k.get(i)))
            .map_or_else(String::new, f64::to_string);
        // Writing to a String cannot fail.
        let _ = writeln!(
            text,
            "{t},{},{a},{},{},{},{},{kl}",
            schedule.beta(t),
            a.sqrt(),
            (1.0 - a).sqrt(),
            schedule.log_snr(t),
            schedule.posterior_variance(t)
        );
    }
    text
}

/// x_t = √ᾱ x0 + √(1 − ᾱ) ε for an RGBA image in [0, 1] (alpha kept), as 8-bit.
#[must_use]
pub fn noised_image(width: u32, height: u32, rgba: &[f32], noise: &[f32], alpha_bar: f64) -> RgbaImage {
    let (signal, spread) = (alpha_bar.sqrt() as f32, (1.0 - alpha_bar).max(0.0).sqrt() as f32);
    let bytes = rgba
        .iter()
        .zip(noise)
        .enumerate()
        .map(|(i, (x, e))| {
            let value = if i % 4 == 3 {
                *x
            } else {
                (signal * (2.0 * x - 1.0) + spread * e + 1.0) / 2.0
            };
            (value.clamp(0.0, 1.0) * 255.0).round() as u8
        })
        .collect();
    RgbaImage::from_raw(width, height, bytes).unwrap_or_else(|| RgbaImage::new(width, height))
}

/// The 2D scene as a picture: the density levels (row-major from the top, in
/// [0, 1], `grid × grid`) in the viewer's colours, with every point on top.
/// The view spans [−`half_extent`, `half_extent`]² like the window's.
#[must_use]
pub fn plane_image(points: &[f32], half_extent: f32, density: &[f64], grid: u32, size: u32) -> RgbaImage {
    let low = [18.0, 23.0, 33.0];
    let high = [250.0, 158.0, 46.0];
    let mut image = RgbaImage::from_fn(size, size, |x, y| {
        let cell = ((y * grid / size) * grid + x * grid / size) as usize;
        let level = density.get(cell).copied().unwrap_or(0.0).clamp(0.0, 1.0) as f32;
        let channel = |k: usize| (low[k] + (high[k] - low[k]) * level).round() as u8;
        image::Rgba([channel(0), channel(1), channel(2), 255])
    });
    let scale = size as f32 / (2.0 * half_extent);
    for point in points.chunks_exact(2) {
        let px = (point[0] + half_extent) * scale;
        let py = (half_extent - point[1]) * scale;
        for (dx, dy) in [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)] {
            let (x, y) = ((px + dx) as i64, (py + dy) as i64);
            if (0..i64::from(size)).contains(&x) && (0..i64::from(size)).contains(&y) {
                image.put_pixel(x as u32, y as u32, image::Rgba([140, 217, 255, 255]));
            }
        }
    }
    image
}

/// Nearest-neighbour enlargement, so a 28×28 image stays sharp in a GIF.
#[must_use]
pub fn enlarge(image: &RgbaImage, factor: u32) -> RgbaImage {
    image::imageops::resize(
        image,
        image.width() * factor.max(1),
        image.height() * factor.max(1),
        image::imageops::FilterType::Nearest,
    )
}

/// Lays `count` images (`width × height` values each, one after another in
/// `images`) `cols` to a row into one row-major raster `cols · width` values
/// wide, with `fill` where no image lies.
#[must_use]
pub fn tile_values(images: &[f32], width: usize, height: usize, cols: usize, count: usize, fill: f32) -> Vec<f32> {
    let cols = cols.max(1);
    let rows = count.div_ceil(cols).max(1);
    let row_width = cols * width;
    let mut tiled = vec![fill; row_width * rows * height];
    let pixels = (width * height).max(1);
    for (sample, image) in images.chunks(pixels).take(count).enumerate() {
        let (x0, y0) = ((sample % cols) * width, (sample / cols) * height);
        for (i, v) in image.iter().enumerate() {
            tiled[(y0 + i / width.max(1)) * row_width + x0 + i % width.max(1)] = *v;
        }
    }
    tiled
}

/// `count` grey images in [−1, 1] (`width × height` each, one after another)
/// laid out `cols` to a row on a dark background.
#[must_use]
pub fn image_grid(values: &[f32], width: u32, height: u32, cols: u32, count: u32) -> RgbaImage {
    let cols = cols.max(1);
    let rows = count.div_ceil(cols).max(1);
    // NaN marks the background: no image value is NaN.
    let tiled = tile_values(
        values,
        width as usize,
        height as usize,
        cols as usize,
        count as usize,
        f32::NAN,
    );
    let grid_width = cols * width;
    RgbaImage::from_fn(grid_width, rows * height, |x, y| {
        let v = tiled[(y * grid_width + x) as usize];
        if v.is_nan() {
            image::Rgba([26, 26, 31, 255])
        } else {
            let level = (((v + 1.0) / 2.0).clamp(0.0, 1.0) * 255.0).round() as u8;
            image::Rgba([level, level, level, 255])
        }
    })
}

/// A file that could not be written, named.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {}: {reason}", path.display())]
pub struct ExportError {
    /// The file (or folder).
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

impl ExportError {
    /// `path` failed with `reason`.
    pub fn new(path: &Path, reason: &dyn std::fmt::Display) -> Self {
        Self {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        }
    }
}

/// The one-line message the window shows.
impl From<ExportError> for String {
    fn from(e: ExportError) -> Self {
        e.to_string()
    }
}

/// Checks, before any work, that a file can be written at `path`: its folder
/// exists and takes a new file (a probe is created and removed there).
///
/// # Errors
/// The folder is missing or refuses a file; the error names the folder.
pub fn check_writable(path: &Path) -> Result<(), ExportError> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        return Err(ExportError::new(folder, &"the folder does not exist"));
    }
    let probe = folder.join(format!(".noisescope-probe-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            // Best effort: the probe proved what it had to.
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(ExportError::new(folder, &e)),
    }
}

/// Writes a text file atomically ([`write_atomically`]).
///
/// # Errors
/// The file cannot be written.
pub fn write_text(path: &Path, text: &str) -> Result<(), ExportError> {
    write_atomically_named(path, text.as_bytes())
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over
/// `path`: a full disk or a kill during the write leaves the old file whole.
///
/// # Errors
/// The temporary file cannot be written or renamed.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    let temporary = path.with_file_name(name);
    let written = std::fs::write(&temporary, bytes).and_then(|()| std::fs::rename(&temporary, path));
    if written.is_err() {
        // Best effort: the error that matters is the write's.
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// [`write_atomically`], its error naming the path.
///
/// # Errors
/// The file cannot be written.
pub fn write_atomically_named(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    write_atomically(path, bytes).map_err(|e| ExportError::new(path, &e))
}

/// `image` encoded as PNG; `path` names it in the error.
///
/// # Errors
/// The encoder failed.
pub fn encode_png(image: &RgbaImage, path: &Path) -> Result<Vec<u8>, ExportError> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, image::ImageFormat::Png)
        .map_err(|e| ExportError::new(path, &e))?;
    Ok(bytes.into_inner())
}

/// Writes a PNG atomically, naming the path in the error.
///
/// # Errors
/// The file cannot be written.
pub fn write_png(path: &Path, image: &RgbaImage) -> Result<(), ExportError> {
    write_atomically_named(path, &encode_png(image, path)?)
}

/// Writes an endlessly looping animated GIF atomically.
///
/// # Errors
/// The frames cannot be encoded or the file written.
pub fn write_gif(path: &Path, frames: Vec<RgbaImage>, frame_millis: u32) -> Result<(), ExportError> {
    let fail = |e: &dyn std::fmt::Display| ExportError::new(path, e);
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut bytes, 10);
        encoder.set_repeat(Repeat::Infinite).map_err(|e| fail(&e))?;
        let delay = Delay::from_numer_denom_ms(frame_millis, 1);
        encoder
            .encode_frames(frames.into_iter().map(|f| Frame::from_parts(f, 0, 0, delay)))
            .map_err(|e| fail(&e))?;
    }
    write_atomically_named(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::ScheduleConfig;

    #[test]
    fn an_atomic_write_replaces_the_file_and_a_failed_one_keeps_it() {
        let dir = std::env::temp_dir().join(format!("noisescope-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("lesson.lesson");
        write_atomically(&path, b"old").unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        // A directory where the file should go: the rename fails, nothing is left behind.
        let blocked = dir.join("blocked");
        std::fs::create_dir_all(blocked.join("inside")).unwrap();
        assert!(write_atomically(&blocked, b"x").is_err());
        assert!(blocked.join("inside").is_dir());
        let leftovers = std::fs::read_dir(&dir).unwrap().filter_map(Result::ok);
        assert!(
            leftovers
                .map(|e| e.file_name())
                .all(|n| !n.to_string_lossy().contains(".tmp-"))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn points_csv_has_a_header_and_a_row_per_point() {
        assert_eq!(points_csv(&[1.0, 2.0, 3.0, 4.5], 2), "x,y\n1,2\n3,4.5\n");
    }

    #[test]
    fn curves_csv_rows_follow_the_schedule() {
        let schedule = Schedule::new(&ScheduleConfig::default()).unwrap();
        let text = curves_csv(&schedule, Some(&[0.5; 999]));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1001);
        assert!(
            lines[1].starts_with("1,0.0001,0.9999,") && lines[1].ends_with(','),
            "{}",
            lines[1]
        );
        assert!(lines[2].ends_with(",0.5"));
    }

    #[test]
    fn noised_image_keeps_data_at_t0_and_is_noise_at_zero_signal() {
        let rgba = [1.0, 0.0, 0.5, 1.0];
        let noise = [0.0, 0.0, 0.0, 0.0];
        assert_eq!(noised_image(1, 1, &rgba, &noise, 1.0).into_raw(), [255, 0, 128, 255]);
        let noise = [1.0, -1.0, 0.0, 0.0];
        assert_eq!(noised_image(1, 1, &rgba, &noise, 0.0).into_raw(), [255, 0, 128, 255]);
    }

    #[test]
    fn three_images_tile_two_to_a_row_with_the_fill_where_none_lies() {
        // Three 2×1 images: [1, 2], [3, 4], [5, 6], two to a row.
        let tiled = tile_values(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 1, 2, 3, -1.0);
        assert_eq!(tiled, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, -1.0, -1.0]);
        let grid = image_grid(&[1.0, -1.0], 1, 2, 2, 1);
        assert_eq!(grid.dimensions(), (2, 2));
        assert_eq!(grid.get_pixel(0, 0).0, [255, 255, 255, 255]);
        assert_eq!(grid.get_pixel(0, 1).0, [0, 0, 0, 255]);
        assert_eq!(grid.get_pixel(1, 0).0, [26, 26, 31, 255]);
    }
}
