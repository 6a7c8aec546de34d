"""Print reference tables from Hugging Face diffusers, for noisescope's tests.

Run once (needs `pip install torch diffusers numpy`):

    python tests/reference/diffusers_tables.py > tests/data/diffusers_reference.json

The output is committed; the Rust tests read it and never run Python.

diffusers builds its tables in float32. To pin the *definitions* to 1e-6, the
script aliases torch.float32 to torch.float64 before any scheduler is built, so
the same diffusers code runs in double precision. Steps are taken with
hand-chosen inputs and a "model" that is a fixed affine map of the sample,
eps = 0.5 * x + c, which the Rust tests re-create.
"""

import json

import numpy as np
import torch

torch.float32 = torch.float64  # run diffusers' own code in double precision
torch.set_default_dtype(torch.float64)

from diffusers import (  # noqa: E402
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    HeunDiscreteScheduler,
)

T = 1000
SAMPLE = [-1.5, -0.7, 0.0, 0.4, 1.1, 2.0]
OFFSET = [0.1, -0.2, 0.3, 0.0, -0.1, 0.2]


def affine_eps(x):
    return 0.5 * x + torch.tensor(OFFSET)


def tolist(x):
    return [float(v) for v in x]


def schedules():
    cases = {
        "linear": dict(beta_schedule="linear"),
        "scaled-linear": dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012),
        "cosine": dict(beta_schedule="squaredcos_cap_v2"),
        "sigmoid": dict(beta_schedule="sigmoid"),
        "linear-ztsnr": dict(beta_schedule="linear", rescale_betas_zero_snr=True),
        "cosine-ztsnr": dict(beta_schedule="squaredcos_cap_v2", rescale_betas_zero_snr=True),
        "linear-custom-500": dict(beta_schedule="linear", beta_start=0.0005, beta_end=0.04, num_train_timesteps=500),
    }
    out = {}
    for name, kwargs in cases.items():
        kwargs.setdefault("num_train_timesteps", T)
        ddpm = DDPMScheduler(**kwargs)
        n = kwargs["num_train_timesteps"]
        out[name] = {
            "train_steps": n,
            "beta_start": kwargs.get("beta_start"),
            "beta_end": kwargs.get("beta_end"),
            "betas": tolist(ddpm.betas),
            "alpha_bars": tolist(ddpm.alphas_cumprod),
            # DDPM's fixed_small variance at diffusers' k, which is our t = k + 1.
            "posterior_variance": [float(ddpm._get_variance(k)) for k in range(n)],
        }
    return out


def timesteps():
    out = []
    for n_train, steps in [(1000, 1), (1000, 3), (1000, 7), (1000, 10), (1000, 50), (1000, 100), (1000, 333),
                           (1000, 999), (1000, 1000), (10, 3), (10, 4), (7, 7), (25, 6)]:
        for spacing in ["leading", "trailing", "linspace"]:
            s = DDIMScheduler(num_train_timesteps=n_train, timestep_spacing=spacing)
            s.set_timesteps(steps)
            out.append({"train_steps": n_train, "steps": steps, "spacing": spacing,
                        "timesteps": [int(k) for k in s.timesteps]})
    return out


def ddim_steps():
    s = DDIMScheduler(beta_schedule="linear", clip_sample=False, set_alpha_to_one=True)
    s.set_timesteps(10)
    x = torch.tensor(SAMPLE)
    eps = affine_eps(x)
    noise = torch.tensor([0.3, -1.2, 0.8, 0.05, -0.4, 1.6])
    single = []
    for k in s.timesteps:
        prev_k = int(k) - T // 10
        a_prev = s.alphas_cumprod[prev_k] if prev_k >= 0 else s.final_alpha_cumprod
        std = 0.5 * float(s._get_variance(k, prev_k)) ** 0.5
        eta0 = s.step(eps, k, x, eta=0.0).prev_sample
        eta_half = s.step(eps, k, x, eta=0.5, variance_noise=noise).prev_sample
        single.append({"t": int(k) + 1, "eta0": tolist(eta0),
                       "eta_half_mean": tolist(eta_half - std * noise), "eta_half_std": std,
                       "alpha_bar_prev": float(a_prev)})
    # A whole deterministic run with the affine model.
    x = torch.tensor(SAMPLE)
    trajectory = []
    for k in s.timesteps:
        x = s.step(affine_eps(x), k, x, eta=0.0).prev_sample
        trajectory.append(tolist(x))
    return {"timesteps": [int(k) + 1 for k in s.timesteps], "sample": SAMPLE, "offset": OFFSET,
            "single": single, "trajectory": trajectory}


def ddpm_steps():
    out = []
    for variance in ["fixed_small", "fixed_large"]:
        for inference_steps in [None, 50]:
            s = DDPMScheduler(beta_schedule="linear", clip_sample=False, variance_type=variance)
            if inference_steps:
                s.set_timesteps(inference_steps)
            x = torch.tensor([SAMPLE])  # DDPM's step wants a batch axis
            ks = [999, 500, 10, 1, 0] if inference_steps is None else [int(k) for k in s.timesteps[[0, 25, 48, 49]]]
            for k in ks:
                g = torch.Generator().manual_seed(0)
                prev = s.step(affine_eps(x), k, x, generator=g).prev_sample
                noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(0), dtype=x.dtype)
                prev_k = s.previous_timestep(k)
                std = float(s._get_variance(k)) ** 0.5 if k > 0 else 0.0
                out.append({"variance": variance, "inference_steps": inference_steps, "t": k + 1,
                            "t_prev": max(int(prev_k) + 1, 0), "mean": tolist((prev - std * noise)[0]), "std": std})
    return out


def dpm_solver():
    out = []
    for steps in [5, 10, 20]:
        s = DPMSolverMultistepScheduler(beta_schedule="linear", algorithm_type="dpmsolver++", solver_order=2,
                                        final_sigmas_type="zero", lower_order_final=True)
        s.set_timesteps(steps)
        x = torch.tensor(SAMPLE)
        trajectory = []
        for k in s.timesteps:
            x = s.step(affine_eps(x), k, x).prev_sample
            trajectory.append(tolist(x))
        out.append({"timesteps": [int(k) + 1 for k in s.timesteps], "trajectory": trajectory})
    return out


def spaced_levels():
    """Karras and log-SNR levels: diffusers computes continuous sigmas, maps them
    to fractional timesteps by interpolating log sigma, and (DPM-Solver) rounds.
    noisescope's `karras` and `log-snr` spacings visit the same rounded levels."""
    out = []
    for steps in [5, 10, 18, 25]:
        for spacing, flag in [("karras", "use_karras_sigmas"), ("log-snr", "use_lu_lambdas")]:
            s = DPMSolverMultistepScheduler(beta_schedule="linear", **{flag: True})
            s.set_timesteps(steps)
            out.append({"spacing": spacing, "steps": steps, "timesteps": [int(k) + 1 for k in s.timesteps]})
    return out


# HeunDiscreteScheduler defaults to Stable Diffusion's β range; these are Ho et al.'s.
HO_BETAS = dict(beta_start=0.0001, beta_end=0.02)


def edm_heun():
    """EDM's Algorithm 1 as diffusers' HeunDiscreteScheduler runs it.

    With use_karras_sigmas=True the scheduler's sigmas are eq. 5's and its
    timesteps the fractional t of each sigma (pinned as they are). For a step-by-
    step trajectory the sampler visits hand-chosen integer timesteps instead,
    which noisescope's edm-heun can visit too. numpy's float32 is aliased to
    float64 while the scheduler is built, as torch's is above."""
    float32 = np.float32
    np.float32 = np.float64
    try:
        karras = []
        for steps in [5, 18]:
            s = HeunDiscreteScheduler(beta_schedule="linear", use_karras_sigmas=True, **HO_BETAS)
            s.set_timesteps(steps)
            # Each level but the first and the final 0 appears twice (Heun's two evaluations).
            levels = [float(s.sigmas[0])] + [float(v) for v in s.sigmas[1:-1:2]]
            times = [float(s.timesteps[0])] + [float(v) for v in s.timesteps[1::2]]
            karras.append({"steps": steps, "sigmas": levels, "fractional_t": [k + 1.0 for k in times]})
        zero_based = [999, 700, 400, 200, 90, 40, 15, 5, 1, 0]
        s = HeunDiscreteScheduler(beta_schedule="linear", **HO_BETAS)
        s.set_timesteps(timesteps=zero_based)
        x = torch.tensor(SAMPLE) * s.init_noise_sigma
        start = tolist(x)
        trajectory = []
        for call, k in enumerate(s.timesteps):
            eps = affine_eps(s.scale_model_input(x, k))
            x = s.step(eps, k, x).prev_sample
            # A level is complete after each second-order call, and after the final Euler call.
            if call % 2 == 1 or call == len(s.timesteps) - 1:
                trajectory.append(tolist(x))
        sigmas = [float(s.sigmas[0])] + [float(v) for v in s.sigmas[1::2]]
        heun = {"timesteps": [k + 1 for k in zero_based], "sigmas": sigmas, "start": start,
                "trajectory": trajectory}
    finally:
        np.float32 = float32
    return {"karras": karras, "heun": heun}


def add_noise():
    s = DDPMScheduler(beta_schedule="squaredcos_cap_v2")
    x = torch.tensor(SAMPLE)
    noise = torch.tensor(OFFSET)
    return [{"t": k + 1, "noised": tolist(s.add_noise(x, noise, torch.tensor([k])))} for k in [0, 99, 499, 998]]


print(json.dumps({
    "generator": f"diffusers {__import__('diffusers').__version__}, torch {torch.__version__}, float64",
    "schedules": schedules(),
    "timesteps": timesteps(),
    "ddim": ddim_steps(),
    "ddpm": ddpm_steps(),
    "dpm_solver_pp": dpm_solver(),
    "add_noise": add_noise(),
    "spaced_levels": spaced_levels(),
    "edm": edm_heun(),
}))
