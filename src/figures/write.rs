//! A figure on disk: one CSV per series (headers carry the axes' units), one
//! of its numbers (`name,value,unit`), a PNG of the whole figure, and a text
//! file with the setup and the numbers.
//! Every file is written to a temporary name and renamed.

use std::path::{Path, PathBuf};

use super::data::{Figure, Mark, Panel, Series};
use super::render::render;
use super::setup::SetupKey;
use crate::export::{ExportError, encode_png, write_atomically_named};

/// What a figure is, for its files.
#[derive(Clone, Copy, Debug)]
pub struct Described<'a> {
    /// The scene's stable id: every file name starts with it.
    pub id: &'a str,
    /// The scene's title.
    pub title: &'a str,
    /// Its setup as computed.
    pub setup: &'a [SetupKey],
}

/// Writes `figure` into `dir` (created if missing); returns the files written.
///
/// # Errors
/// A folder or file that cannot be written, named.
pub fn write_figure(dir: &Path, about: Described<'_>, figure: &Figure) -> Result<Vec<PathBuf>, ExportError> {
    std::fs::create_dir_all(dir).map_err(|e| ExportError::new(dir, &e))?;
    let mut written = Vec::new();
    let mut used = std::collections::HashSet::new();
    for panel in &figure.panels {
        for series in &panel.series {
            let mut stem = format!("{}-{}-{}", about.id, slug(&panel.title), slug(&series.name));
            // Two series may slug alike ("L_0", "L_T"): number the later ones.
            let base = stem.clone();
            let mut k = 2;
            while !used.insert(stem.clone()) {
                stem = format!("{base}-{k}");
                k += 1;
            }
            let path = dir.join(format!("{stem}.csv"));
            write_atomically_named(&path, series_csv(panel, series).as_bytes())?;
            written.push(path);
        }
    }
    if !figure.numbers.is_empty() {
        let path = dir.join(format!("{}-numbers.csv", about.id));
        write_atomically_named(&path, numbers_csv(figure).as_bytes())?;
        written.push(path);
    }
    let png = dir.join(format!("{}.png", about.id));
    write_atomically_named(&png, &encode_png(&render(about.title, figure), &png)?)?;
    written.push(png);
    let text = dir.join(format!("{}.txt", about.id));
    write_atomically_named(&text, numbers_text(about, figure, &written).as_bytes())?;
    written.push(text);
    Ok(written)
}

/// A series as CSV: `x,y`, one row a point; a series of several lines gets a
/// first column numbering them; arrows are `x,y,tip x,tip y`.
#[must_use]
pub fn series_csv(panel: &Panel, series: &Series) -> String {
    let (x, y) = (quote(&panel.x_label), quote(&panel.y_label));
    let mut csv = match series.mark {
        Mark::Arrows => format!(
            "{x},{y},{},{}\n",
            quote(&format!("tip {}", panel.x_label)),
            quote(&format!("tip {}", panel.y_label))
        ),
        _ if series.lines.len() > 1 => format!("line,{x},{y}\n"),
        _ => format!("{x},{y}\n"),
    };
    for (i, line) in series.lines.iter().enumerate() {
        match (series.mark, line.as_slice()) {
            (Mark::Arrows, [a, b]) => csv.push_str(&format!("{},{},{},{}\n", a[0], a[1], b[0], b[1])),
            (Mark::Arrows, _) => {}
            _ => {
                for p in line {
                    if series.lines.len() > 1 {
                        csv.push_str(&format!("{i},"));
                    }
                    csv.push_str(&format!("{},{}\n", p[0], p[1]));
                }
            }
        }
    }
    csv
}

/// The figure's numbers as CSV: `name,value,unit`.
#[must_use]
pub fn numbers_csv(figure: &Figure) -> String {
    let mut csv = String::from("name,value,unit\n");
    for number in &figure.numbers {
        csv.push_str(&format!(
            "{},{},{}\n",
            quote(&number.name),
            number.value,
            quote(&number.unit)
        ));
    }
    csv
}

/// The figure's title, setup, numbers, legend and files, as text.
fn numbers_text(about: Described<'_>, figure: &Figure, files: &[PathBuf]) -> String {
    let mut text = format!("{}\nnoisescope figure {}", about.title, about.id);
    for key in about.setup {
        text.push_str(&format!(" --set {}={}", key.key, key.value));
    }
    text.push_str("\n\n");
    for number in &figure.numbers {
        let unit = if number.unit.is_empty() {
            String::new()
        } else {
            format!(" {}", number.unit)
        };
        text.push_str(&format!("{} = {}{unit}\n", number.name, number.value));
    }
    for panel in &figure.panels {
        text.push_str(&format!(
            "\n{}: x = {}, y = {}\n",
            panel.title, panel.x_label, panel.y_label
        ));
        for series in &panel.series {
            let [r, g, b] = series.color;
            text.push_str(&format!("  #{r:02x}{g:02x}{b:02x} {}\n", series.name));
        }
    }
    text.push_str("\nfiles:\n");
    for file in files {
        text.push_str(&format!(
            "  {}\n",
            file.file_name().unwrap_or_default().to_string_lossy()
        ));
    }
    text
}

/// A CSV field, quoted when it holds a comma or a quote.
fn quote(field: &str) -> String {
    if field.contains([',', '"']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// A file-name piece: ASCII letters and digits, words joined by `-`.
#[must_use]
pub fn slug(text: &str) -> String {
    let mut slug = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() { "series".into() } else { slug.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_keep_letters_and_digits() {
        assert_eq!(slug("√ᾱ_t, linear"), "t-linear");
        assert_eq!(slug("L_(t−1), t = 2..101"), "l-t-1-t-2-101");
        assert_eq!(slug("∇"), "series");
    }

    #[test]
    fn several_lines_are_numbered_and_headers_quoted() {
        let panel = Panel {
            x_label: "x, data".into(),
            y_label: "y".into(),
            ..Panel::default()
        };
        let series = Series::lines("paths", [0, 0, 0], vec![vec![[0.0, 1.0]], vec![[2.0, 3.0]]]);
        assert_eq!(series_csv(&panel, &series), "line,\"x, data\",y\n0,0,1\n1,2,3\n");
    }
}
