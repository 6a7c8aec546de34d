//! The exact mixture against the definitions, written out by hand here.

use super::*;

fn two_blobs() -> GaussianMixture {
    GaussianMixture::from_json(
        r#"{"components": [
            {"mean": [-2, 0], "std": 0.5, "weight": 3, "label": 0},
            {"mean": [2, 1], "std": 0.3, "weight": 1, "label": 1}]}"#,
        "test",
    )
    .unwrap()
}

/// w_k N(x; √ᾱ μ_k, v_k I) for each component, by the definition, one
/// point at a time, any width, in plain f64.
fn weighted_densities_by_hand(m: &GaussianMixture, x: &[f64], alpha_bar: f64) -> Vec<f64> {
    m.components()
        .iter()
        .map(|c| {
            let v = noised_variance(c.std, alpha_bar);
            let sq: f64 = x
                .iter()
                .zip(&c.mean)
                .map(|(x, mu)| (x - alpha_bar.sqrt() * mu).powi(2))
                .sum();
            c.weight * (-sq / (2.0 * v)).exp() / (2.0 * std::f64::consts::PI * v).powf(x.len() as f64 / 2.0)
        })
        .collect()
}

/// log p_t by the definition.
fn log_density_by_hand(m: &GaussianMixture, x: [f64; 2], alpha_bar: f64) -> f64 {
    weighted_densities_by_hand(m, &x, alpha_bar).iter().sum::<f64>().ln()
}

#[test]
fn score_is_the_gradient_of_the_log_density() {
    let m = two_blobs();
    let alpha_bar = 0.6;
    let x = [0.3, -0.4];
    let h = 1e-5;
    let tensor = Tensor::new(&[[x[0] as f32, x[1] as f32]], &Device::Cpu).unwrap();
    let score: Vec<Vec<f32>> = m.score(&tensor, alpha_bar, None).unwrap().to_vec2().unwrap();
    for d in 0..2 {
        let (mut up, mut down) = (x, x);
        up[d] += h;
        down[d] -= h;
        let numeric = (log_density_by_hand(&m, up, alpha_bar) - log_density_by_hand(&m, down, alpha_bar)) / (2.0 * h);
        assert!(
            (f64::from(score[0][d]) - numeric).abs() < 1e-4,
            "dim {d}: {} vs {numeric}",
            score[0][d]
        );
    }
    let log_p = m.log_density(&tensor, alpha_bar).unwrap()[0];
    assert!((log_p - log_density_by_hand(&m, x, alpha_bar)).abs() < 1e-6);
}

#[test]
fn tweedie_links_posterior_mean_and_score() {
    let m = two_blobs();
    let alpha_bar: f64 = 0.3;
    let x = Tensor::new(&[[0.5f32, 0.5], [-1.0, 2.0]], &Device::Cpu).unwrap();
    let level = NoiseLevel { t: 1.0, alpha_bar };
    let x0 = m.predict(&x, level, None).unwrap().prediction.value;
    let score = m.score(&x, alpha_bar, None).unwrap();
    // x̂0 = (x + (1 − ᾱ) ŝ)/√ᾱ.
    let tweedie = ((&x + (score * (1.0 - alpha_bar)).unwrap()).unwrap() / alpha_bar.sqrt()).unwrap();
    let diff: f32 = (x0 - tweedie)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar()
        .unwrap();
    assert!(diff < 1e-5, "{diff}");
}

#[test]
fn bad_files_say_what_is_wrong() {
    let err = |text: &str| GaussianMixture::from_json(text, "m.json").unwrap_err().to_string();
    assert!(err("").contains("empty"));
    assert!(err("{\"components\": [").contains("not a valid mixture JSON"));
    assert!(err(r#"{"components": []}"#).contains("at least one component"));
    assert!(err(r#"{"components": [{"mean": [0], "std": -1}]}"#).contains("std"));
    assert!(err(r#"{"components": [{"mean": [0], "std": 1, "weight": -2}]}"#).contains("weight"));
    assert!(err(r#"{"components": [{"mean": [0], "std": 1}, {"mean": [0, 1], "std": 1}]}"#).contains("dimensions"));
    assert!(err("{}").starts_with("m.json: "));
}

#[test]
fn classifier_probabilities_follow_bayes() {
    let m = two_blobs();
    let x = Tensor::new(&[[-2.0f32, 0.0], [2.0, 1.0]], &Device::Cpu).unwrap();
    let level = NoiseLevel { t: 0.0, alpha_bar: 1.0 };
    let p: Vec<Vec<f64>> = m.class_probabilities(&x, level).unwrap().to_vec2().unwrap();
    assert!(p[0][0] > 0.999 && p[1][1] > 0.999);
    let level = NoiseLevel {
        t: 1000.0,
        alpha_bar: 0.0,
    };
    let p: Vec<Vec<f64>> = m.class_probabilities(&x, level).unwrap().to_vec2().unwrap();
    assert!((p[0][0] - 0.75).abs() < 1e-9, "pure noise gives the prior");
}

/// Σ_k r_k (√ᾱ μ_k − x)/v_k by the definition, one point at a time, any width.
fn score_by_hand(m: &GaussianMixture, x: &[f64], alpha_bar: f64) -> Vec<f64> {
    let densities = weighted_densities_by_hand(m, x, alpha_bar);
    let total: f64 = densities.iter().sum();
    let mut score = vec![0.0; x.len()];
    for (c, density) in m.components().iter().zip(&densities) {
        let v = noised_variance(c.std, alpha_bar);
        for ((s, x), mu) in score.iter_mut().zip(x).zip(&c.mean) {
            *s += density / total * (alpha_bar.sqrt() * mu - x) / v;
        }
    }
    score
}

#[test]
fn narrow_and_wide_data_give_the_score_by_its_definition() {
    // Two dimensions go through the row loops, nine through matrix products.
    for dims in [2, 9] {
        let mean = |k: usize| {
            (0..dims)
                .map(|d| ((k * 7 + d * 3) % 5) as f64 - 2.0)
                .collect::<Vec<_>>()
        };
        let m = GaussianMixture::new(
            (0..3)
                .map(|k| Component {
                    mean: mean(k),
                    std: 0.3 + 0.2 * k as f64,
                    weight: 1.0 + k as f64,
                    label: None,
                })
                .collect(),
        )
        .unwrap();
        let x: Vec<f64> = (0..dims).map(|d| 0.4 * d as f64 - 1.0).collect();
        let row: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let tensor = Tensor::from_vec(row.clone(), (1, dims), &Device::Cpu).unwrap();
        for alpha_bar in [0.05, 0.5, 0.98] {
            let score: Vec<f32> = m
                .score(&tensor, alpha_bar, None)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let x_f32: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
            let expected = score_by_hand(&m, &x_f32, alpha_bar);
            for (got, want) in score.iter().zip(&expected) {
                assert!(
                    (f64::from(*got) - want).abs() < 1e-4 * want.abs().max(1.0),
                    "{dims} dims, ᾱ {alpha_bar}: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn the_narrowest_noised_std_is_the_least_noised_component_std() {
    let m = two_blobs();
    // At the data the narrowest component is itself (s = 0.3); at pure noise every
    // component has unit variance; between, √(ᾱ · 0.09 + 1 − ᾱ).
    assert!((m.narrowest_noised_std(1.0) - 0.3).abs() < 1e-12);
    assert!((m.narrowest_noised_std(0.0) - 1.0).abs() < 1e-12);
    assert!((m.narrowest_noised_std(0.5) - (0.5_f64 * 0.09 + 0.5).sqrt()).abs() < 1e-12);
}
