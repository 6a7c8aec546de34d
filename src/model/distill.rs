//! Progressive distillation (Salimans & Ho 2022, Algorithm 2).
//!
//! A student with N deterministic DDIM steps learns to land, in one step from
//! z_a, where its teacher lands in two (z_a → z_b → z_c). With DDIM's update
//! z_c = √ᾱ_c x̃ + r (z_a − √ᾱ_a x̃), r = √(1−ᾱ_c)/√(1−ᾱ_a), the x0 the
//! student must predict is x̃ = (z_c − r z_a)/(√ᾱ_c − r √ᾱ_a) (their eq. 8
//! in our discrete notation; x̃ = z_c on the last step, where ᾱ_c = 1). The
//! loss is ‖x_θ(z_a) − x̃‖² weighted by max(SNR_a, 1) ("truncated SNR").
//! Repeating with the student as the next teacher halves the steps each round.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use candle_core::{Device, Tensor};

use super::error::{Error, Result};
use super::network::TrainedModel;
use super::optim::{AdamW, AdamWConfig};
use crate::data::Dataset;
use crate::diffusion::sampler::{SamplerConfig, SamplerKind, build_sampler_on};
use crate::diffusion::timesteps::inference_timesteps;
use crate::diffusion::{Denoiser, NoiseRng, PredictionType, Schedule, TimestepSpacing};

/// One round of distillation: a teacher with 2N steps, a student with N.
pub struct Distiller<'a> {
    teacher: &'a dyn Denoiser,
    student: TrainedModel,
    optimizer: AdamW,
    schedule: Arc<Schedule>,
    /// The teacher's 2N levels (trailing spacing, descending), then 0.
    teacher_levels: Vec<usize>,
    data: &'a Dataset,
    batch: usize,
    step: usize,
    seed: u64,
}

impl<'a> Distiller<'a> {
    /// A round from `teacher` (2 × `student_steps` DDIM steps) to `student`,
    /// an x0-predicting network (fresh, or a copy of the teacher).
    ///
    /// # Errors
    /// A student that does not predict x0 or does not fit the data, or a step
    /// count outside 1..=T/2.
    pub fn new(
        teacher: &'a dyn Denoiser,
        student: TrainedModel,
        data: &'a Dataset,
        student_steps: usize,
        batch: usize,
        seed: u64,
    ) -> Result<Self> {
        let config = *student.config();
        if config.prediction != PredictionType::Sample {
            return Err(Error::Config("a distilled student predicts x0".into()));
        }
        if data.dims != config.sample_dims() || data.is_empty() || batch == 0 {
            return Err(Error::Data(format!("{} does not fit the student", data.name)));
        }
        let schedule = Arc::new(Schedule::new(&config.schedule)?);
        let mut teacher_levels = inference_timesteps(&schedule, 2 * student_steps, TimestepSpacing::Trailing)?;
        teacher_levels.push(0);
        let optimizer = AdamW::new(AdamWConfig::default(), student.params().vars())?;
        Ok(Self {
            teacher,
            student,
            optimizer,
            schedule,
            teacher_levels,
            data,
            batch,
            step: 0,
            seed,
        })
    }

    /// The levels the student visits with its N steps (descending).
    #[must_use]
    pub fn student_timesteps(&self) -> Vec<usize> {
        student_timesteps(&self.teacher_levels)
    }

    /// One optimisation step; returns the loss.
    ///
    /// # Errors
    /// Tensor or teacher failures.
    pub fn step(&mut self) -> Result<f64> {
        self.step += 1;
        let mut rng = NoiseRng::seed_from(self.seed ^ (self.step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let pairs = self.teacher_levels.len() / 2;
        let per_pair = self.batch.div_ceil(pairs);
        let (mut inputs, mut targets, mut levels, mut weights) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for k in 0..pairs {
            let (a, b, c) = (
                self.teacher_levels[2 * k],
                self.teacher_levels[2 * k + 1],
                self.teacher_levels[2 * k + 2],
            );
            let x0 = self.draw(per_pair, &mut rng)?;
            let noise = rng.randn_like(&x0)?;
            let z_a = crate::diffusion::sampler::add_noise(&self.schedule, &x0, &noise, a)?;
            targets.push(self.target(&z_a, a, b, c, &mut rng)?);
            inputs.push(z_a);
            levels.extend(std::iter::repeat_n(a as f64, per_pair));
            weights.extend(std::iter::repeat_n(self.schedule.snr(a).clamp(1.0, 1e4), per_pair));
        }
        let (z, target) = (Tensor::cat(&inputs, 0)?, Tensor::cat(&targets, 0)?);
        let out = self.student.network().forward(&z, &levels, None)?;
        let weights = Tensor::from_vec(
            weights.iter().map(|w| *w as f32).collect::<Vec<_>>(),
            levels.len(),
            &Device::Cpu,
        )?;
        let loss = ((out.prediction - target)?.sqr()?.mean(1)? * weights)?.mean_all()?;
        let grads = loss.backward()?;
        self.optimizer.step(self.student.params().vars(), &grads, self.step)?;
        Ok(f64::from(loss.to_scalar::<f32>()?))
    }

    /// x̃: the x0 that takes one DDIM step from z_a at level a to where the
    /// teacher's two steps (a → b → c) land.
    fn target(&self, z_a: &Tensor, a: usize, b: usize, c: usize, rng: &mut NoiseRng) -> Result<Tensor> {
        let ddim = SamplerConfig {
            kind: SamplerKind::Ddim,
            ..SamplerConfig::default()
        };
        let levels: Vec<usize> = [a, b, c].into_iter().filter(|&t| t > 0).collect();
        let mut teacher = build_sampler_on(&ddim, Arc::clone(&self.schedule), levels)?;
        let z_b = teacher.step(self.teacher, None, 0, z_a, rng)?.x_next;
        let z_c = teacher.step(self.teacher, None, 1, &z_b, rng)?.x_next;
        let (ab_a, ab_c) = (self.schedule.alpha_bar(a), self.schedule.alpha_bar(c));
        let r = ((1.0 - ab_c) / (1.0 - ab_a)).sqrt();
        Ok(((z_c - (z_a * r)?)? / (ab_c.sqrt() - r * ab_a.sqrt()))?)
    }

    /// `rows` data points drawn with replacement.
    fn draw(&self, rows: usize, rng: &mut NoiseRng) -> Result<Tensor> {
        let n = self.data.len();
        let mut values = Vec::with_capacity(rows * self.data.dims);
        for _ in 0..rows {
            let i = ((rng.uniform() * n as f64) as usize).min(n - 1);
            values.extend_from_slice(self.data.row(i));
        }
        Ok(Tensor::from_vec(values, (rows, self.data.dims), &Device::Cpu)?)
    }

    /// The trained student, detached for inference (and as the next teacher).
    ///
    /// # Errors
    /// Tensor failures.
    pub fn student(&self) -> Result<TrainedModel> {
        copy(&self.student, false)
    }

    /// A trainable copy of the student: the next round's starting point.
    ///
    /// # Errors
    /// Tensor failures.
    pub fn student_to_train(&self) -> Result<TrainedModel> {
        copy(&self.student, true)
    }
}

/// Every other teacher level: where the student's N steps start.
#[must_use]
pub fn student_timesteps(teacher_levels: &[usize]) -> Vec<usize> {
    teacher_levels.iter().step_by(2).copied().filter(|&t| t > 0).collect()
}

fn copy(model: &TrainedModel, trainable: bool) -> Result<TrainedModel> {
    // Fresh storage: the copy must not move when the original trains on.
    let tensors = model
        .params()
        .tensors()
        .into_iter()
        .map(|(name, value)| Ok((name, value.detach().copy()?)))
        .collect::<Result<HashMap<_, _>>>()?;
    TrainedModel::from_parts_for(tensors, &model.metadata(), Path::new("<student>"), trainable)
}
