//! The building blocks of the networks, on channels-last tensors.
//!
//! Images are `[B, H, W, C]` inside the U-Net: a 3×3 convolution is then one
//! gather and one matmul ([`super::conv`]), and a per-channel bias or norm
//! gain broadcasts over the last dimension.

use candle_core::{D, DType, Tensor};

use super::conv::conv3x3;
use super::error::Result;
use super::kernels;
use super::params::{Init, Scope};

/// y = x W + b over the last dimension (any leading dimensions).
pub struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    /// A layer with PyTorch's default initialisation, U(±1/√in) (or zeros with `zero`).
    ///
    /// # Errors
    /// A loaded file lacks the weights or has them in another shape.
    pub fn new(scope: &mut Scope<'_>, inputs: usize, outputs: usize, zero: bool) -> Result<Self> {
        let bound = 1.0 / f64::from(u32::try_from(inputs).unwrap_or(u32::MAX)).sqrt();
        let init = if zero { Init::Zeros } else { Init::Uniform(bound) };
        Ok(Self {
            weight: scope.param("weight", &[inputs, outputs], init)?,
            bias: scope.param(
                "bias",
                &[outputs],
                if zero { Init::Zeros } else { Init::Uniform(bound) },
            )?,
        })
    }

    /// Applies the layer.
    ///
    /// # Errors
    /// The last dimension is not `inputs`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(linear(x, &self.weight, &self.bias)?)
    }

    /// The weight `[in, out]` and the bias `[out]`.
    pub(super) fn weights(&self) -> (&Tensor, &Tensor) {
        (&self.weight, &self.bias)
    }
}

/// x W + b over the last dimension of `x` (any leading dimensions).
///
/// # Errors
/// The last dimension of `x` is not W's rows.
pub(super) fn linear(x: &Tensor, weight: &Tensor, bias: &Tensor) -> candle_core::Result<Tensor> {
    let dims = x.dims().to_vec();
    let rows: usize = dims[..dims.len() - 1].iter().product();
    let flat = x.reshape((rows, dims[dims.len() - 1]))?;
    // candle's backward of a broadcast add reduces over dim 0 with a slow
    // strided loop; the kernel's backward sums rows in one pass.
    let y = kernels::add_per_image_channel(&flat.matmul(weight)?.unsqueeze(0)?, &bias.unsqueeze(0)?)?.squeeze(0)?;
    let mut out_dims = dims;
    let last = out_dims.len() - 1;
    out_dims[last] = bias.dim(0)?;
    y.reshape(out_dims)
}

/// A 3×3, stride-1, zero-padded convolution on `[B, H, W, C]`.
pub struct Conv3x3 {
    /// `[9·C_in, C_out]`, rows in (dy, dx, c_in) order (see [`conv3x3`]).
    weight: Tensor,
    bias: Tensor,
}

impl Conv3x3 {
    /// A convolution with PyTorch's default initialisation (or zeros with `zero`).
    ///
    /// # Errors
    /// A loaded file lacks the weights or has them in another shape.
    pub fn new(scope: &mut Scope<'_>, inputs: usize, outputs: usize, zero: bool) -> Result<Self> {
        let bound = 1.0 / f64::from(u32::try_from(9 * inputs).unwrap_or(u32::MAX)).sqrt();
        let init = if zero { Init::Zeros } else { Init::Uniform(bound) };
        Ok(Self {
            weight: scope.param("weight", &[9 * inputs, outputs], init)?,
            bias: scope.param("bias", &[outputs], init)?,
        })
    }

    /// Applies the convolution.
    ///
    /// # Errors
    /// `x` is not `[B, H, W, C_in]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(conv3x3(x, &self.kernel()?)?)
    }

    /// The weight with the bias as its last row (`[9·C_in + 1, C_out]`, what [`conv3x3`] takes).
    pub(super) fn kernel(&self) -> candle_core::Result<Tensor> {
        // The bias row is matched by the gathered rows' trailing 1.
        Tensor::cat(&[&self.weight, &self.bias.unsqueeze(0)?], 0)
    }

    /// The weight `[9·C_in, C_out]` and the bias `[C_out]`.
    pub(super) fn weights(&self) -> (&Tensor, &Tensor) {
        (&self.weight, &self.bias)
    }
}

/// Group normalisation (Wu & He 2018) over `[B, H, W, C]` with a per-channel affine map.
pub struct GroupNorm {
    gain: Tensor,
    bias: Tensor,
    groups: usize,
}

impl GroupNorm {
    /// `groups` must divide `channels`.
    ///
    /// # Errors
    /// A loaded file lacks the weights or has them in another shape.
    pub fn new(scope: &mut Scope<'_>, channels: usize, groups: usize) -> Result<Self> {
        Ok(Self {
            gain: scope.param("gain", &[channels], Init::Ones)?,
            bias: scope.param("bias", &[channels], Init::Zeros)?,
            groups,
        })
    }

    /// Normalises each (image, group) to zero mean and unit variance, scales,
    /// and applies SiLU if `silu` (one fused kernel, [`super::kernels::group_norm`]).
    ///
    /// # Errors
    /// `x` is not 4-D or its channels are not divisible by the groups.
    pub fn forward(&self, x: &Tensor, silu: bool) -> Result<Tensor> {
        Ok(kernels::group_norm(x, &self.gain, &self.bias, self.groups, silu)?)
    }

    /// The gain and the bias, `[C]` each.
    pub(super) fn weights(&self) -> (&Tensor, &Tensor) {
        (&self.gain, &self.bias)
    }

    /// Groups the channels are normalised in.
    pub(super) fn groups(&self) -> usize {
        self.groups
    }
}

/// Transformer-style sinusoidal embedding of t (Vaswani et al. 2017; DDPM's
/// U-Net): `[sin(t·f_k), cos(t·f_k)]` with f_k = 10000^(−k/(dim/2)).
///
/// # Errors
/// Only if candle cannot build the tensor.
pub fn sinusoidal_embedding(t: &[f64], dim: usize) -> Result<Tensor> {
    let half = dim / 2;
    let mut values = Vec::with_capacity(t.len() * dim);
    for &step in t {
        let frequency = |k: usize| (-(10_000f64.ln()) * k as f64 / half as f64).exp();
        values.extend((0..half).map(|k| (step * frequency(k)).sin()));
        values.extend((0..half).map(|k| (step * frequency(k)).cos()));
    }
    Ok(Tensor::from_vec(values, (t.len(), 2 * half), &candle_core::Device::Cpu)?.to_dtype(DType::F32)?)
}

/// 2× average pooling of `[B, H, W, C]` (H and W even).
///
/// # Errors
/// `x` is not 4-D with even H and W.
pub fn downsample(x: &Tensor) -> Result<Tensor> {
    Ok(kernels::pool2x(x)?)
}

/// 2× nearest-neighbour upsampling of `[B, H, W, C]`.
///
/// # Errors
/// `x` is not 4-D.
pub fn upsample(x: &Tensor) -> Result<Tensor> {
    Ok(kernels::spread2x(x)?)
}

/// Single-head self-attention over the pixels of `[B, H, W, C]`, with a residual.
pub struct SelfAttention {
    norm: GroupNorm,
    qkv: Linear,
    out: Linear,
}

impl SelfAttention {
    /// An attention block over `channels`.
    ///
    /// # Errors
    /// A loaded file lacks the weights or has them in another shape.
    pub fn new(scope: &mut Scope<'_>, channels: usize, groups: usize) -> Result<Self> {
        Ok(Self {
            norm: GroupNorm::new(&mut scope.sub("norm"), channels, groups)?,
            qkv: Linear::new(&mut scope.sub("qkv"), channels, 3 * channels, false)?,
            out: Linear::new(&mut scope.sub("out"), channels, channels, true)?,
        })
    }

    /// x + Attention(GroupNorm(x)).
    ///
    /// # Errors
    /// `x` is not 4-D with the block's channels.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(attention_forward(&self.weights(), x)?.0)
    }

    /// The block's weights (tracked if the block's are).
    pub(super) fn weights(&self) -> AttentionWeights {
        let (gain, bias) = self.norm.weights();
        let (qkv_weight, qkv_bias) = self.qkv.weights();
        let (out_weight, out_bias) = self.out.weights();
        AttentionWeights {
            groups: self.norm.groups(),
            gain: gain.clone(),
            bias: bias.clone(),
            qkv_weight: qkv_weight.clone(),
            qkv_bias: qkv_bias.clone(),
            out_weight: out_weight.clone(),
            out_bias: out_bias.clone(),
        }
    }
}

/// A self-attention block's weights.
#[derive(Clone)]
pub(super) struct AttentionWeights {
    pub(super) groups: usize,
    pub(super) gain: Tensor,
    pub(super) bias: Tensor,
    /// `[C, 3C]`: queries, keys and values side by side.
    pub(super) qkv_weight: Tensor,
    pub(super) qkv_bias: Tensor,
    /// `[C, C]`.
    pub(super) out_weight: Tensor,
    pub(super) out_bias: Tensor,
}

impl AttentionWeights {
    /// The same weights outside any graph.
    pub(super) fn detached(&self) -> Self {
        Self {
            groups: self.groups,
            gain: self.gain.detach(),
            bias: self.bias.detach(),
            qkv_weight: self.qkv_weight.detach(),
            qkv_bias: self.qkv_bias.detach(),
            out_weight: self.out_weight.detach(),
            out_bias: self.out_bias.detach(),
        }
    }

    /// The weights flattened, in [`attention_backward`]'s order of gradients.
    pub(super) fn parameters(&self) -> candle_core::Result<Vec<Tensor>> {
        Ok(vec![
            self.gain.clone(),
            self.bias.clone(),
            self.qkv_weight.flatten_all()?,
            self.qkv_bias.clone(),
            self.out_weight.flatten_all()?,
            self.out_bias.clone(),
        ])
    }
}

/// What attention's backward pass needs besides its input.
pub(super) struct AttentionSaved {
    /// GroupNorm(x) as `[B, N, C]` tokens.
    tokens: Tensor,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    /// softmax(q kᵀ / √C), `[B, N, N]`.
    weights: Tensor,
    /// weights · v, `[B, N, C]`.
    attended: Tensor,
}

/// x + Attention(GroupNorm(x)) (Vaswani et al. 2017, single head), and what
/// the backward pass needs. Differentiable by candle when the weights are tracked.
///
/// # Errors
/// `x` is not 4-D with the block's channels.
pub(super) fn attention_forward(w: &AttentionWeights, x: &Tensor) -> candle_core::Result<(Tensor, AttentionSaved)> {
    let (batch, height, width, channels) = x.dims4()?;
    let tokens =
        kernels::group_norm(x, &w.gain, &w.bias, w.groups, false)?.reshape((batch, height * width, channels))?;
    let qkv = linear(&tokens, &w.qkv_weight, &w.qkv_bias)?;
    let q = qkv.narrow(D::Minus1, 0, channels)?.contiguous()?;
    let k = qkv.narrow(D::Minus1, channels, channels)?.contiguous()?;
    let v = qkv.narrow(D::Minus1, 2 * channels, channels)?.contiguous()?;
    let scale = 1.0 / (channels as f64).sqrt();
    let scores = (q.matmul(&k.t()?.contiguous()?)? * scale)?;
    let weights = candle_nn::ops::softmax(&scores, D::Minus1)?;
    let attended = weights.matmul(&v)?;
    let out = linear(&attended, &w.out_weight, &w.out_bias)?;
    let saved = AttentionSaved {
        tokens,
        q,
        k,
        v,
        weights,
        attended,
    };
    Ok(((x + out.reshape((batch, height, width, channels))?)?, saved))
}

/// The gradients of attention's input and of its parameters (in
/// [`AttentionWeights::parameters`]' order), given its output's gradient.
///
/// # Errors
/// Shapes that do not agree.
pub(super) fn attention_backward(
    w: &AttentionWeights,
    x: &Tensor,
    saved: &AttentionSaved,
    grad: &Tensor,
) -> candle_core::Result<(Tensor, Vec<Tensor>)> {
    let (batch, height, width, channels) = x.dims4()?;
    let rows = batch * height * width;
    let flat = |t: &Tensor, columns: usize| t.reshape((rows, columns));
    let column_sums = |t: &Tensor, columns: usize| kernels::sum_per_image_channel(t, 1, columns)?.reshape(columns);
    // out = x + attended W_o + b_o
    let d_out = flat(grad, channels)?;
    let d_out_weight = flat(&saved.attended, channels)?.t()?.matmul(&d_out)?;
    let d_out_bias = column_sums(&d_out, channels)?;
    let d_attended = d_out
        .matmul(&w.out_weight.t()?)?
        .reshape((batch, height * width, channels))?;
    // attended = weights · v; weights = softmax(scores); scores = q kᵀ / √C
    let d_weights = d_attended.matmul(&saved.v.t()?.contiguous()?)?;
    let d_v = saved.weights.t()?.contiguous()?.matmul(&d_attended)?;
    let inner = (&d_weights * &saved.weights)?.sum_keepdim(D::Minus1)?;
    let scale = 1.0 / (channels as f64).sqrt();
    let d_scores = ((saved.weights.clone() * d_weights.broadcast_sub(&inner)?)? * scale)?;
    let d_q = d_scores.matmul(&saved.k)?;
    let d_k = d_scores.t()?.contiguous()?.matmul(&saved.q)?;
    let d_qkv = flat(&Tensor::cat(&[&d_q, &d_k, &d_v], D::Minus1)?, 3 * channels)?;
    let d_qkv_weight = flat(&saved.tokens, channels)?.t()?.matmul(&d_qkv)?;
    let d_qkv_bias = column_sums(&d_qkv, 3 * channels)?;
    let d_tokens = d_qkv.matmul(&w.qkv_weight.t()?)?.reshape(x.shape())?;
    let (d_x, d_gain, d_bias) = kernels::group_norm_backward(x, &w.gain, &w.bias, w.groups, false, &d_tokens)?;
    let parameters = vec![
        d_gain,
        d_bias,
        d_qkv_weight.flatten_all()?,
        d_qkv_bias,
        d_out_weight.flatten_all()?,
        d_out_bias,
    ];
    Ok(((d_x + grad)?, parameters))
}
