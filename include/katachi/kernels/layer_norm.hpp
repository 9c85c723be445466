// katachi/kernels/layer_norm.hpp: normalisation over the last dimensions (layer norm), on pointers.
//
// x is `rows` runs of `len` contiguous values; each run is normalised by its own mean and biased
// variance, then scaled and shifted element by element:
//   y[r, j] = (x[r, j] - mean_r) invstd_r gamma[j] + beta[j],   invstd_r = 1 / sqrt(var_r + eps)
// gamma and beta may be null (1 and 0). mean and invstd ([rows]) are kept for the backward:
//   xhat = (x - mean) invstd,  g = dy gamma
//   dx = invstd (g - mean_j(g) - xhat mean_j(g xhat)),  dgamma[j] = sum_r dy xhat,  dbeta[j] = sum_r dy
// Sums are taken in double.
#pragma once

#include <cmath>
#include <cstddef>
#include <katachi/kernels/common.hpp>

namespace katachi::kernels {

template <class T>
void layer_norm_forward(const T* x, T* y, std::size_t rows, std::size_t len, double eps, const T* gamma,
                        const T* beta, T* mean, T* invstd) {
    for (std::size_t r = 0; r < rows; ++r) {
        const T* xr = x + r * len;
        T* yr = y + r * len;
        double sum = 0;
        for (std::size_t j = 0; j < len; ++j) sum += xr[j];
        const double mu = sum / static_cast<double>(len);
        double squares = 0;
        for (std::size_t j = 0; j < len; ++j) {
            const double d = xr[j] - mu;
            squares += d * d;
        }
        const double is = 1.0 / std::sqrt(squares / static_cast<double>(len) + eps);
        for (std::size_t j = 0; j < len; ++j) {
            const double h = (xr[j] - mu) * is;
            yr[j] = static_cast<T>(h * (gamma ? static_cast<double>(gamma[j]) : 1.0) +
                                   (beta ? static_cast<double>(beta[j]) : 0.0));
        }
        if (mean) mean[r] = static_cast<T>(mu);
        if (invstd) invstd[r] = static_cast<T>(is);
    }
}

// Each of dx, dgamma and dbeta may be null (not wanted).
template <class T>
void layer_norm_backward(const T* x, const T* gamma, const T* mean, const T* invstd, const T* dy,
                         std::size_t rows, std::size_t len, T* dx, write dx_mode, T* dgamma, T* dbeta,
                         write dparams_mode) {
    if (dgamma && dparams_mode == write::overwrite)
        for (std::size_t j = 0; j < len; ++j) dgamma[j] = T(0);
    if (dbeta && dparams_mode == write::overwrite)
        for (std::size_t j = 0; j < len; ++j) dbeta[j] = T(0);
    const double n = static_cast<double>(len);
    for (std::size_t r = 0; r < rows; ++r) {
        const T* xr = x + r * len;
        const T* gr = dy + r * len;
        const double mu = mean[r], is = invstd[r];
        if (dx) {
            double sum_g = 0, sum_gx = 0;
            for (std::size_t j = 0; j < len; ++j) {
                const double g = gr[j] * (gamma ? static_cast<double>(gamma[j]) : 1.0);
                sum_g += g;
                sum_gx += g * (xr[j] - mu) * is;
            }
            T* dr = dx + r * len;
            for (std::size_t j = 0; j < len; ++j) {
                const double g = gr[j] * (gamma ? static_cast<double>(gamma[j]) : 1.0);
                const double h = (xr[j] - mu) * is;
                detail::store(dr, j, static_cast<T>(is * (g - sum_g / n - h * sum_gx / n)), dx_mode);
            }
        }
        for (std::size_t j = 0; j < len; ++j) {
            if (dgamma) dgamma[j] += static_cast<T>(gr[j] * (xr[j] - mu) * is);
            if (dbeta) dbeta[j] += gr[j];
        }
    }
}

}  // namespace katachi::kernels
