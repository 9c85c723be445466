"""Three steps of each optimiser on fixed parameters and gradient sequences (optim.safetensors)."""
FILE = "optim.safetensors"

CASES = {
    "sgd_plain": ("SGD", dict(lr=0.1)),
    "sgd_momentum": ("SGD", dict(lr=0.05, momentum=0.9)),
    "sgd_nesterov_wd": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    "sgd_dampening": ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.02)),
    "adam": ("Adam", dict(lr=0.01)),
    "adam_wd_amsgrad": ("Adam", dict(lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1, amsgrad=True)),
    "adamw": ("AdamW", dict(lr=0.01, weight_decay=0.05)),
}


def make(torch):
    out = {}
    w0 = torch.randn(7, 5)
    b0 = torch.randn(7)
    grads = [(torch.randn(7, 5), torch.randn(7)) for _ in range(3)]
    out["w0"], out["b0"] = w0, b0
    for i, (gw, gb) in enumerate(grads):
        out[f"grad{i}.w"], out[f"grad{i}.b"] = gw, gb
    for name, (cls, kwargs) in CASES.items():
        w = w0.clone().requires_grad_(True)
        b = b0.clone().requires_grad_(True)
        opt = getattr(torch.optim, cls)([w, b], **kwargs)
        for i, (gw, gb) in enumerate(grads):
            w.grad, b.grad = gw.clone(), gb.clone()
            opt.step()
            out[f"{name}.step{i}.w"] = w.detach().clone()
            out[f"{name}.step{i}.b"] = b.detach().clone()
    return out
