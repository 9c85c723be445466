"""Three training steps of a small model under SGD with momentum and under Adam (graph.safetensors).

The graph face's model object, stepped by katachi's optimisers, must follow PyTorch step for step:
forward in training mode, cross-entropy, backward, optimiser step, three times.

Model: Conv2d(2,3,3,padding=1,bias=False) BatchNorm2d(3) ReLU Flatten Linear(60,4); input [4,2,5,4].
Keys:
  opt.input, opt.target           the batch (float32) and its class indices (int64)
  opt.param.<name>                the state dict before the first step ("0.weight", "1.running_mean", ...)
  <opt>.loss<i>                   the loss of step i (shape []), <opt> in {sgd, adam}
  <opt>.step<i>.<name>            the state dict after step i
Optimisers: sgd = SGD(lr=0.1, momentum=0.9); adam = Adam(lr=0.01).

A bias before batch norm is left out: its gradient is 0 up to rounding, which Adam would magnify.
"""
import copy

FILE = "graph.safetensors"


def make(torch):
    nn = torch.nn
    F = torch.nn.functional
    out = {}
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, bias=False), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                          nn.Linear(60, 4))
    x = torch.randn(4, 2, 5, 4)
    t = torch.tensor([0, 3, 1, 2])
    out["opt.input"], out["opt.target"] = x, t
    for name, value in model.state_dict().items():
        out[f"opt.param.{name}"] = value.clone()
    for key, make_opt in (("sgd", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
                          ("adam", lambda p: torch.optim.Adam(p, lr=0.01))):
        m = copy.deepcopy(model)
        m.train()
        opt = make_opt(m.parameters())
        for i in range(3):
            opt.zero_grad()
            loss = F.cross_entropy(m(x), t)
            loss.backward()
            opt.step()
            out[f"{key}.loss{i}"] = loss.detach().clone()
            for name, value in m.state_dict().items():
                out[f"{key}.step{i}.{name}"] = value.clone()
    return out
