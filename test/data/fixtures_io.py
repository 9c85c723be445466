"""Tensors that katachi's safetensors reader must load exactly: every dtype katachi writes, a
zero-size tensor, and values at the edges of each type (denormal, extreme integers)."""

FILE = "io.safetensors"


def make(torch):
    return {
        # i / 8 is exact in float32, so the C++ side can compare with ==.
        "arange_f32": (torch.arange(24, dtype=torch.float32) / 8).reshape(2, 3, 4),
        # 1/3 rounds the same way in Python and C++; 5e-324 is the smallest double denormal.
        "values_f64": torch.tensor([[1.0 / 3.0, -2.5, 5e-324], [1e300, -0.0, 0.1]], dtype=torch.float64),
        "values_i64": torch.tensor([-(2**63), -1, 0, 1, 2**62 + 1, 2**63 - 1], dtype=torch.int64),
        "empty_f32": torch.zeros(3, 0, dtype=torch.float32),
    }
