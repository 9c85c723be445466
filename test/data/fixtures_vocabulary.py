"""Reference values for the options both faces share through one op definition (vocabulary.safetensors).

Model `norms` (float32, from torch.manual_seed(0)), input [4, 2, 6, 5]:
   0 Conv2d(2, 4, 3, padding=1)
   1 LayerNorm([4, 6, 5])
   2 ReLU
   3 MaxPool2d(3, stride=2, ceil_mode=True)                       -> [4, 3, 2]
   4 BatchNorm2d(4, eps=1e-3, momentum=None)                      cumulative running average
   5 Tanh                                   (so that 7 does not undo 4's scale and shift)
   6 AvgPool2d(2, stride=1, padding=1, ceil_mode=True, count_include_pad=False)   -> [4, 4, 3]
   7 BatchNorm2d(4, affine=False)
   8 Flatten
   9 Linear(48, 16, bias=False)             (a bias before batch norm has no gradient)
  10 BatchNorm1d(16, track_running_stats=False)                   batch statistics in eval too
  11 LayerNorm(16, elementwise_affine=False)
  12 Linear(16, 3)
Keys:
  norms.input, norms.target, norms.input2   the batch, its class indices, a second batch
  norms.param.<name>                        the state dict before anything runs
  norms.logits, .loss, .input_grad, .grad.<name>   a training forward and backward (cross-entropy)
  norms.after.<name>                        the state dict after that forward and a second training
                                            forward on input2 (momentum=None averages the two)
  norms.eval.logits, .loss, .input_grad, .grad.<name>   then an evaluation forward and backward
"""
FILE = "vocabulary.safetensors"


def _record(out, prefix, model, x, target, F):
    x = x.clone().requires_grad_(True)
    model.zero_grad()
    logits = model(x)
    loss = F.cross_entropy(logits, target)
    loss.backward()
    out[f"{prefix}logits"] = logits.detach().clone()
    out[f"{prefix}loss"] = loss.detach().clone()
    out[f"{prefix}input_grad"] = x.grad.detach().clone()
    for name, p in model.named_parameters():
        out[f"{prefix}grad.{name}"] = p.grad.detach().clone()


def make(torch):
    nn = torch.nn
    F = torch.nn.functional
    out = {}
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.LayerNorm([4, 6, 5]), nn.ReLU(),
        nn.MaxPool2d(3, stride=2, ceil_mode=True), nn.BatchNorm2d(4, eps=1e-3, momentum=None), nn.Tanh(),
        nn.AvgPool2d(2, stride=1, padding=1, ceil_mode=True, count_include_pad=False),
        nn.BatchNorm2d(4, affine=False), nn.Flatten(), nn.Linear(48, 16, bias=False),
        nn.BatchNorm1d(16, track_running_stats=False), nn.LayerNorm(16, elementwise_affine=False),
        nn.Linear(16, 3))
    # LayerNorm's affine parameters start at 1 and 0; move them so their gradients mean something.
    with torch.no_grad():
        model[1].weight.uniform_(0.5, 1.5)
        model[1].bias.uniform_(-0.5, 0.5)
        model[4].weight.uniform_(0.5, 1.5)
        model[4].bias.uniform_(-0.5, 0.5)
    x = torch.randn(4, 2, 6, 5)
    x2 = torch.randn(4, 2, 6, 5)
    t = torch.tensor([0, 2, 1, 2])
    out["norms.input"], out["norms.input2"], out["norms.target"] = x, x2, t
    for name, value in model.state_dict().items():
        out[f"norms.param.{name}"] = value.clone()
    model.train()
    _record(out, "norms.", model, x, t, F)
    with torch.no_grad():
        model(x2)
    for name, value in model.state_dict().items():
        out[f"norms.after.{name}"] = value.clone()
    model.eval()
    _record(out, "norms.eval.", model, x, t, F)
    return out
