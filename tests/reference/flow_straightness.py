"""The straightness of exact probability-flow paths on the three-blob mixture,
independently of noisescope, for `tests/figures/beyond.rs`.

Run once (needs numpy):

    python tests/reference/flow_straightness.py > tests/data/flow_straightness.json

Every deterministic sampler of this mixture follows the same variance-exploding
trajectory x~(sigma), the solution of dx~/dsigma = (x~ - D(x~; sigma)) / sigma
with D the mixture's exact posterior mean (Karras et al. 2022, eq. 4 with
s = 1). The other processes only rescale it (their eq. 4 and Table 1):

- the flow-matching path x_tau = (1 - tau) x0 + tau eps has s = 1 / (1 + sigma),
  sigma = tau / (1 - tau);
- the variance-preserving PF-ODE (DDPM's) has s = 1 / sqrt(1 + sigma^2).

So both paths from the same noise are this one trajectory, scaled two ways.
It is integrated here with Heun steps evenly spaced in log sigma, fine enough
that the straightness (chord over length, averaged over particles) no longer
changes in its third decimal. noisescope's figure integrates each process in
its own time (50 Euler steps in tau, 100 Heun steps in t), so the two agree
to the discretisation and the sampling error of its 1000 particles.
"""

import json

import numpy as np

MIXTURE = json.load(open("assets/mixtures/three-blobs.json"))["components"]
PARTICLES = 4000
STEPS = 8000
SIGMA_MAX, SIGMA_MIN = 1000.0, 1e-3


def posterior_mean(x, sigma, components):
    """E[x0 | x0 + sigma n = x] for a mixture of isotropic Gaussians."""
    log_w, means = [], []
    for c in components:
        mean, var = np.array(c["mean"]), c["std"] ** 2
        total = var + sigma**2
        log_w.append(np.log(c["weight"]) - ((x - mean) ** 2).sum(1) / (2 * total) - np.log(total))
        means.append(mean + (var / total) * (x - mean))
    log_w = np.array(log_w)
    w = np.exp(log_w - log_w.max(0))
    w /= w.sum(0)
    return sum(w[k][:, None] * means[k] for k in range(len(components)))


def trajectory(components, eps):
    """x~ at every sigma of the grid, from x~(SIGMA_MAX) = SIGMA_MAX eps."""
    log_sigmas = np.linspace(np.log(SIGMA_MAX), np.log(SIGMA_MIN), STEPS + 1)
    sigmas = np.exp(log_sigmas)
    x = eps * SIGMA_MAX
    points = [x]
    for s0, s1 in zip(sigmas[:-1], sigmas[1:]):
        d0 = (x - posterior_mean(x, s0, components)) / s0
        x_euler = x + (s1 - s0) * d0
        d1 = (x_euler - posterior_mean(x_euler, s1, components)) / s1
        x = x + (s1 - s0) * (d0 + d1) / 2
        points.append(x)
    return np.array(points), sigmas


def straightness(points):
    length = np.linalg.norm(np.diff(points, axis=0), axis=2).sum(0)
    chord = np.linalg.norm(points[-1] - points[0], axis=1)
    return float((chord / length).mean())


def both(components, eps):
    points, sigmas = trajectory(components, eps)
    flow = straightness(points / (1 + sigmas)[:, None, None])
    vp = straightness(points / np.sqrt(1 + sigmas**2)[:, None, None])
    return flow, vp


eps = np.random.default_rng(0).standard_normal((PARTICLES, 2))
flow, vp = both(MIXTURE, eps)
heaviest = max(MIXTURE, key=lambda c: c["weight"])
one_flow, one_vp = both([dict(heaviest, weight=1.0)], eps)
print(
    json.dumps(
        {
            "particles": PARTICLES,
            "heun_steps_in_log_sigma": STEPS,
            "three_blobs": {"flow": round(flow, 5), "pf_ode": round(vp, 5)},
            "heaviest_mode_alone": {"flow": round(one_flow, 5), "pf_ode": round(one_vp, 5)},
        },
        indent=2,
    )
)
