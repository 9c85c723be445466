"""Reference values for the eager face's op set (eager_ops.safetensors): broadcasting arithmetic,
pointwise maps, reductions along a dimension, joining, indexing, and how tensors print.

Run alone:  /usr/bin/python3 test/data/fixtures_eager_ops.py   (or with every group: make_fixtures.py)

Each op case <case> is computed in float64 from random inputs and records:
  <case>.in0, <case>.in1, ...   the inputs that take a gradient
  <case>.cond                   where's condition (1.0 true, 0.0 false), which takes none
  <case>.out                    the output
  <case>.indices                the int64 indices that max and min return, and argmax/argmin's result
  <case>.cot                    a random cotangent of the output's shape
  <case>.grad0, <case>.grad1    the gradient of (out * cot).sum() with respect to each input
test/eager/test_ops.cpp runs the same op on the inputs and compares everything to 1e-6.

Each print case print.<case> records:
  print.<case>.input            the tensor printed (float32 unless the case says float64; int64 for idx)
  print.<case>.requires_grad    1 when the tensor printed requires grad
  print.<case>.repr             repr(tensor) as Unicode code points (int64), with PyTorch's
                                "dtype=torch.float64" spelt "dtype=float64" as katachi prints it
"""
FILE = "eager_ops.safetensors"


def make(torch):
    out = {}
    f64 = torch.float64

    def rnd(*shape, lo=-1.0, hi=1.0):
        return torch.rand(tuple(shape), dtype=f64) * (hi - lo) + lo

    def case(name, fn, inputs, cond=None):
        leaves = [x.clone().requires_grad_(True) for x in inputs]
        result = fn(*leaves) if cond is None else fn(cond, *leaves)
        if isinstance(result, tuple):  # max and min: values and indices
            result, indices = result
            out[f"{name}.indices"] = indices.clone()
        cot = rnd(*result.shape)
        (result * cot).sum().backward()
        for i, (x, leaf) in enumerate(zip(inputs, leaves)):
            out[f"{name}.in{i}"] = x.clone()
            out[f"{name}.grad{i}"] = leaf.grad.clone()
        if cond is not None:
            out[f"{name}.cond"] = cond.clone()
        out[f"{name}.out"] = result.detach().clone()
        out[f"{name}.cot"] = cot

    def indices_only(name, fn, x):
        out[f"{name}.in0"] = x.clone()
        out[f"{name}.indices"] = fn(x).clone()

    # Broadcasting arithmetic.
    case("add_row", lambda a, b: a + b, [rnd(4, 10), rnd(10)])
    case("add_scalar_tensor", lambda a, b: a + b, [rnd(), rnd(2, 3)])
    case("sub_both", lambda a, b: a - b, [rnd(3, 1, 5), rnd(4, 1)])
    case("mul_middle", lambda a, b: a * b, [rnd(2, 3, 4), rnd(3, 1)])
    case("div_column", lambda a, b: a / b, [rnd(2, 3), rnd(2, 1, lo=0.5, hi=2.0)])
    case("div_same", lambda a, b: a / b, [rnd(2, 3), rnd(2, 3, lo=0.5, hi=2.0)])
    case("pow_tensor", lambda a, b: torch.pow(a, b), [rnd(3, 4, lo=0.5, hi=2.0), rnd(4, lo=-2.0, hi=2.0)])
    case("where", lambda c, a, b: torch.where(c > 0, a, b), [rnd(3), rnd(4, 3)],
         cond=(torch.rand(4, 1) > 0.5).to(f64))

    # Pointwise maps.
    case("sqrt", torch.sqrt, [rnd(3, 4, lo=0.1, hi=2.0)])
    case("abs", torch.abs, [rnd(3, 4)])
    case("exp", torch.exp, [rnd(3, 4)])
    case("log", torch.log, [rnd(3, 4, lo=0.1, hi=2.0)])
    case("pow_scalar", lambda a: torch.pow(a, 3.0), [rnd(3, 4)])
    case("pow_fraction", lambda a: torch.pow(a, 2.5), [rnd(3, 4, lo=0.1, hi=2.0)])
    case("clamp_both", lambda a: torch.clamp(a, -0.5, 0.5), [rnd(3, 4)])
    case("clamp_min", lambda a: torch.clamp(a, min=-0.25), [rnd(3, 4)])
    case("clamp_max", lambda a: torch.clamp(a, max=0.25), [rnd(3, 4)])

    # Reductions along a dimension.
    case("sum_dim1", lambda a: a.sum(1), [rnd(3, 4, 5)])
    case("sum_dim0_keepdim", lambda a: a.sum(0, keepdim=True), [rnd(3, 4)])
    case("mean_last_keepdim", lambda a: a.mean(-1, keepdim=True), [rnd(2, 3, 4)])
    case("mean_dim0", lambda a: a.mean(0), [rnd(3, 4)])
    case("max_dim0", lambda a: tuple(a.max(0)), [rnd(3, 4)])
    case("max_dim1_keepdim", lambda a: tuple(a.max(1, keepdim=True)), [rnd(2, 5, 3)])
    case("min_last", lambda a: tuple(a.min(-1)), [rnd(2, 3, 4)])
    case("min_dim0_keepdim", lambda a: tuple(a.min(0, keepdim=True)), [rnd(4, 3)])
    # Among equal values the first is chosen; a NaN is chosen over any number.
    case("max_ties", lambda a: tuple(a.max(1)), [torch.tensor([[1., 3., 3., 0.], [2., 2., 1., 1.]], dtype=f64)])
    case("min_ties_keepdim", lambda a: tuple(a.min(1, keepdim=True)),
         [torch.tensor([[1., 3., 3., 0.], [2., 2., 1., 1.]], dtype=f64)])
    case("max_with_nan", lambda a: tuple(a.max(1)), [torch.tensor([[1., float("nan"), 3.], [0., 2., 2.]], dtype=f64)])
    indices_only("argmax_dim1", lambda a: a.argmax(1), rnd(3, 5))
    indices_only("argmax_dim0_keepdim", lambda a: a.argmax(0, keepdim=True), rnd(3, 5))
    indices_only("argmin_last", lambda a: a.argmin(-1), rnd(2, 3, 4))
    indices_only("argmin_ties", lambda a: a.argmin(0), torch.tensor([[2., 1.], [2., 0.], [1., 0.]], dtype=f64))

    # Joining.
    case("cat_dim1", lambda a, b, c: torch.cat([a, b, c], 1), [rnd(2, 3), rnd(2, 1), rnd(2, 4)])
    case("cat_dim0", lambda a, b: torch.cat([a, b], 0), [rnd(2, 3), rnd(4, 3)])
    case("stack_dim1", lambda a, b, c: torch.stack([a, b, c], 1), [rnd(2, 3), rnd(2, 3), rnd(2, 3)])
    case("stack_last", lambda a, b: torch.stack([a, b], -1), [rnd(2, 3), rnd(2, 3)])

    # Parts.
    case("narrow", lambda a: a.narrow(1, 1, 2), [rnd(3, 4)])
    case("narrow_negative_start", lambda a: a.narrow(-1, -3, 2), [rnd(2, 3, 4)])
    case("select_last_row", lambda a: a.select(0, -1), [rnd(3, 4)])
    case("select_dim1", lambda a: a.select(1, 2), [rnd(2, 4, 3)])
    case("slice_step2", lambda a: a[:, 0::2], [rnd(3, 5)])
    case("slice_negative", lambda a: a[-3:-1], [rnd(5, 2)])
    case("slice_past_end", lambda a: a[:, 1:100:3], [rnd(2, 8)])
    case("index_select_dim1", lambda a: a.index_select(1, torch.tensor([2, 0, 2])), [rnd(3, 4)])
    case("index_select_dim0", lambda a: a.index_select(0, torch.tensor([1, 1, 0, 3])), [rnd(4, 2, 2)])

    # Printing.
    def printed(name, t, requires_grad=False):
        t = t.clone().requires_grad_(requires_grad)
        text = repr(t).replace("dtype=torch.float64", "dtype=float64")
        out[f"print.{name}.input"] = t.detach().clone()
        out[f"print.{name}.requires_grad"] = torch.tensor([1 if requires_grad else 0])
        out[f"print.{name}.repr"] = torch.tensor([ord(c) for c in text], dtype=torch.int64)

    printed("integral", torch.tensor([[1., 2.], [3., 4.]]), requires_grad=True)
    printed("fixed", torch.randn(2, 3))
    printed("negative_fixed", torch.randn(3, 2, 2) * 10)
    printed("scientific_range", torch.tensor([1e-5, 1.0, 250.0, -3.5]))
    printed("scientific_large", torch.tensor([[1.5e9, 2.0], [3.0, 4.0]]))
    printed("integral_wide_range", torch.tensor([1., 20000., -3.]))
    printed("long_row", torch.randn(25))
    printed("summarised", torch.arange(1001, dtype=torch.float32).reshape(7, 11, 13))
    printed("summarised_vector", torch.randn(2000))
    printed("scalar", torch.tensor(2.5), requires_grad=True)
    printed("scalar_integral", torch.tensor(-3.))
    printed("zeros", torch.zeros(2, 2))
    printed("non_finite", torch.tensor([float("nan"), float("inf"), -float("inf"), 1.5]))
    printed("empty", torch.zeros(0))
    printed("empty_rows", torch.zeros(0, 3))
    printed("float64", torch.randn(2, 2, dtype=f64))
    printed("suffix_on_its_own_line", torch.full((30,), 1e-9), requires_grad=True)
    printed("negative_zero", torch.tensor([-0.0, 1.0]))
    printed("indices", torch.tensor([[1, 0, 12], [2, 2, -3]]))
    return out


if __name__ == "__main__":
    import os
    import sys

    import torch

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from make_fixtures import write_safetensors

    torch.use_deterministic_algorithms(True)
    torch.manual_seed(0)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), FILE)
    tensors = make(torch)
    write_safetensors(path, tensors, {"generator": "test/data/make_fixtures.py", "module": "fixtures_eager_ops",
                                      "torch": torch.__version__})
    print(f"{path}: {len(tensors)} tensors")
