// examples/embedded/fpu_demo.cpp: the first program of katachi's Cortex-M7 image: float and double
// arithmetic on the FPU (hard-float ABI), printed for the host test to check (run_qemu.py computes
// the same values).
#include "runtime.hpp"

#include <cstddef>

namespace {

// Read at run time, so the compiler cannot fold the arithmetic below into constants.
volatile float scale = 0.5f;

}  // namespace

int main() {
    const float s = scale;

    // A dot product of 16 floats: x[i] = s (i + 1), w[i] = 1 / (i + 2).
    float x[16], w[16];
    for (std::size_t i = 0; i < 16; ++i) {
        x[i] = s * static_cast<float>(i + 1);
        w[i] = 1.0f / static_cast<float>(i + 2);
    }
    float dot = 0.0f;
    for (std::size_t i = 0; i < 16; ++i) dot += x[i] * w[i];
    device::line() << "dot = " << dot;

    // C[3, 2] = A[3, 4] B[4, 2] with A[i][k] = s (i - k) + (k^2 + i) / 10, B[k][j] = (k + 1) (j + 1) / 8.
    float a[3][4], b[4][2], c[3][2] = {};
    for (int i = 0; i < 3; ++i)
        for (int k = 0; k < 4; ++k) a[i][k] = s * static_cast<float>(i - k) + static_cast<float>(k * k + i) / 10.0f;
    for (int k = 0; k < 4; ++k)
        for (int j = 0; j < 2; ++j) b[k][j] = static_cast<float>((k + 1) * (j + 1)) / 8.0f;
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 2; ++j)
            for (int k = 0; k < 4; ++k) c[i][j] += a[i][k] * b[k][j];
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 2; ++j) device::line() << "c[" << i << "][" << j << "] = " << c[i][j];

    // Double precision (the FPv5-D16 FPU has it): the sum of 1 / k^2 for k = 1..1000.
    double sum = 0.0;
    const double ds = static_cast<double>(s) * 2.0;
    for (int k = 1; k <= 1000; ++k) sum += ds / (static_cast<double>(k) * static_cast<double>(k));
    device::line() << "basel = " << sum;
    return 0;
}
