"""PyTorch references for katachi's GEMM-shaped kernels: linear, conv1d, conv2d, conv_transpose2d.

For each case "<op>.<case>": the inputs x, w, b, a fixed random cotangent dy, the forward output y and
the gradients dx, dw, db of sum(y * dy). The configurations are repeated in the C++ tests
(test/kernels/test_<op>.cpp), which must name the same options.
"""

FILE = "gemm.safetensors"


def _case(torch, out, name, op, x_shape, w_shape, **options):
    x = torch.randn(*x_shape, requires_grad=True)
    w = torch.randn(*w_shape, requires_grad=True)
    b_size = w_shape[0] if op is not torch.nn.functional.conv_transpose2d else w_shape[1] * options.get("groups", 1)
    b = torch.randn(b_size, requires_grad=True)
    y = op(x, w, b, **options)
    dy = torch.randn(*y.shape)
    (y * dy).sum().backward()
    for key, value in (("x", x), ("w", w), ("b", b), ("y", y), ("dy", dy), ("dx", x.grad), ("dw", w.grad),
                       ("db", b.grad)):
        out[f"{name}.{key}"] = value.detach().to(torch.float32).contiguous()


def make(torch):
    F = torch.nn.functional
    out = {}
    _case(torch, out, "linear.small", F.linear, (5, 7), (3, 7))
    _case(torch, out, "linear.odd", F.linear, (4, 33), (17, 33))

    _case(torch, out, "conv2d.odd", F.conv2d, (2, 4, 17, 15), (6, 2, 3, 2),
          stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2)
    _case(torch, out, "conv2d.strided", F.conv2d, (2, 3, 17, 15), (5, 3, 3, 3),
          stride=2, padding=1, dilation=2)
    _case(torch, out, "conv2d.pointwise", F.conv2d, (2, 4, 6, 5), (6, 4, 1, 1))

    _case(torch, out, "conv1d.odd", F.conv1d, (2, 4, 17), (6, 2, 3), stride=2, padding=1, dilation=2, groups=2)
    _case(torch, out, "conv1d.wide", F.conv1d, (3, 3, 15), (4, 3, 5), padding=2)

    _case(torch, out, "conv_transpose2d.odd", F.conv_transpose2d, (2, 4, 7, 6), (4, 3, 3, 2),
          stride=(2, 2), padding=(1, 0), output_padding=(1, 1), dilation=(2, 1), groups=2)
    _case(torch, out, "conv_transpose2d.dilated", F.conv_transpose2d, (2, 3, 5, 4), (3, 5, 3, 3),
          padding=1, output_padding=1, dilation=2)
    _case(torch, out, "conv_transpose2d.pointwise", F.conv_transpose2d, (2, 4, 5, 6), (4, 3, 1, 1))
    return out
