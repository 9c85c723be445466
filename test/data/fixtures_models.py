"""Whole-model reference values for both faces (models.safetensors).

Every model is built in float32 from torch.manual_seed(0) (set by make_fixtures.py), run forward on a
fixed input, and differentiated. Keys, for each model prefix P in {lenet, mlp_bn, resblock, strided}:

  P.input                  the input batch (float32)
  P.target                 class indices (int64) for cross-entropy, or float32 targets for MSE (strided)
  P.param.<name>           every entry of the model's state_dict before any step, under PyTorch's name
                           (parameters and buffers: running_mean, running_var, num_batches_tracked)
  P.logits                 the model's output
  P.loss                   the loss (shape [] scalar)
  P.grad.<name>            the gradient of the loss w.r.t. each parameter
  P.input_grad             the gradient of the loss w.r.t. the input
  P.after.<name>           (models with batch norm) state_dict entries after the training forward:
                           running statistics and num_batches_tracked as PyTorch updated them

Losses: cross-entropy on logits with mean reduction, except `strided` (MSE against P.target).

lenet     Conv2d(1,32,3,p1) ReLU MaxPool2d(2) Conv2d(32,64,3,p1) ReLU MaxPool2d(2) Flatten
          Linear(3136,128) ReLU Linear(128,10); input [2,1,28,28]; names "0.weight" ... "9.bias".
mlp_bn    Linear(20,32) BatchNorm1d(32) ReLU Linear(32,5); input [8,20]; train-mode forward and
          backward (keys as above), then one SGD step (lr 0.1, momentum 0.9) giving
          mlp_bn.step.<name> (state after the step), then an eval-mode forward and backward with the
          stepped parameters: mlp_bn.eval.logits, mlp_bn.eval.loss, mlp_bn.eval.grad.<name>,
          mlp_bn.eval.input_grad.
resblock  a ResNet basic block and a head, named as nodes: conv1 = Conv2d(8,8,3,p1,bias=False),
          bn1 = BatchNorm2d(8), relu, conv2 = Conv2d(8,8,3,p1,bias=False), bn2 = BatchNorm2d(8),
          add the block input, relu, pool = AdaptiveAvgPool2d(1), flatten, fc = Linear(8,3);
          input [2,8,9,7]; train mode; names "conv1.weight", "bn1.running_mean", "fc.bias", ...
strided   Conv2d(3,6,3,stride=2,padding=1) Tanh AvgPool2d(2) Flatten Linear(96,4) Sigmoid;
          input [2,3,17,15] (conv gives 9x8, pooling 4x4); names "0.weight", "0.bias", "4.weight", "4.bias".
"""
FILE = "models.safetensors"


def _record(out, prefix, model, x, target, loss_fn, torch, key="", state_prefix="param"):
    x = x.clone().requires_grad_(True)
    if state_prefix:
        for name, value in model.state_dict().items():
            out[f"{prefix}.{state_prefix}.{name}"] = value.clone()
    model.zero_grad()
    logits = model(x)
    loss = loss_fn(logits, target)
    loss.backward()
    out[f"{prefix}.{key}logits"] = logits.detach().clone()
    out[f"{prefix}.{key}loss"] = loss.detach().clone()
    out[f"{prefix}.{key}input_grad"] = x.grad.detach().clone()
    for name, p in model.named_parameters():
        out[f"{prefix}.{key}grad.{name}"] = p.grad.detach().clone()



def make(torch):
    nn = torch.nn
    F = torch.nn.functional
    out = {}

    # LeNet
    lenet = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    x = torch.rand(2, 1, 28, 28)
    t = torch.tensor([3, 7])
    out["lenet.input"], out["lenet.target"] = x, t
    _record(out, "lenet", lenet, x, t, F.cross_entropy, torch)

    # MLP with BatchNorm1d: train step, SGD step, eval
    mlp = nn.Sequential(nn.Linear(20, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 5))
    x = torch.randn(8, 20)
    t = torch.tensor([0, 1, 2, 3, 4, 0, 2, 4])
    out["mlp_bn.input"], out["mlp_bn.target"] = x, t
    mlp.train()
    _record(out, "mlp_bn", mlp, x, t, F.cross_entropy, torch)
    for name, value in mlp.state_dict().items():
        if "running" in name or "num_batches" in name:
            out[f"mlp_bn.after.{name}"] = value.clone()
    opt = torch.optim.SGD(mlp.parameters(), lr=0.1, momentum=0.9)
    opt.step()
    for name, value in mlp.state_dict().items():
        out[f"mlp_bn.step.{name}"] = value.clone()
    mlp.eval()
    _record(out, "mlp_bn", mlp, x, t, F.cross_entropy, torch, key="eval.", state_prefix=None)

    # ResNet basic block with a head
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(8)
            self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(8)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(8, 3)

        def forward(self, x):
            y = F.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            y = F.relu(y + x)
            return self.fc(torch.flatten(self.pool(y), 1))

    net = Net()
    x = torch.randn(2, 8, 9, 7)
    t = torch.tensor([2, 0])
    out["resblock.input"], out["resblock.target"] = x, t
    net.train()
    _record(out, "resblock", net, x, t, F.cross_entropy, torch)
    for name, value in net.state_dict().items():
        if "running" in name or "num_batches" in name:
            out[f"resblock.after.{name}"] = value.clone()

    # Strided convolution on an odd input
    strided = nn.Sequential(nn.Conv2d(3, 6, 3, stride=2, padding=1), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
                            nn.Linear(96, 4), nn.Sigmoid())
    x = torch.randn(2, 3, 17, 15)
    t = torch.rand(2, 4)
    out["strided.input"], out["strided.target"] = x, t
    _record(out, "strided", strided, x, t, F.mse_loss, torch)
    return out
