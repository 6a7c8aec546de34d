//! DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2): a second-order multistep
//! solver of the probability-flow ODE in log-SNR, which reaches in a few steps
//! where first-order solvers (DDIM, Euler) need many. The reference is the same
//! ODE solved by Heun's method over all T = 1000 levels; the error is the median
//! distance of the end points from it. Every solver visits levels evenly spaced
//! in log-SNR from t = T to t = 1 (DPM-Solver's own choice, §3.4), so the error
//! falls as N⁻² for DPM-Solver++ and N⁻¹ for DDIM.

use std::sync::Arc;

use egui::Color32;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::figure::{self, Frames};
use super::job::Computation;
use super::{SceneContext, TheoryScene};
use crate::diffusion::mixture::GaussianMixture;
use crate::diffusion::sampler::{SamplerConfig, SamplerKind, build_sampler_on};
use crate::diffusion::timesteps::log_snr_timesteps;
use crate::diffusion::{NoiseRng, Schedule};
use crate::jobs::JobContext as Cancel;

/// Particles whose end points are compared.
const PARTICLES: usize = 200;
/// Paths drawn.
const PATHS: usize = 12;
/// The step counts measured.
const STEP_COUNTS: [usize; 8] = [4, 6, 8, 10, 15, 20, 30, 50];
/// The solvers compared, with their colours.
const SOLVERS: [(SamplerKind, &str, Color32); 3] = [
    (
        SamplerKind::DpmSolverPp,
        "DPM-Solver++(2M)",
        Color32::from_rgb(120, 200, 110),
    ),
    (SamplerKind::Ddim, "DDIM (η = 0)", Color32::from_rgb(100, 180, 250)),
    (SamplerKind::EulerOde, "Euler ODE", Color32::from_rgb(240, 150, 60)),
];

/// Errors per solver and step count, and the paths drawn.
pub struct Comparison {
    /// `errors[solver][i]`: median end-point error at `STEP_COUNTS[i]` steps.
    errors: Vec<Vec<f64>>,
    /// DPM-Solver++'s paths at each step count.
    dpm_paths: Vec<Frames>,
    /// The reference paths.
    reference: Frames,
}

/// The DPM-Solver++ scene.
pub struct DpmSolverScene {
    /// Index into `STEP_COUNTS` of the paths shown.
    shown: usize,
    comparison: Computation<Comparison>,
}

fn solve(
    mixture: &GaussianMixture,
    schedule: &Arc<Schedule>,
    kind: SamplerKind,
    steps: usize,
    start: &candle_core::Tensor,
    cancel: &Cancel,
) -> Result<Frames, String> {
    let config = SamplerConfig {
        kind,
        steps,
        ..SamplerConfig::default()
    };
    // Every solver starts at t = T, where the reference starts, and ends at t = 1.
    let timesteps = log_snr_timesteps(schedule, steps).map_err(figure::message)?;
    let mut sampler = build_sampler_on(&config, Arc::clone(schedule), timesteps).map_err(figure::message)?;
    // The ODE solvers draw no noise; the generator is only there for the signature.
    let mut rng = NoiseRng::seed_from(0);
    figure::trace(sampler.as_mut(), mixture, None, start, &mut rng, cancel)?.ok_or_else(|| "cancelled".into())
}

impl DpmSolverScene {
    /// Measures every solver at every step count.
    #[must_use]
    pub fn new(context: &SceneContext) -> Self {
        let mut comparison = Computation::default();
        let mixture = Arc::clone(&context.mixture);
        let schedule = Arc::clone(&context.schedule);
        comparison.restart(&context.repaint, move |cancel| {
            let start = NoiseRng::seed_from(9)
                .randn((PARTICLES, 2), &candle_core::Device::Cpu)
                .map_err(figure::message)?;
            let big_t = schedule.train_steps();
            let reference = solve(&mixture, &schedule, SamplerKind::HeunOde, big_t, &start, cancel)?;
            let target = reference.last().cloned().unwrap_or_default();
            let mut errors = Vec::new();
            let mut dpm_paths = Vec::new();
            for (kind, _, _) in SOLVERS {
                let mut row = Vec::new();
                for steps in STEP_COUNTS {
                    let frames = solve(&mixture, &schedule, kind, steps, &start, cancel)?;
                    row.push(figure::median_distance(
                        frames.last().map_or(&[][..], Vec::as_slice),
                        &target,
                    ));
                    if kind == SamplerKind::DpmSolverPp {
                        dpm_paths.push(figure::first_paths(frames, PATHS));
                    }
                }
                errors.push(row);
            }
            Ok(Comparison {
                errors,
                dpm_paths,
                reference: figure::first_paths(reference, PATHS),
            })
        });
        Self { shown: 5, comparison }
    }

    fn error_plot_ui(comparison: &Comparison, ui: &mut egui::Ui, size: egui::Vec2) {
        Plot::new("solver error")
            .width(size.x)
            .height(size.y)
            .legend(Legend::default())
            .x_axis_label("log₁₀ steps")
            .y_axis_label("log₁₀ median error")
            .show(ui, |plot_ui| {
                for ((_, name, color), errors) in SOLVERS.iter().zip(&comparison.errors) {
                    let points: Vec<[f64; 2]> = STEP_COUNTS
                        .iter()
                        .zip(errors)
                        .map(|(&n, e)| [(n as f64).log10(), e.max(1e-12).log10()])
                        .collect();
                    plot_ui.line(Line::new(*name, PlotPoints::from(points)).color(*color).width(2.0));
                }
            });
    }
}

impl TheoryScene for DpmSolverScene {
    fn caption(&self) -> &'static str {
        "DPM-Solver++(2M) solves the probability-flow ODE in λ = log SNR with the exact linear part \
         and a second-order multistep estimate of x_θ: x_s = (σ_s/σ_t) x_t − α_s(e^{−h} − 1) D_t. \
         Its end points reach the reference ODE solution in far fewer steps than DDIM or Euler."
    }

    fn ui(&mut self, ui: &mut egui::Ui) {
        self.comparison.poll();
        ui.horizontal(|ui| {
            ui.label("Steps shown:");
            for (i, steps) in STEP_COUNTS.iter().enumerate() {
                ui.selectable_value(&mut self.shown, i, format!("{steps}"));
            }
            self.comparison.status_ui(ui);
        });
        let Some(comparison) = self.comparison.value() else {
            return;
        };
        let steps = STEP_COUNTS[self.shown];
        let errors: Vec<String> = SOLVERS
            .iter()
            .zip(&comparison.errors)
            .map(|((_, name, _), e)| format!("{name} {:.4}", e[self.shown]))
            .collect();
        ui.label(format!(
            "median end-point error at {steps} steps: {}",
            errors.join(", ")
        ));
        let size = egui::vec2(ui.available_width() / 2.0 - 8.0, ui.available_height().max(150.0));
        ui.horizontal(|ui| {
            figure::plane_plot("solver paths", size).show(ui, |plot_ui| {
                figure::paths_ui(
                    plot_ui,
                    "reference ODE (Heun, 1000 steps)",
                    &comparison.reference,
                    PATHS,
                    Color32::GRAY,
                );
                if let Some(paths) = comparison.dpm_paths.get(self.shown) {
                    figure::paths_ui(
                        plot_ui,
                        &format!("DPM-Solver++, {steps} steps"),
                        paths,
                        PATHS,
                        SOLVERS[0].2,
                    );
                    for frame in paths {
                        figure::points_ui(
                            plot_ui,
                            &format!("DPM-Solver++, {steps} steps"),
                            frame,
                            2.5,
                            SOLVERS[0].2,
                        );
                    }
                }
            });
            Self::error_plot_ui(comparison, ui, size);
        });
    }
}
