//! The command line as a user meets it: the real binary, its output and its errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Output};

use common::{floats, reference};

fn noisescope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_noisescope"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn schedule_prints_diffusers_cosine_table() {
    let text = stdout(&noisescope(&["schedule", "--schedule", "cosine"]));
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("t,beta,alpha,alpha_bar,snr,log_snr,posterior_variance")
    );
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 1000);
    let reference = reference();
    let case = &reference["schedules"]["cosine"];
    let (betas, alpha_bars) = (floats(&case["betas"]), floats(&case["alpha_bars"]));
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0] as usize, i + 1);
        assert!((row[1] - betas[i]).abs() < 1e-9);
        assert!((row[3] - alpha_bars[i]).abs() < 1e-9);
        assert!((row[4] - alpha_bars[i] / (1.0 - alpha_bars[i])).abs() < 1e-6 * row[4].max(1.0));
    }
}

#[test]
fn zero_terminal_snr_prints_minus_infinity_log_snr() {
    let text = stdout(&noisescope(&[
        "schedule",
        "--schedule",
        "linear",
        "--train-steps",
        "10",
        "--zero-terminal-snr",
    ]));
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("10,1,0,0,0,-inf,"), "{last}");
}

#[test]
fn timesteps_prints_trailing_steps() {
    let text = stdout(&noisescope(&[
        "timesteps",
        "--train-steps",
        "1000",
        "--steps",
        "4",
        "--spacing",
        "trailing",
    ]));
    assert_eq!(text, "1000\n750\n500\n250\n");
}

#[test]
fn sample_writes_points_csv() {
    let dir = std::env::temp_dir().join(format!("noisescope-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("points.csv");
    let mixture = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/mixtures/three-blobs.json");
    let model = format!("gmm:{mixture}");
    let args = [
        "sample",
        "--model",
        &model,
        "--sampler",
        "dpm-solver++",
        "--steps",
        "20",
        "--n",
        "500",
        "--seed",
        "4",
        "--class",
        "1",
        "--guidance",
        "2",
        "--out",
        out.to_str().unwrap(),
    ];
    stdout(&noisescope(&args));
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("x,y"));
    let points: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
        .collect();
    assert_eq!(points.len(), 500);
    // Class 1 is the single blob at (2, -1).
    let near = points.iter().filter(|p| (p[0] - 2.0).hypot(p[1] + 1.0) < 1.0).count();
    assert!(near > 495, "only {near} of 500 guided samples near class 1");
    // The same seed writes the same file.
    stdout(&noisescope(&args));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
}

fn argv(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_owned).collect()
}

/// Each command fails with one line on standard error that contains its text.
fn assert_each_fails_with_one_line(cases: Vec<(Vec<String>, &str)>) {
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = noisescope(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: not one line: {stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: '{stderr}' does not mention '{expected}'"
        );
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    }
}

#[test]
fn flow_and_sampler_choices_refuse_bad_input_with_one_line() {
    let mixture = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/mixtures/three-blobs.json");
    let good = format!("gmm:{mixture}");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            argv(&format!("sample --model {good} --process flow --sampler ddim")),
            "--sampler ddim is a diffusion sampler; --process flow takes euler, heun",
        ),
        (
            argv(&format!("sample --model {good} --sampler heun")),
            "--sampler heun runs on the flow path; add --process flow",
        ),
        (
            argv("train --data two-moons --objective flow --prediction x0 --out x"),
            "--objective flow predicts the flow velocity, not x0",
        ),
        (
            argv("train --data two-moons --objective flow --loss elbo --out x"),
            "flow matching trains with the simple loss",
        ),
        (
            argv(&format!(
                "sample --model {good} --sampler edm-stochastic --edm-churn=-1"
            )),
            "S_churn",
        ),
        (argv("timesteps --steps 10 --spacing cubic"), "cubic"),
        (
            argv(&format!(
                "grid --rows color=1 --cols steps=5 --model {good} --out g.png"
            )),
            "unknown axis 'color'",
        ),
        (
            argv(&format!(
                "grid --rows steps=5 --cols steps=10 --model {good} --out g.png"
            )),
            "two different axes",
        ),
    ];
    assert_each_fails_with_one_line(cases);
}

#[test]
fn bad_input_is_one_line_and_a_failure() {
    let dir = std::env::temp_dir().join(format!("noisescope-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        format!("gmm:{}", path.display())
    };
    let good = write("good.json", r#"{"components": [{"mean": [0, 0], "std": 1}]}"#);
    // A folder of images with one that does not decode, and an empty folder.
    let folder = dir.join("images");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("broken.png"), "not a png").unwrap();
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let neg = write("neg.json", r#"{"components": [{"mean": [0], "std": -1}]}"#);
    let weight = write("w.json", r#"{"components": [{"mean": [0], "std": 1, "weight": -1}]}"#);
    let blank = write("empty.json", "");
    let cut = write("cut.json", r#"{"components": [{"mean": [0,"#);
    let text = write("text.json", "hello");
    let junk = write("junk.safetensors", "not weights").replacen("gmm:", "net:", 1);
    let good_data = good.trim_start_matches("gmm:");
    let (folder, empty) = (folder.display(), empty.display());
    let cases: Vec<(Vec<String>, &str)> = vec![
        (argv("schedule --schedule quadratic"), "unknown schedule"),
        (argv("schedule --train-steps 0"), "at least 1"),
        // Limits checked before the work: these aborted, hung and failed late before.
        (
            argv("schedule --schedule cosine --train-steps 100000000"),
            "at most 1000000",
        ),
        (
            argv(&format!("sample --model {good} --n 100000000000")),
            "--n 100000000000: needs about",
        ),
        (
            argv("train --data two-moons --out /nonexistent/m.safetensors"),
            "--out /nonexistent/m.safetensors: cannot write /nonexistent: the folder does not exist",
        ),
        (argv("schedule --beta-end 1.5"), "beta-end"),
        (argv("schedule --schedule cosine --beta-start 0.1"), "cosine"),
        (argv("timesteps --steps 2000"), "steps"),
        (
            argv(&format!("sample --model {good} --sampler magic")),
            "unknown sampler",
        ),
        (argv(&format!("sample --model {good} --eta 1.5")), "eta"),
        (argv(&format!("sample --model {good} --steps 1001")), "steps"),
        (argv(&format!("sample --model {neg}")), "std"),
        (argv(&format!("sample --model {weight}")), "weight"),
        (argv(&format!("sample --model {blank}")), "empty"),
        (argv(&format!("sample --model {cut}")), "not a valid mixture JSON"),
        (argv(&format!("sample --model {text}")), "not a valid mixture JSON"),
        (argv("sample --model gmm:/no/such/file.json"), "/no/such/file.json"),
        (argv("sample --model unet:x"), "unknown model"),
        (argv(&format!("sample --model {good} --class 3")), "label 3"),
        (
            argv(&format!("sample --model {good} --out /no/such/dir/p.csv")),
            "--out /no/such/dir/p.csv: cannot write /no/such/dir: the folder does not exist",
        ),
        (
            argv("sample --model net:/no/such/weights.safetensors"),
            "/no/such/weights.safetensors",
        ),
        (argv(&format!("sample --model {junk}")), "not a safetensors file"),
        (
            argv("train --data /no/such/images --out x"),
            "unknown data '/no/such/images'",
        ),
        (
            argv("train --data two-moons --out x --label-dropout 2"),
            "--label-dropout must be in [0, 1]",
        ),
        (
            argv(&format!("train --data {good_data} --out x --channels 0")),
            "must be positive",
        ),
        (argv(&format!("train --data {folder} --out x")), "broken.png"),
        (argv(&format!("train --data {empty} --out x")), "no PNG or JPEG images"),
        (
            argv("evaluate --model /no/such/model.safetensors --classifier c"),
            "/no/such/model.safetensors",
        ),
    ];
    assert_each_fails_with_one_line(cases);
}

#[test]
fn explore_refuses_bad_flags_with_one_line_before_any_window_opens() {
    let broken = common::scratch("cli", "broken-explore.lesson");
    std::fs::write(&broken, "[stop]\nscene = ddim\n").unwrap();
    let broken = broken.to_str().unwrap().to_owned();
    let cases: [(&[&str], &str); 6] = [
        (&["explore", "--scene", "nope"], "--scene: no scene is called 'nope'"),
        (&["explore", "--size", "12x5"], "'--size <WxH>'"),
        (&["explore", "--size", "wide"], "expected WIDTHxHEIGHT"),
        (
            &["explore", "--lesson", "/nonexistent/class.lesson"],
            "--lesson /nonexistent/class.lesson: cannot read",
        ),
        (&["explore", "--lesson", &broken], "line 2: no scene is called 'ddim'"),
        (
            &["explore", "--frame-stats", "/nonexistent/dir/frames.csv"],
            "--frame-stats /nonexistent/dir/frames.csv: cannot create",
        ),
    ];
    for (args, expected) in cases {
        // No DISPLAY: had the flags passed, the window would have failed instead.
        let output = Command::new(env!("CARGO_BIN_EXE_noisescope"))
            .args(args)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .output()
            .expect("the binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn lesson_convert_rewrites_an_old_lesson_as_toml_and_refuses_a_broken_one() {
    let old = common::scratch("cli", "old-format.lesson");
    std::fs::write(
        &old,
        "# old\n[stop]\ntitle = Noise\nscene = images\nt = 250\n\n[stop]\nscene = 2d-mixture\nsampler = ddpm\nsteps = 100\nclass = 1\n",
    )
    .unwrap();
    let new = common::scratch("cli", "converted.toml");
    let _ = std::fs::remove_file(&new);
    let said = stdout(&noisescope(&[
        "lesson",
        "convert",
        old.to_str().unwrap(),
        new.to_str().unwrap(),
    ]));
    assert!(said.contains("2 stops, as TOML"), "{said}");
    let text = std::fs::read_to_string(&new).unwrap();
    // A TOML reader that is not noisescope's sees the two stops and their values.
    let table: toml::Table = text.parse().unwrap();
    let stops = table["stop"].as_array().unwrap();
    assert_eq!(stops.len(), 2, "{text}");
    assert_eq!(stops[0]["title"].as_str(), Some("Noise"));
    assert_eq!(stops[0]["t"].as_integer(), Some(250));
    assert_eq!(stops[1]["sampler"].as_str(), Some("ddpm"));
    assert_eq!(stops[1]["steps"].as_integer(), Some(100));
    assert_eq!(stops[1]["class"].as_integer(), Some(1));

    let broken = common::scratch("cli", "broken-convert.lesson");
    std::fs::write(&broken, "[stop]\nscene = images\nsteps = many\n").unwrap();
    let output = noisescope(&["lesson", "convert", broken.to_str().unwrap(), new.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("line 3: steps must be a number"), "{stderr}");
}

/// `train --objective flow` writes a flow-matching network that samples on the
/// flow path and, through the same point on the VP path, with DDIM; the exact
/// mixture samples on the flow path too.
#[test]
fn flow_matching_trains_and_samples_from_the_command_line() {
    let dir = std::env::temp_dir().join(format!("noisescope-flow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let weights = dir.join("flow.safetensors");
    let mixture = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/mixtures/three-blobs.json");
    let train = [
        "train",
        "--data",
        mixture,
        "--objective",
        "flow",
        "--steps",
        "300",
        "--batch",
        "128",
        "--out",
    ];
    stdout(&noisescope(&[&train[..], &[weights.to_str().unwrap()]].concat()));
    let net = format!("net:{}", weights.display());
    let gmm = format!("gmm:{mixture}");
    for (model, process, sampler) in [
        (&net, "flow", "heun"),
        (&net, "diffusion", "ddim"),
        (&gmm, "flow", "euler"),
    ] {
        let text = stdout(&noisescope(&[
            "sample",
            "--model",
            model,
            "--process",
            process,
            "--sampler",
            sampler,
            "--steps",
            "20",
            "--n",
            "400",
        ]));
        let points: Vec<Vec<f64>> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(|c| c.parse().unwrap()).collect())
            .collect();
        assert_eq!(points.len(), 400);
        // Most of the mass (0.7) is the blob at (−2, −1): a sampler that learned
        // nothing puts its N(0, I) draws there far less often.
        let near = points.iter().filter(|p| (p[0] + 2.0).hypot(p[1] + 1.0) < 1.0).count();
        assert!(
            near > 200,
            "{model} {process} {sampler}: {near} of 400 near the main blob"
        );
    }
}

/// A weights file's safetensors metadata (its JSON header's `__metadata__`).
fn metadata(path: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    let bytes = std::fs::read(path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    serde_json::from_value(header["__metadata__"].clone()).unwrap()
}

/// `train --init` starts from a saved model, and the file it writes counts the
/// steps behind it across a chain of runs.
#[test]
fn train_init_records_every_step_behind_the_weights() {
    let dir = std::env::temp_dir().join(format!("noisescope-init-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mixture = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/mixtures/three-blobs.json");
    let files = ["a", "b", "c"].map(|n| dir.join(format!("{n}.safetensors")));
    let run = |steps: &str, init: Option<&std::path::Path>, out: &std::path::Path| {
        let mut args = vec!["train", "--data", mixture, "--steps", steps, "--batch", "16"];
        if let Some(init) = init {
            args.extend(["--init", init.to_str().unwrap(), "--cosine-decay"]);
        }
        args.extend(["--out", out.to_str().unwrap()]);
        stdout(&noisescope(&args));
    };
    run("3", None, &files[0]);
    run("2", Some(&files[0]), &files[1]);
    run("4", Some(&files[1]), &files[2]);
    let last = metadata(&files[2]);
    assert_eq!(last["training.steps"], "4");
    assert_eq!(last["training.init_steps"], "5", "3 + 2 steps behind its start");
    assert_eq!(last["training.learning_rate_schedule"], "cosine");
    assert!(last["training.init"].ends_with("b.safetensors"));
    std::fs::remove_dir_all(&dir).ok();
}

/// `grid` writes one PNG and a CSV with a line per cell.
#[test]
fn grid_writes_a_png_and_the_distances() {
    let dir = std::env::temp_dir().join(format!("noisescope-grid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("grid.png");
    let mixture = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/mixtures/three-blobs.json");
    let model = format!("gmm:{mixture}");
    stdout(&noisescope(&[
        "grid",
        "--rows",
        "sampler=ddim,dpm-solver++",
        "--cols",
        "steps=5,20",
        "--model",
        &model,
        "--n",
        "200",
        "--out",
        png.to_str().unwrap(),
    ]));
    let image = image::open(&png).unwrap();
    assert!(image.width() > 400 && image.height() > 300);
    let csv = std::fs::read_to_string(png.with_extension("csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "row,col,sampler,steps,distance,reference_steps");
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(
        lines[1].starts_with("0,0,ddim,5,") && lines[4].starts_with("1,1,dpm-solver++,20,"),
        "{csv}"
    );
}
