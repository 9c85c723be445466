"""Reference learning rates for katachi's schedulers (schedulers.safetensors), from torch.optim.lr_scheduler.

Every case drives an optimiser of two parameter groups (lr 0.1 and 0.02; SGD with momentum 0.9, or
Adam where the case says so) for STEPS epochs: optimizer.step(), then scheduler.step() (or
scheduler.step(metric) for ReduceLROnPlateau). The options of each case are in CASES below, and
test/optim/test_lr_scheduler.cpp builds katachi's scheduler with the same ones.
SequentialLR cases chain schedulers built over the same optimiser, as PyTorch users write them.
Keys (float64):
  <case>.lr          [STEPS + 1, 2]  each group's rate after the build (row 0) and after each step
  <case>.momentum    [STEPS + 1, 2]  OneCycleLR with cycle_momentum: SGD's momentum or Adam's beta1
  <case>.metric      [STEPS]         ReduceLROnPlateau: the metric passed to step i (with plateaus)
"""
FILE = "schedulers.safetensors"
STEPS = 40
GROUP_LRS = (0.1, 0.02)


def _plateau_metric():
    """A loss-like sequence: falls, stalls, wobbles within the threshold, falls again, rises."""
    values = []
    for i in range(STEPS):
        if i < 8:
            v = 1.0 - 0.05 * i
        elif i < 16:
            v = 0.65 + (0.00001 if i % 2 else 0.0)
        elif i < 22:
            v = 0.65 - 0.02 * (i - 15)
        elif i < 30:
            v = 0.53 + 0.005 * (i % 3)
        else:
            v = 0.53 + 0.01 * (i - 29)
        values.append(v)
    return values


def _cases(S):
    """(name, optimiser kind, build(opt) -> scheduler, metric or None)."""
    m = _plateau_metric()
    return [
        ("step_lr", "sgd", lambda o: S.StepLR(o, step_size=7, gamma=0.5), None),
        ("step_lr_default_gamma", "sgd", lambda o: S.StepLR(o, step_size=3), None),
        ("multi_step_lr", "sgd", lambda o: S.MultiStepLR(o, milestones=[5, 12, 12, 30], gamma=0.3), None),
        ("multi_step_lr_default_gamma", "sgd", lambda o: S.MultiStepLR(o, milestones=[10, 20]), None),
        ("exponential_lr", "sgd", lambda o: S.ExponentialLR(o, gamma=0.9), None),
        ("cosine_annealing_lr", "sgd", lambda o: S.CosineAnnealingLR(o, T_max=40), None),
        ("cosine_annealing_lr_restart", "sgd", lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001), None),
        ("linear_lr", "sgd", lambda o: S.LinearLR(o), None),
        ("linear_lr_partial", "sgd",
         lambda o: S.LinearLR(o, start_factor=0.1, end_factor=0.5, total_iters=12), None),
        ("one_cycle_lr", "sgd", lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=40), None),
        ("one_cycle_lr_linear_three_phase", "adam",
         lambda o: S.OneCycleLR(o, max_lr=0.3, total_steps=45, pct_start=0.25, anneal_strategy="linear",
                                three_phase=True, div_factor=10.0, final_div_factor=100.0,
                                base_momentum=0.8, max_momentum=0.9), None),
        ("one_cycle_lr_epochs_no_momentum", "sgd",
         lambda o: S.OneCycleLR(o, max_lr=0.2, epochs=4, steps_per_epoch=10, pct_start=0.4,
                                cycle_momentum=False), None),
        ("one_cycle_lr_per_group", "sgd",
         lambda o: S.OneCycleLR(o, max_lr=[0.4, 0.08], total_steps=50, pct_start=0.2), None),
        ("reduce_lr_on_plateau", "sgd", lambda o: S.ReduceLROnPlateau(o, patience=2, factor=0.5), m),
        ("reduce_lr_on_plateau_max_abs", "sgd",
         lambda o: S.ReduceLROnPlateau(o, mode="max", threshold_mode="abs", threshold=0.01, patience=1,
                                       cooldown=2, min_lr=0.004, factor=0.3), [1.0 - v for v in m]),
        ("reduce_lr_on_plateau_min_abs_eps", "sgd",
         lambda o: S.ReduceLROnPlateau(o, threshold_mode="abs", threshold=0.001, patience=0, cooldown=1,
                                       min_lr=0.0015, eps=1e-3, factor=0.7), m),
        ("reduce_lr_on_plateau_max_rel", "sgd",
         lambda o: S.ReduceLROnPlateau(o, mode="max", patience=3), [2.0 - v for v in m]),
        ("sequential_lr_warmup_cosine", "sgd",
         lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=5),
                                      S.CosineAnnealingLR(o, T_max=35, eta_min=0.001)], milestones=[5]), None),
        ("sequential_lr_three", "sgd",
         lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.5, total_iters=4),
                                      S.StepLR(o, step_size=5, gamma=0.5), S.ExponentialLR(o, gamma=0.9)],
                                  milestones=[6, 20]), None),
        ("sequential_lr_multi_step", "sgd",
         lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.25, total_iters=8),
                                      S.MultiStepLR(o, milestones=[3, 9], gamma=0.5)], milestones=[10]), None),
    ]


def _optimiser(torch, kind):
    groups = [{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr} for lr in GROUP_LRS]
    if kind == "adam":
        return torch.optim.Adam(groups)
    return torch.optim.SGD(groups, momentum=0.9)


def _momentum(opt, kind):
    return [g["betas"][0] if kind == "adam" else g["momentum"] for g in opt.param_groups]


def make(torch):
    S = torch.optim.lr_scheduler
    out = {}
    for name, kind, build, metric in _cases(S):
        opt = _optimiser(torch, kind)
        sched = build(opt)
        lrs = [[g["lr"] for g in opt.param_groups]]
        momenta = [_momentum(opt, kind)]
        for i in range(STEPS):
            opt.step()
            if metric is None:
                sched.step()
            else:
                sched.step(metric[i])
            lrs.append([g["lr"] for g in opt.param_groups])
            momenta.append(_momentum(opt, kind))
        out[f"{name}.lr"] = torch.tensor(lrs, dtype=torch.float64)
        if name.startswith("one_cycle") and getattr(sched, "cycle_momentum", False):
            out[f"{name}.momentum"] = torch.tensor(momenta, dtype=torch.float64)
        if metric is not None:
            out[f"{name}.metric"] = torch.tensor(metric, dtype=torch.float64)
    return out
