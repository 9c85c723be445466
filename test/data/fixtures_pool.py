"""PyTorch references for katachi's pooling, batch norm and dropout kernels (float32; int64 indices).

Keys are "<case>.<tensor>". Every case stores its inputs, the upstream gradient dy, and what PyTorch
computes from them, so the C++ tests feed the same inputs and compare.
"""

FILE = "pool.safetensors"

# Odd sizes: 17x15 planes; two images of one channel keep the file small.
SHAPE = (2, 1, 17, 15)

MAX_CASES = {
    "max_s2_p1_d2": dict(kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=False),
    "max_s2_p1_ceil": dict(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True),
    "max_k2x3_default_stride_ceil": dict(kernel_size=(2, 3), stride=None, padding=(1, 1), dilation=1,
                                         ceil_mode=True),
    "max_ties_s1_p1": dict(kernel_size=3, stride=1, padding=1, dilation=1, ceil_mode=False),
}

AVG_CASES = {
    "avg_s2_p1": dict(kernel_size=3, stride=2, padding=1, ceil_mode=False, count_include_pad=True),
    "avg_s2_p1_ceil_exclude_pad": dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                       count_include_pad=False),
    "avg_k3x2_s2_p1_ceil_include_pad": dict(kernel_size=(3, 2), stride=(2, 2), padding=(1, 1), ceil_mode=True,
                                            count_include_pad=True),
    "avg_divisor_override": dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=True,
                                 divisor_override=5),
    "avg_k2_default_stride": dict(kernel_size=2, stride=None, padding=0, ceil_mode=False,
                                  count_include_pad=True),
}

ADAPTIVE_CASES = {
    "adaptive_17x15_to_5x4": ((2, 2, 17, 15), (5, 4)),
    "adaptive_3x5_to_4x7": ((2, 3, 3, 5), (4, 7)),
}

BATCH_NORM_CASES = {
    "bn_nc": ((8, 3), True),
    "bn_ncl": ((4, 3, 7), True),
    "bn_nchw": ((3, 4, 5, 7), True),
    "bn_nchw_no_affine": ((2, 3, 5, 3), False),
}


def grads(torch, fn, inputs, dy):
    """Runs fn on fresh leaf copies of inputs; returns (output, [d output / d input · dy])."""
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    out = fn(*leaves)
    out.backward(dy)
    return out.detach(), [t.grad.detach() for t in leaves]


def make(torch):
    F = torch.nn.functional
    out = {}

    for name, o in MAX_CASES.items():
        x = torch.randn(SHAPE)
        if "ties" in name:
            x = torch.round(x * 2) / 2  # many equal values: the first maximum must win
        y, idx = F.max_pool2d(x, return_indices=True, **o)
        dy = torch.randn(y.shape)
        _, (dx,) = grads(torch, lambda t: F.max_pool2d(t, **o), [x], dy)
        out.update({f"{name}.x": x, f"{name}.y": y, f"{name}.indices": idx, f"{name}.dy": dy, f"{name}.dx": dx})

    for name, o in AVG_CASES.items():
        x = torch.randn(SHAPE)
        y = F.avg_pool2d(x, **o)
        dy = torch.randn(y.shape)
        _, (dx,) = grads(torch, lambda t: F.avg_pool2d(t, **o), [x], dy)
        out.update({f"{name}.x": x, f"{name}.y": y, f"{name}.dy": dy, f"{name}.dx": dx})

    for name, (shape, size) in ADAPTIVE_CASES.items():
        x = torch.randn(shape)
        y = F.adaptive_avg_pool2d(x, size)
        dy = torch.randn(y.shape)
        _, (dx,) = grads(torch, lambda t: F.adaptive_avg_pool2d(t, size), [x], dy)
        out.update({f"{name}.x": x, f"{name}.y": y, f"{name}.dy": dy, f"{name}.dx": dx})

    momentum, eps = 0.1, 1e-5
    for name, (shape, affine) in BATCH_NORM_CASES.items():
        c = shape[1]
        x = torch.randn(shape) * 1.5 + 0.7
        weight = torch.rand(c) + 0.5
        bias = torch.randn(c)
        running_mean = torch.randn(c)
        running_var = torch.rand(c) + 0.5
        dy = torch.randn(shape)
        w, b = (weight, bias) if affine else (None, None)
        # One training step: batch statistics, saved mean and 1/sqrt(var + eps), running statistics.
        rm, rv = running_mean.clone(), running_var.clone()
        y, save_mean, save_invstd = torch.native_batch_norm(x, w, b, rm, rv, True, momentum, eps)
        inputs = [x, weight, bias] if affine else [x]
        fn = (lambda t, tw, tb: F.batch_norm(t, None, None, tw, tb, True, momentum, eps)) if affine else \
             (lambda t: F.batch_norm(t, None, None, None, None, True, momentum, eps))
        _, g = grads(torch, fn, inputs, dy)
        out.update({f"{name}.x": x, f"{name}.running_mean": running_mean, f"{name}.running_var": running_var,
                    f"{name}.dy": dy, f"{name}.train.y": y, f"{name}.train.save_mean": save_mean,
                    f"{name}.train.save_invstd": save_invstd, f"{name}.train.running_mean": rm,
                    f"{name}.train.running_var": rv, f"{name}.train.dx": g[0]})
        if affine:
            out.update({f"{name}.weight": weight, f"{name}.bias": bias,
                        f"{name}.train.dweight": g[1], f"{name}.train.dbias": g[2]})
        # Evaluation with the running statistics after that step.
        fn_eval = (lambda t, tw, tb: F.batch_norm(t, rm, rv, tw, tb, False, momentum, eps)) if affine else \
                  (lambda t: F.batch_norm(t, rm, rv, None, None, False, momentum, eps))
        y_eval, g = grads(torch, fn_eval, inputs, dy)
        out.update({f"{name}.eval.y": y_eval, f"{name}.eval.dx": g[0]})
        if affine:
            out.update({f"{name}.eval.dweight": g[1], f"{name}.eval.dbias": g[2]})

    # Dropout: PyTorch's own mask, recovered from its output, is what katachi's backward is fed.
    p = 0.3
    x = torch.rand(64, 50) + 0.5  # never zero, so y == 0 exactly where an element was dropped
    dy = torch.randn(x.shape)
    y, (dx,) = grads(torch, lambda t: F.dropout(t, p, True), [x], dy)
    mask = (y != 0).to(torch.float32) * (1.0 / (1.0 - p))
    out.update({"dropout.x": x, "dropout.y": y, "dropout.mask": mask, "dropout.dy": dy, "dropout.dx": dx})
    return out
