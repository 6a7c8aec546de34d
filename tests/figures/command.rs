//! `noisescope figure` for every scene, with small settings: its CSV, PNG and
//! text files, and its one-line errors.

use std::process::Command;

use noisescope::scenes::SceneId;

/// The number of fields of a CSV line whose fields may be quoted.
fn csv_fields(line: &str) -> usize {
    let mut quoted = false;
    1 + line
        .chars()
        .filter(|&c| {
            if c == '"' {
                quoted = !quoted;
            }
            c == ',' && !quoted
        })
        .count()
}

/// Small settings for each figure's command-line run.
fn small_settings(id: SceneId) -> Vec<String> {
    match id {
        SceneId::Spacing => vec!["--set".into(), "steps=4".into()],
        SceneId::ImageBatch => ["--set", "steps=2", "--set", "batch=2"].map(String::from).to_vec(),
        SceneId::Mixture2D => vec!["--set".into(), "particles=50".into()],
        SceneId::Train2D
        | SceneId::LearnedVariance
        | SceneId::VdmSchedule
        | SceneId::LearnedVsExact
        | SceneId::LossWeights
        | SceneId::Ncsn
        | SceneId::Vae
        | SceneId::HvaeToDiffusion
        | SceneId::FlowMatching => vec!["--set".into(), "steps=20".into()],
        SceneId::Distillation => ["--set", "first-round-steps=10", "--set", "later-round-steps=5"]
            .map(String::from)
            .into(),
        _ => Vec::new(),
    }
}

#[test]
fn the_figure_command_writes_csv_png_and_text_for_every_figure() {
    let binary = env!("CARGO_BIN_EXE_noisescope");
    for &id in SceneId::ALL {
        let dir = crate::common::scratch("figures", id.id());
        let _ = std::fs::remove_dir_all(&dir);
        let output = Command::new(binary)
            .args(["figure", id.id(), "--out", dir.to_str().unwrap()])
            .args(small_settings(id))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{}: {stderr}", id.id());
        let listed: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        let png = dir.join(format!("{}.png", id.id()));
        assert!(listed.contains(&png.display().to_string()), "{}: {listed:?}", id.id());
        let image = image::open(&png).unwrap();
        assert!(
            image.width() >= 640,
            "{}: {}×{}",
            id.id(),
            image.width(),
            image.height()
        );
        let text = std::fs::read_to_string(dir.join(format!("{}.txt", id.id()))).unwrap();
        assert!(text.starts_with(id.title()), "{}: {text}", id.id());
        let csvs: Vec<&String> = listed.iter().filter(|p| p.ends_with(".csv")).collect();
        assert!(!csvs.is_empty(), "{}: no CSV", id.id());
        for csv in csvs {
            let body = std::fs::read_to_string(csv).unwrap();
            if csv.ends_with("-numbers.csv") {
                assert!(
                    body.starts_with("name,value,unit\n") && body.lines().count() > 1,
                    "{csv}: {body}"
                );
                continue;
            }
            let mut lines = body.lines();
            let header = lines.next().unwrap();
            let columns = csv_fields(header) - 1;
            assert!(lines.clone().count() > 0, "{csv}: no rows");
            for line in lines {
                assert_eq!(line.matches(',').count(), columns, "{csv}: {line}");
                for field in line.split(',') {
                    field
                        .parse::<f64>()
                        .unwrap_or_else(|_| panic!("{csv}: {field:?} is not a number"));
                }
            }
        }
    }
}

#[test]
fn the_figure_command_refuses_bad_input_in_one_line() {
    let binary = env!("CARGO_BIN_EXE_noisescope");
    let blocked = crate::common::scratch("figures", "a-file");
    std::fs::write(&blocked, "not a folder").unwrap();
    let blocked = blocked.display().to_string();
    let cases: [(&[&str], &str); 4] = [
        (&["figure", "ddim", "--out", "/tmp/x"], "no scene is called 'ddim'"),
        (
            &["figure", "elbo", "--set", "steps=3", "--out", "/tmp/x"],
            "no setting 'steps'",
        ),
        (
            &["figure", "elbo", "--set", "seed=minus", "--out", "/tmp/x"],
            "--set seed=minus",
        ),
        (&["figure", "elbo", "--out", &blocked], &blocked),
    ];
    for (args, expected) in cases {
        let output = Command::new(binary).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
