"""noisescope's networks re-implemented in PyTorch, reading the same safetensors.

Independent of the Rust code (written from the architecture description in
src/model/unet.rs, mlp.rs and network.rs), it serves two purposes:

  check WEIGHTS INPUTS OUTPUTS   evaluate the network on INPUTS (x, t, labels)
                                 and write prediction (and variance) to OUTPUTS;
                                 tests/torch_crosscheck.rs compares with candle.
  bench WEIGHTS                  print sampling and training steps/s at batch
                                 1, 16, 32 and 64 on 2 threads, as CSV lines that
                                 `noisescope bench --model` shows beside candle's,
                                 then PyTorch's own 2048^2 f32 matmul rate.
  flops WEIGHTS                  print the floating-point operations of one
                                 forward pass per sample, by PyTorch's own
                                 FlopCounterMode (products and convolutions,
                                 2 per multiply-add; element-wise work is not
                                 counted); tests/torch_crosscheck.rs compares
                                 noisescope's count from the architecture.

Needs torch and safetensors (pip install torch safetensors).
"""

import math
import sys
import time

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file

TIME_FEATURES = 64


def load(path):
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
        params = {k: f.get_tensor(k).float() for k in f.keys()}
    return params, meta


def linear(x, p, name):
    return x @ p[name + ".weight"] + p[name + ".bias"]


def conv3x3(x, p, name):
    w = p[name + ".weight"]  # [9*cin, cout], rows in (dy, dx, cin) order
    cin, cout = w.shape[0] // 9, w.shape[1]
    kernel = w.reshape(3, 3, cin, cout).permute(3, 2, 0, 1)
    return F.conv2d(x, kernel, p[name + ".bias"], padding=1)


def group_norm(x, p, name, groups, silu):
    y = F.group_norm(x, groups, p[name + ".gain"], p[name + ".bias"], eps=1e-5)
    return F.silu(y) if silu else y


def res_block(x, emb, p, name, groups):
    h = conv3x3(group_norm(x, p, name + ".norm1", groups, True), p, name + ".conv1")
    h = h + linear(emb, p, name + ".embedding")[:, :, None, None]
    h = conv3x3(group_norm(h, p, name + ".norm2", groups, True), p, name + ".conv2")
    if name + ".skip.weight" in p:
        skip = linear(x.permute(0, 2, 3, 1), p, name + ".skip").permute(0, 3, 1, 2)
    else:
        skip = x
    return skip + h


def attention(x, p, name, groups):
    b, c, hgt, wid = x.shape
    tokens = group_norm(x, p, name + ".norm", groups, False).permute(0, 2, 3, 1).reshape(b, hgt * wid, c)
    qkv = linear(tokens, p, name + ".qkv")
    q, k, v = qkv[..., :c], qkv[..., c : 2 * c], qkv[..., 2 * c :]
    weights = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(c), dim=-1)
    attended = linear(weights @ v, p, name + ".out")
    return x + attended.reshape(b, hgt, wid, c).permute(0, 3, 1, 2)


def embedding(p, meta, t, labels):
    half = TIME_FEATURES // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / half)
    angles = t.double()[:, None] * freqs[None, :]
    features = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).float()
    emb = linear(F.silu(linear(features, p, "time.0")), p, "time.1")
    if int(meta["classes"]) > 0:
        emb = emb + p["class_embedding"][labels]
    return emb


def unet(p, meta, x, emb):
    size, chans = int(meta["unet.image_size"]), int(meta["unet.image_channels"])
    groups, attn = int(meta["unet.groups"]), meta["unet.attention"] == "true"
    h = conv3x3(x.reshape(-1, size, size, chans).permute(0, 3, 1, 2), p, "unet.input")
    skips = []
    for level in range(3):
        h = res_block(h, emb, p, f"unet.down.{level}", groups)
        if level == 2 and attn:
            h = attention(h, p, "unet.attention.down", groups)
        skips.append(h)
        if level < 2:
            h = F.avg_pool2d(h, 2)
    h = res_block(h, emb, p, "unet.middle", groups)
    for i, level in enumerate([2, 1, 0]):
        h = res_block(torch.cat([h, skips.pop()], dim=1), emb, p, f"unet.up.{level}", groups)
        if i == 0 and attn:
            h = attention(h, p, "unet.attention.up", groups)
        if i < 2:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
    out = conv3x3(group_norm(h, p, "unet.out_norm", groups, True), p, "unet.output")
    out = out.permute(0, 2, 3, 1)  # back to channels last, as the rows are laid out
    b = out.shape[0]
    prediction = out[..., :chans].reshape(b, -1)
    variance = torch.tanh(out[..., chans:].reshape(b, -1)) if out.shape[-1] > chans else None
    return prediction, variance


def mlp(p, meta, x, emb):
    h = linear(x, p, "mlp.input")
    for i in range(int(meta["mlp.layers"])):
        h = F.silu(linear(h + emb, p, f"mlp.hidden.{i}"))
    out = linear(h, p, "mlp.output")
    dims = int(meta["mlp.dims"])
    variance = torch.tanh(out[:, dims:]) if out.shape[1] > dims else None
    return out[:, :dims], variance


def forward(p, meta, x, t, labels):
    emb = embedding(p, meta, t, labels)
    body = unet if meta["architecture"] == "unet" else mlp
    return body(p, meta, x, emb)


def check(weights, inputs, outputs):
    p, meta = load(weights)
    with safe_open(inputs, framework="pt") as f:
        x, t, labels = f.get_tensor("x").float(), f.get_tensor("t"), f.get_tensor("labels").long()
    with torch.no_grad():
        prediction, variance = forward(p, meta, x, t, labels)
    out = {"prediction": prediction.contiguous()}
    if variance is not None:
        out["variance"] = variance.contiguous()
    save_file(out, outputs)


def bench(weights):
    torch.set_num_threads(2)
    p, meta = load(weights)
    dims = int(meta["unet.image_size"]) ** 2 * int(meta["unet.image_channels"]) if meta["architecture"] == "unet" else int(meta["mlp.dims"])
    classes = int(meta["classes"])
    print("framework,batch,sample_steps_per_sec,train_steps_per_sec")
    for batch in (1, 16, 32, 64):
        x = torch.randn(batch, dims)
        t = torch.linspace(1, 1000, batch)
        labels = torch.full((batch,), classes, dtype=torch.long)
        with torch.no_grad():
            forward(p, meta, x, t, labels)
            n, start = 0, time.perf_counter()
            while time.perf_counter() - start < 2.0:
                forward(p, meta, x, t, labels)
                n += 1
            sample = n / (time.perf_counter() - start)
        trainable = {k: v.clone().requires_grad_(True) for k, v in p.items()}
        opt = torch.optim.AdamW(trainable.values(), lr=1e-4, weight_decay=0.0)
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < 3.0 or n < 2:
            prediction, _ = forward(trainable, meta, x, t, labels)
            loss = ((prediction - x) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            n += 1
        train = n / (time.perf_counter() - start)
        print(f"pytorch {torch.__version__},{batch},{sample:.3f},{train:.3f}")
    print(f"pytorch matmul 2048x2048 f32: {matmul_gflops(2048):.1f} GFLOP/s")


def matmul_gflops(n):
    """The best of five n x n f32 products, in GFLOP/s (2 n^3 per product)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def flops(weights):
    from torch.utils.flop_counter import FlopCounterMode

    p, meta = load(weights)
    dims = int(meta["unet.image_size"]) ** 2 * int(meta["unet.image_channels"]) if meta["architecture"] == "unet" else int(meta["mlp.dims"])
    batch = 4
    x, t = torch.randn(batch, dims), torch.linspace(1, 1000, batch)
    labels = torch.full((batch,), int(meta["classes"]), dtype=torch.long)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        forward(p, meta, x, t, labels)
    print(counter.get_total_flops() // batch)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "check":
        check(*sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "bench":
        bench(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "flops":
        flops(sys.argv[2])
    else:
        sys.exit(__doc__)
