//! Score matching and NCSN (Song & Ermon 2019; Luo 2022,
//! `shared/seeds/000_9adf4b751b0c0e64.txt`, lines 760–824).
//!
//! - **One loss.** Denoising score matching at σ, E‖s_θ(x̃) + (x̃ − x)/σ²‖² with
//!   x̃ = x + σ ε, is E‖ε_θ − ε‖²/σ² for ε_θ = −σ s_θ: ε-prediction's loss
//!   (∇log p(x_t) = −ε/√(1−ᾱ_t), Luo line 723). It differs from explicit score matching, E‖s_θ − ∇log p_σ‖²,
//!   by a constant C(σ) that no model changes (Vincent 2011): the scene checks
//!   DSM = ESM + C on the trained MLP at every level, within Monte Carlo error.
//! - **The VE perturbation** p_σ = p ∗ N(0, σ²) at geometric σ from σ_max to
//!   σ_min ([`super::ve_process`]), annealed Langevin on it (Algorithm 1), and
//!   the VE paths beside the VP ones (VP = √ᾱ · VE, ᾱ = 1/(1 + σ²)).
//! - **The three pitfalls of naive score matching** (Luo, line 793): data
//!   on a manifold (the score's size diverges as σ → 0 when the blobs shrink to
//!   points), low-density regions (the learned score is wrong where no data
//!   fall: the heat map), and lost mixture weights (plain Langevin at σ_min
//!   keeps where it started; annealing recovers 0.7 / 0.2 / 0.1).
//!
//! The learned score is the 2D MLP of the learned-vs-exact scene, an
//! ε-network of the VP schedule, read as a VE score: s(x, σ) = −ε_θ(√ᾱ x, t)/σ.

use super::Inputs;
use super::common::{self, DETERMINISTIC, STOCHASTIC, check, density_backdrop};
use super::data::{Backdrop, Figure, Panel, Point, Series};
use super::error::{FigureError, Result};
use super::learned;
use super::ve_process::{self, geometric_sigmas, ve_mixture, vp_alpha_bar};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::{Denoiser, NoiseLevel, NoiseRng, Schedule};
use crate::jobs::JobContext;
use crate::model::TrainedModel;

/// The noise levels L: with 10 (ratio 1.85 between levels) annealed Langevin
/// froze with mode 1 at 0.65 of the mass; with 20 (ratio 1.34) it keeps 0.7.
pub const LEVELS: usize = 20;
/// σ_1, about the largest distance between the blobs (Song & Ermon's rule).
pub const SIGMA_MAX: f64 = 5.0;
/// σ_L, below the smallest blob's spread.
pub const SIGMA_MIN: f64 = 0.02;
/// Langevin updates per level (T of Algorithm 1).
const STEPS_PER_LEVEL: usize = 200;
/// ε of Algorithm 1: α_i = ε σ_i² / σ_L².
const ANNEALED_STEP: f64 = 5e-5;
/// Plain Langevin's step at σ_L, run for as many updates as the annealed run.
const PLAIN_STEP: f64 = 0.01;
/// Particles of each Langevin run.
const PARTICLES: usize = 1000;
/// Particles drawn on a plane.
const SHOWN: usize = 400;
/// Monte Carlo draws per level of the losses.
const DRAWS: usize = 4000;
/// Pixels per side of the error heat map.
const ERROR_PIXELS: usize = 48;
/// The heat map's log₁₀ range, mapped to dark … bright.
const ERROR_RANGE: [f64; 2] = [-4.0, 1.0];
/// Forward paths drawn, and the σ values along them.
const PATHS: usize = 8;
const PATH_SIGMAS: usize = 60;
/// Paths behind the measured spread of the VE and VP marginals.
const SPREAD_PATHS: usize = 2000;
/// σ values of the score-size curves, from 0.005 to σ_max.
const SIZE_SIGMAS: usize = 25;

/// The training of the score network and the level shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// Training steps of the MLP (batches of 256).
    pub steps: usize,
    /// The training run's seed; it also draws the Langevin runs.
    pub seed: u64,
    /// The noise level shown, 1 (σ_max) to [`LEVELS`] (σ_min).
    pub level: usize,
}

impl Default for Setup {
    /// 1500 steps, seed 0, σ_min shown.
    fn default() -> Self {
        Self {
            steps: 1500,
            seed: 0,
            level: LEVELS,
        }
    }
}

figure_setup!(Setup, {
    steps => "steps": "training steps of the score network (batches of 256)",
    seed => "seed": "the training run's seed",
    level => "level": "the noise level shown, 1 (sigma_max) to 20 (sigma_min)",
});

/// One level's losses of the trained network, per point of the data.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LevelLosses {
    /// σ_i.
    pub sigma: f64,
    /// Denoising score matching, E‖s_θ(x̃) + (x̃ − x)/σ²‖².
    pub dsm: f64,
    /// Explicit score matching, E‖s_θ(x̃) − ∇log p_σ(x̃)‖².
    pub esm: f64,
    /// C(σ) = E‖∇log p_σ(x̃) + (x̃ − x)/σ²‖²: the DSM loss of the exact score.
    pub constant: f64,
    /// Standard error of the mean of DSM − ESM − C (0 in expectation).
    pub identity_standard_error: f64,
    /// ε-prediction's loss, E‖ε_θ − ε‖².
    pub epsilon_loss: f64,
    /// σ² ‖s_θ − ∇log p_σ‖² = ‖ε_θ − ε*‖² averaged over the view (uniform on the plane).
    pub plane_error: f64,
}

impl LevelLosses {
    /// σ² ESM = E_{p_σ}‖ε_θ − ε*‖²: the error where the data are.
    #[must_use]
    pub fn data_error(&self) -> f64 {
        self.sigma * self.sigma * self.esm
    }
}

/// What the scene shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Ncsn {
    /// σ_1 … σ_L.
    pub sigmas: Vec<f64>,
    /// The training losses, (step, loss).
    pub training: Vec<Point>,
    /// The losses at each level.
    pub losses: Vec<LevelLosses>,
    /// The heat map of σ²‖s_θ − ∇log p_σ‖² at each level.
    pub error_maps: Vec<Backdrop>,
    /// Annealed Langevin's particles at the start and after each level.
    pub annealed: Vec<Vec<Point>>,
    /// Plain Langevin's particles at σ_L after L·T updates.
    pub plain: Vec<Point>,
    /// The mode weights of the annealed run's end, and of the plain run's.
    pub annealed_fractions: Vec<f64>,
    /// See [`Self::annealed_fractions`].
    pub plain_fractions: Vec<f64>,
    /// The σ values along the paths (rising).
    pub path_sigmas: Vec<f64>,
    /// The first coordinate of [`PATHS`] VE paths (row: one path).
    pub ve_paths: Vec<Vec<f64>>,
    /// The sample standard deviation of the first coordinate over 2000 VE paths, per σ.
    pub ve_spread: Vec<f64>,
    /// The same for the VP paths √ᾱ · VE.
    pub vp_spread: Vec<f64>,
    /// (σ, E‖∇log p_σ‖² of the blobs, of the blobs shrunk to points).
    pub score_sizes: Vec<[f64; 3]>,
    /// The level shown, 1 to L.
    pub shown: usize,
    /// The mixture's first-coordinate variance (for the ±2 sd bands).
    pub data_variance: f64,
    /// p_σ's density and p_t's at the matching ᾱ, per level.
    pub backdrops: Vec<[Backdrop; 2]>,
}

/// Trains the score network, measures its losses at every level, and runs
/// annealed and plain Langevin on the exact p_σ.
///
/// # Errors
/// A level outside 1..=L, no training steps; cancelled.
pub fn compute(setup: &Setup, inputs: &Inputs, job: &JobContext) -> Result<Ncsn> {
    if !(1..=LEVELS).contains(&setup.level) {
        return Err(FigureError::bad_value(
            "level",
            &setup.level.to_string(),
            format!("must be in 1..={LEVELS}"),
        ));
    }
    let mixture = inputs.mixture.as_ref();
    let sigmas = geometric_sigmas(SIGMA_MAX, SIGMA_MIN, LEVELS);
    let mut rng = NoiseRng::seed_from(setup.seed);
    let (annealed, plain) = langevin_runs(mixture, &sigmas, &mut rng, job)?;
    let (path_sigmas, ve_paths, ve_spread, vp_spread) = paths(mixture, &mut rng)?;
    let score_sizes = score_sizes(mixture, &mut rng, job)?;
    let training_setup = learned::Setup {
        steps: setup.steps,
        seed: setup.seed,
    };
    let (training, model) = learned::train_mlp(&training_setup, inputs, job)?;
    let mut losses = Vec::with_capacity(LEVELS);
    let mut error_maps = Vec::with_capacity(LEVELS);
    let mut backdrops = Vec::with_capacity(LEVELS);
    for &sigma in &sigmas {
        check(job)?;
        let density = ve_mixture(mixture, sigma)?;
        let (level_losses, map) = level_losses(&model, &inputs.schedule, mixture, &density, sigma, &mut rng)?;
        losses.push(level_losses);
        error_maps.push(map);
        backdrops.push([
            density_backdrop(&density, 1.0)?,
            density_backdrop(mixture, vp_alpha_bar(sigma))?,
        ]);
    }
    let final_frame = annealed.last().map_or(&[][..], Vec::as_slice);
    Ok(Ncsn {
        annealed_fractions: common::mode_fractions(mixture, final_frame)?,
        plain_fractions: common::mode_fractions(mixture, &plain)?,
        sigmas,
        training,
        losses,
        error_maps,
        annealed,
        plain,
        path_sigmas,
        ve_paths,
        ve_spread,
        vp_spread,
        score_sizes,
        shown: setup.level,
        data_variance: ve_process::first_coordinate_variance(mixture),
        backdrops,
    })
}

/// Annealed Langevin over the levels, and plain Langevin at σ_L for as many
/// updates, both from the same uniform start over the view.
fn langevin_runs(
    mixture: &GaussianMixture,
    sigmas: &[f64],
    rng: &mut NoiseRng,
    job: &JobContext,
) -> Result<(Vec<Vec<Point>>, Vec<Point>)> {
    let (lo, hi) = (common::VIEW_MIN, common::VIEW_MAX);
    let start: Vec<Point> = (0..PARTICLES)
        .map(|_| {
            let (u, v) = (rng.uniform(), rng.uniform());
            [lo[0] + (hi[0] - lo[0]) * u, lo[1] + (hi[1] - lo[1]) * v]
        })
        .collect();
    job.report("annealed Langevin");
    let annealed = ve_process::annealed_langevin(mixture, sigmas, ANNEALED_STEP, STEPS_PER_LEVEL, &start, rng, job)?;
    job.report("plain Langevin");
    let last = ve_mixture(mixture, SIGMA_MIN)?;
    let plain = ve_process::langevin(&last, PLAIN_STEP, LEVELS * STEPS_PER_LEVEL, start, rng)?;
    Ok((annealed, plain))
}

/// The σ values of the paths, [`PATHS`] VE paths of the first coordinate, and
/// the measured spread of the VE and VP marginals over 2000 paths.
type Paths = (Vec<f64>, Vec<Vec<f64>>, Vec<f64>, Vec<f64>);

fn paths(mixture: &GaussianMixture, rng: &mut NoiseRng) -> Result<Paths> {
    let mut path_sigmas = geometric_sigmas(SIGMA_MAX, SIGMA_MIN, PATH_SIGMAS);
    path_sigmas.reverse();
    let (x0, _) = mixture.sample(SPREAD_PATHS, None, rng)?;
    let x0: Vec<f64> = common::points(&x0)?.iter().map(|p| p[0]).collect();
    let all = ve_process::ve_paths(&x0, &path_sigmas, rng);
    let spread = |scale: &dyn Fn(f64) -> f64| -> Vec<f64> {
        path_sigmas
            .iter()
            .enumerate()
            .map(|(j, &sigma)| {
                let column: Vec<f64> = all.iter().map(|path| scale(sigma) * path[j]).collect();
                common::sample_variance(&column).sqrt()
            })
            .collect()
    };
    let ve_spread = spread(&|_| 1.0);
    let vp_spread = spread(&|sigma| vp_alpha_bar(sigma).sqrt());
    Ok((path_sigmas, all.into_iter().take(PATHS).collect(), ve_spread, vp_spread))
}

/// E‖∇log p_σ‖² of the blobs and of the same blobs shrunk to points, for σ
/// from 0.005 to σ_max.
fn score_sizes(mixture: &GaussianMixture, rng: &mut NoiseRng, job: &JobContext) -> Result<Vec<[f64; 3]>> {
    let points = GaussianMixture::new(
        mixture
            .components()
            .iter()
            .map(|c| crate::diffusion::mixture::Component { std: 0.0, ..c.clone() })
            .collect(),
    )?;
    let mut sizes = Vec::with_capacity(SIZE_SIGMAS);
    for sigma in geometric_sigmas(0.005, SIGMA_MAX, SIZE_SIGMAS) {
        check(job)?;
        let blobs = ve_process::mean_squared_score(&ve_mixture(mixture, sigma)?, DRAWS, rng)?;
        let manifold = ve_process::mean_squared_score(&ve_mixture(&points, sigma)?, DRAWS, rng)?;
        sizes.push([sigma, blobs, manifold]);
    }
    Ok(sizes)
}

/// The fractional training step whose ᾱ is `alpha_bar` (ᾱ falls with t;
/// bisection on the schedule's continuous ᾱ).
fn training_step(schedule: &Schedule, alpha_bar: f64) -> f64 {
    let (mut lo, mut hi) = (0.0_f64, 1.0_f64);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if schedule.alpha_bar_continuous(mid) > alpha_bar {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi) * schedule.train_steps() as f64
}

/// The VP ε-network read as a VE score at σ: s(x, σ) = √ᾱ ∇log p_t(√ᾱ x) = −ε_θ(√ᾱ x, t)/σ.
fn learned_score(model: &TrainedModel, schedule: &Schedule, x: &[Point], sigma: f64) -> Result<Vec<Point>> {
    let alpha_bar = vp_alpha_bar(sigma);
    let scale = alpha_bar.sqrt();
    let y = common::tensor(&x.iter().map(|p| [scale * p[0], scale * p[1]]).collect::<Vec<_>>())?;
    let level = NoiseLevel {
        t: training_step(schedule, alpha_bar),
        alpha_bar,
    };
    let epsilon = model.predict(&y, level, None)?.prediction.epsilon(&y, alpha_bar)?;
    Ok(common::points(&epsilon)?
        .iter()
        .map(|e| [-e[0] / sigma, -e[1] / sigma])
        .collect())
}

fn squared_distance(a: Point, b: Point) -> f64 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}

/// One level's losses on 4000 draws of `mixture` noised by σ, scored against
/// `density` = p_σ, and the error heat map over the view.
fn level_losses(
    model: &TrainedModel,
    schedule: &Schedule,
    mixture: &GaussianMixture,
    density: &GaussianMixture,
    sigma: f64,
    rng: &mut NoiseRng,
) -> Result<(LevelLosses, Backdrop)> {
    let (x0, _) = mixture.sample(DRAWS, None, rng)?;
    let x0 = common::points(&x0)?;
    let noise: Vec<Point> = (0..DRAWS).map(|_| [rng.normal(), rng.normal()]).collect();
    let noised: Vec<Point> = x0
        .iter()
        .zip(&noise)
        .map(|(x, e)| [x[0] + sigma * e[0], x[1] + sigma * e[1]])
        .collect();
    let learned = learned_score(model, schedule, &noised, sigma)?;
    let exact = common::points(&density.score(&common::tensor_f64(&noised)?, 1.0, None)?)?;
    let var = sigma * sigma;
    let (mut dsm, mut esm, mut constant, mut epsilon_loss) = (0.0, 0.0, 0.0, 0.0);
    let mut gaps = Vec::with_capacity(DRAWS);
    for i in 0..DRAWS {
        // DSM's target is the score of q(x̃|x) = N(x, σ² I): −(x̃ − x)/σ².
        let target = [-(noised[i][0] - x0[i][0]) / var, -(noised[i][1] - x0[i][1]) / var];
        let epsilon_hat = [-sigma * learned[i][0], -sigma * learned[i][1]];
        let (d, e, c) = (
            squared_distance(learned[i], target),
            squared_distance(learned[i], exact[i]),
            squared_distance(exact[i], target),
        );
        dsm += d;
        esm += e;
        constant += c;
        epsilon_loss += squared_distance(epsilon_hat, noise[i]);
        gaps.push(d - e - c);
    }
    let n = DRAWS as f64;
    let (_, identity_standard_error) = common::mean_and_standard_error(&gaps);
    let (map, plane_error) = error_map(model, schedule, density, sigma)?;
    let losses = LevelLosses {
        sigma,
        dsm: dsm / n,
        esm: esm / n,
        constant: constant / n,
        identity_standard_error,
        epsilon_loss: epsilon_loss / n,
        plane_error,
    };
    Ok((losses, map))
}

/// σ²‖s_θ − ∇log p_σ‖² over the view as a heat map (log₁₀, bright = large), and its mean.
fn error_map(
    model: &TrainedModel,
    schedule: &Schedule,
    density: &GaussianMixture,
    sigma: f64,
) -> Result<(Backdrop, f64)> {
    let grid = common::view_grid(ERROR_PIXELS);
    let learned = learned_score(model, schedule, &grid, sigma)?;
    let exact = common::points(&density.score(&common::tensor_f64(&grid)?, 1.0, None)?)?;
    let errors: Vec<f64> = learned
        .iter()
        .zip(&exact)
        .map(|(l, e)| sigma * sigma * squared_distance(*l, *e))
        .collect();
    let mean = errors.iter().sum::<f64>() / errors.len().max(1) as f64;
    let [low, high] = ERROR_RANGE;
    let values = errors
        .iter()
        .map(|e| ((e.max(1e-12).log10() - low) / (high - low)).clamp(0.0, 1.0) as f32)
        .collect();
    Ok((
        Backdrop {
            side: ERROR_PIXELS,
            values,
            min: common::VIEW_MIN,
            max: common::VIEW_MAX,
        },
        mean,
    ))
}

impl Ncsn {
    /// The losses at level `level` (1 to L).
    #[must_use]
    pub fn losses_at(&self, level: usize) -> Option<&LevelLosses> {
        self.losses.get(level.checked_sub(1)?)
    }

    /// Row 1: p_σ with annealed Langevin after level `level`, p_t at the
    /// matching ᾱ with the same particles × √ᾱ, the learned score's error.
    /// Row 2: VE and VP paths, the score's size against σ, the error against σ.
    #[must_use]
    pub fn figure_at(&self, level: usize) -> Figure {
        let index = level.clamp(1, LEVELS) - 1;
        let sigma = self.sigmas.get(index).copied().unwrap_or(SIGMA_MIN);
        let mut figure = Figure {
            panels: vec![
                self.ve_plane(index, sigma),
                self.vp_plane(index, sigma),
                self.error_plane(index, sigma),
                self.paths_panel(),
                self.score_size_panel(),
                self.error_panel(),
            ],
            ..Figure::default()
        };
        figure.number("level", (index + 1) as f64, "");
        figure.number("σ", sigma, "data units");
        figure.number("ᾱ of the matching VP level", vp_alpha_bar(sigma), "");
        if let Some(l) = self.losses.get(index) {
            figure.number("σ² DSM", sigma * sigma * l.dsm, "");
            figure.number("ε-loss", l.epsilon_loss, "");
            figure.number("DSM", l.dsm, "1/data units²");
            figure.number("ESM + C", l.esm + l.constant, "1/data units²");
            figure.number(
                "standard error of DSM − ESM − C",
                l.identity_standard_error,
                "1/data units²",
            );
            figure.number("ε error where the data are", l.data_error(), "");
            figure.number("ε error over the plane", l.plane_error, "");
        }
        for (k, w) in self.annealed_fractions.iter().enumerate() {
            figure.number(format!("annealed: weight of mode {}", k + 1), *w, "");
        }
        for (k, w) in self.plain_fractions.iter().enumerate() {
            figure.number(format!("plain: weight of mode {}", k + 1), *w, "");
        }
        figure
    }

    /// [`Self::figure_at`] the level of the setup.
    #[must_use]
    pub fn figure(&self) -> Figure {
        self.figure_at(self.shown)
    }

    fn particles_after(&self, index: usize) -> Vec<Point> {
        self.annealed
            .get(index + 1)
            .map(|frame| frame.iter().take(SHOWN).copied().collect())
            .unwrap_or_default()
    }

    fn ve_plane(&self, index: usize, sigma: f64) -> Panel {
        let mut plane = Panel::plane(
            format!("VE: p_σ = p ∗ N(0, σ²), σ = {sigma:.3}"),
            vec![Series::points(
                format!("annealed Langevin after level {}", index + 1),
                DETERMINISTIC,
                self.particles_after(index),
            )],
        );
        plane.backdrop = self.backdrops.get(index).map(|[ve, _]| ve.clone());
        plane
    }

    fn vp_plane(&self, index: usize, sigma: f64) -> Panel {
        let scale = vp_alpha_bar(sigma).sqrt();
        let scaled = self
            .particles_after(index)
            .iter()
            .map(|p| [scale * p[0], scale * p[1]])
            .collect();
        let mut plane = Panel::plane(
            format!("VP: p_t at ᾱ = 1/(1+σ²) = {:.3}", vp_alpha_bar(sigma)),
            vec![Series::points("the same particles × √ᾱ", STOCHASTIC, scaled)],
        );
        plane.backdrop = self.backdrops.get(index).map(|[_, vp]| vp.clone());
        plane
    }

    fn error_plane(&self, index: usize, sigma: f64) -> Panel {
        let mut plane = Panel::plane(
            format!("learned score's error σ²‖s_θ − ∇log p_σ‖², σ = {sigma:.3}"),
            vec![Series::points(
                "plain Langevin at σ_min (weights lost)",
                [150, 150, 150],
                self.plain.iter().take(SHOWN).copied().collect(),
            )],
        );
        plane.backdrop = self.error_maps.get(index).cloned();
        plane
    }

    fn paths_panel(&self) -> Panel {
        let x: Vec<f64> = self.path_sigmas.iter().map(|s| s.log10()).collect();
        let lines = |scale: &dyn Fn(f64) -> f64| -> Vec<Vec<Point>> {
            self.ve_paths
                .iter()
                .map(|path| {
                    x.iter()
                        .zip(path)
                        .zip(&self.path_sigmas)
                        .map(|((x, v), s)| [*x, scale(*s) * v])
                        .collect()
                })
                .collect()
        };
        let band = |scale: &dyn Fn(f64) -> f64, sign: f64| -> Vec<Point> {
            x.iter()
                .zip(&self.path_sigmas)
                .map(|(x, s)| [*x, sign * 2.0 * scale(*s) * (self.data_variance + s * s).sqrt()])
                .collect()
        };
        let (ve, vp): (&dyn Fn(f64) -> f64, &dyn Fn(f64) -> f64) = (&|_| 1.0, &|s| vp_alpha_bar(s).sqrt());
        Panel {
            title: "forward paths: VE x + σε against VP √ᾱ(x + σε)".into(),
            x_label: "log₁₀ σ".into(),
            y_label: "x1 (data units)".into(),
            series: vec![
                Series::lines("VE paths", STOCHASTIC, lines(ve)),
                Series::lines("VE ±2 sd of p_σ", [200, 120, 40], vec![band(ve, 1.0), band(ve, -1.0)]),
                Series::lines("VP paths", DETERMINISTIC, lines(vp)),
                Series::lines("VP ±2 sd of p_t", [60, 120, 200], vec![band(vp, 1.0), band(vp, -1.0)]),
            ],
            ..Panel::default()
        }
    }

    fn score_size_panel(&self) -> Panel {
        let curve = |f: fn(&[f64; 3]) -> f64| -> Vec<Point> {
            self.score_sizes
                .iter()
                .map(|s| [s[0].log10(), f(s).max(1e-12).log10()])
                .collect()
        };
        Panel {
            title: "pitfall 1: on a manifold the score blows up".into(),
            x_label: "log₁₀ σ".into(),
            y_label: "log₁₀ E‖∇log p_σ‖²".into(),
            series: vec![
                Series::line("the blobs", DETERMINISTIC, curve(|s| s[1])),
                Series::line("the blobs shrunk to points", STOCHASTIC, curve(|s| s[2])),
                Series::line("2/σ²", [150, 150, 150], curve(|s| 2.0 / (s[0] * s[0]))),
            ],
            ..Panel::default()
        }
    }

    fn error_panel(&self) -> Panel {
        let curve = |f: fn(&LevelLosses) -> f64| -> Vec<Point> {
            self.losses
                .iter()
                .map(|l| [l.sigma.log10(), f(l).max(1e-12).log10()])
                .collect()
        };
        Panel {
            title: "pitfall 2: wrong where no data fall".into(),
            x_label: "log₁₀ σ".into(),
            y_label: "log₁₀ ‖ε_θ − ε*‖²".into(),
            series: vec![
                Series::line("over the whole plane", STOCHASTIC, curve(|l| l.plane_error)),
                Series::line("where the data are", DETERMINISTIC, curve(LevelLosses::data_error)),
            ],
            ..Panel::default()
        }
    }
}
