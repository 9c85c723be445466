"""Reference values for katachi's activations, softmax and losses (kernels/relu.hpp ... mse_loss.hpp).

Every op gets its input, a random incoming gradient `dy` (or a scalar `dloss`), PyTorch's output
and PyTorch's gradient of each input. Sizes are odd ([3, 17, 15]) and some logits are +-100 to check
the numerically stable forms. Scalar losses are stored with shape [1].
"""
FILE = "act.safetensors"


def with_extremes(torch, x, values=(100.0, -100.0, 30.0, -30.0)):
    """Overwrites a few fixed positions of x with large values."""
    flat = x.view(-1)
    for i, v in enumerate(values):
        flat[(7 + 131 * i) % flat.numel()] = v
    return x


def elementwise(torch, out, name, fn, x):
    x = x.clone().requires_grad_(True)
    y = fn(x)
    dy = torch.randn_like(y)
    (dx,) = torch.autograd.grad(y, x, dy)
    out[f"{name}.x"] = x.detach()
    out[f"{name}.y"] = y.detach()
    out[f"{name}.dy"] = dy
    out[f"{name}.dx"] = dx


def scalar_loss(torch, out, name, fn, inputs):
    leaves = {k: v.clone().requires_grad_(v.is_floating_point()) for k, v in inputs.items()}
    loss = fn(**leaves)
    dloss = torch.tensor(0.75)
    wrt = [k for k, v in leaves.items() if v.requires_grad]
    grads = torch.autograd.grad(loss, [leaves[k] for k in wrt], dloss)
    for k, v in leaves.items():
        out[f"{name}.{k}"] = v.detach()
    out[f"{name}.loss"] = loss.detach().reshape(1)
    out[f"{name}.dloss"] = dloss.reshape(1)
    for k, g in zip(wrt, grads):
        out[f"{name}.d{k}"] = g


def make(torch):
    F = torch.nn.functional
    out = {}
    shape = (3, 17, 15)

    elementwise(torch, out, "relu", F.relu, torch.randn(shape))
    elementwise(torch, out, "leaky_relu", F.leaky_relu, torch.randn(shape))
    elementwise(torch, out, "leaky_relu_0.2", lambda x: F.leaky_relu(x, 0.2), torch.randn(shape))
    elementwise(torch, out, "gelu", F.gelu, 3 * torch.randn(shape))
    elementwise(torch, out, "gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), 3 * torch.randn(shape))
    elementwise(torch, out, "sigmoid", torch.sigmoid, with_extremes(torch, 4 * torch.randn(shape)))
    elementwise(torch, out, "tanh", torch.tanh, with_extremes(torch, 2 * torch.randn(shape)))

    for dim in (0, 1, 2):
        x = with_extremes(torch, 5 * torch.randn(shape))
        elementwise(torch, out, f"softmax_dim{dim}", lambda t: F.softmax(t, dim=dim), x)
        elementwise(torch, out, f"log_softmax_dim{dim}", lambda t: F.log_softmax(t, dim=dim), x)

    n, c = 17, 15
    logits = with_extremes(torch, 3 * torch.randn(n, c))
    target = torch.randint(0, c, (n,), dtype=torch.int64)
    ignored = target.clone()
    ignored[4] = -100
    ignored[11] = -100
    custom = target.clone()
    custom[2] = 3
    custom[9] = 3
    scalar_loss(torch, out, "cross_entropy", lambda logits, target: F.cross_entropy(logits, target),
                {"logits": logits, "target": target})
    scalar_loss(torch, out, "cross_entropy_smooth",
                lambda logits, target: F.cross_entropy(logits, target, label_smoothing=0.1),
                {"logits": logits, "target": target})
    scalar_loss(torch, out, "cross_entropy_ignore",
                lambda logits, target: F.cross_entropy(logits, target, label_smoothing=0.1),
                {"logits": logits, "target": ignored})
    scalar_loss(torch, out, "cross_entropy_ignore3",
                lambda logits, target: F.cross_entropy(logits, target, ignore_index=3),
                {"logits": logits, "target": custom})

    log_probs = F.log_softmax(3 * torch.randn(n, c), dim=1)
    scalar_loss(torch, out, "nll_loss", lambda log_probs, target: F.nll_loss(log_probs, target),
                {"log_probs": log_probs, "target": ignored})

    scalar_loss(torch, out, "mse_loss", lambda x, target: F.mse_loss(x, target),
                {"x": torch.randn(shape), "target": torch.randn(shape)})
    return out
