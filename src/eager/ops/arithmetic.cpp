// Arithmetic with a number, negation, the whole-tensor sum and mean, and matmul: each forward with
// its derivative beside it. The binary operations of two tensors broadcast (broadcast.cpp); the
// maps of one element are ops (pointwise.cpp).
#include "katachi/eager/functional/arithmetic.hpp"

#include <cmath>

#include "../support.hpp"
#include "katachi/kernels/gemm.hpp"

namespace katachi::eager {

namespace {

using detail::kv;

template <class T, class F>
basic_tensor<T> map1(const basic_tensor<T>& a, F f) {
    basic_tensor<T> y = basic_tensor<T>::empty(a.shape());
    const T* ap = a.data();
    T* yp = y.data();
    const std::size_t n = a.numel();
    for (std::size_t i = 0; i < n; ++i) yp[i] = f(ap[i]);
    return y;
}

template <class T, class F>
basic_tensor<T> map2(const char* op, const basic_tensor<T>& a, const basic_tensor<T>& b, F f) {
    detail::require_same_shape(op, a.shape(), b.shape());
    basic_tensor<T> y = basic_tensor<T>::empty(a.shape());
    const T* ap = a.data();
    const T* bp = b.data();
    T* yp = y.data();
    const std::size_t n = a.numel();
    for (std::size_t i = 0; i < n; ++i) yp[i] = f(ap[i], bp[i]);
    return y;
}

// ---- -a ------------------------------------------------------------------------------------------
template <class T>
struct neg_node final : node<T> {
    neg_node() : node<T>("neg") {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        dx[0] = map1(dy, [](T g) { return -g; });
    }
};

// ---- a * s, s - a, s / a, a + s --------------------------------------------------------------------
template <class T>
struct scale_node final : node<T> {
    T factor;
    scale_node(const char* name, T f) : node<T>(name), factor(f) {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        if (factor == T(1))
            dx[0] = dy;
        else
            dx[0] = map1(dy, [f = factor](T g) { return g * f; });
    }
};

// d(s / a) = -s / a^2 = -y / a
template <class T>
struct rdiv_node final : node<T> {
    basic_tensor<T> a, y;
    rdiv_node() : node<T>("rdiv") {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        basic_tensor<T> q = map2("rdiv", y, a, [](T u, T v) { return u / v; });
        dx[0] = map2("rdiv", dy, q, [](T g, T v) { return -g * v; });
    }
    void release_saved() override { a = y = {}; }
};

// ---- sum and mean: the gradient spreads evenly over the input's shape ------------------------------
template <class T>
struct spread_node final : node<T> {
    sizes input_shape;
    T factor;
    spread_node(const char* name, const sizes& s, T f) : node<T>(name), input_shape(s), factor(f) {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        dx[0] = basic_tensor<T>::full(input_shape, dy.item() * factor);
    }
};

// ---- matmul: da = dy b^T, db = a^T dy --------------------------------------------------------------
template <class T>
struct matmul_node final : node<T> {
    basic_tensor<T> a, b;
    matmul_node() : node<T>("matmul") {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        const std::size_t m = a.size(0), k = a.size(1), n = b.size(1);
        if (this->needs_input_grad(0)) {
            dx[0] = basic_tensor<T>::empty(a.shape());
            kernels::detail::gemm(false, true, m, k, n, T(1), dy.data(), b.data(), T(0), dx[0].data());
        }
        if (this->needs_input_grad(1)) {
            dx[1] = basic_tensor<T>::empty(b.shape());
            kernels::detail::gemm(true, false, k, n, m, T(1), a.data(), dy.data(), T(0), dx[1].data());
        }
    }
    void release_saved() override { a = b = {}; }
};

}  // namespace

template <class T>
basic_tensor<T> neg(const basic_tensor<T>& a_in) {
    const basic_tensor<T> a = a_in.contiguous();
    basic_tensor<T> y = map1(a, [](T v) { return -v; });
    record<neg_node<T>>(y, {&a});
    return y;
}

template <class T>
basic_tensor<T> add(const basic_tensor<T>& a_in, scalar_of<T> s) {
    const basic_tensor<T> a = a_in.contiguous();
    basic_tensor<T> y = map1(a, [s](T v) { return v + s; });
    record<scale_node<T>>(y, {&a}, "add", T(1));
    return y;
}

template <class T>
basic_tensor<T> mul(const basic_tensor<T>& a_in, scalar_of<T> s) {
    const basic_tensor<T> a = a_in.contiguous();
    basic_tensor<T> y = map1(a, [s](T v) { return v * s; });
    record<scale_node<T>>(y, {&a}, "mul", s);
    return y;
}

template <class T>
basic_tensor<T> rsub(const basic_tensor<T>& a_in, scalar_of<T> s) {
    const basic_tensor<T> a = a_in.contiguous();
    basic_tensor<T> y = map1(a, [s](T v) { return s - v; });
    record<scale_node<T>>(y, {&a}, "rsub", T(-1));
    return y;
}

template <class T>
basic_tensor<T> rdiv(const basic_tensor<T>& a_in, scalar_of<T> s) {
    const basic_tensor<T> a = a_in.contiguous();
    basic_tensor<T> y = map1(a, [s](T v) { return s / v; });
    if (auto* n = record<rdiv_node<T>>(y, {&a})) {
        n->a = n->save(a);
        n->y = n->save(y);
    }
    return y;
}

template <class T>
basic_tensor<T> sum(const basic_tensor<T>& a_in) {
    const basic_tensor<T> a = a_in.contiguous();
    double total = 0;
    const T* p = a.data();
    for (std::size_t i = 0; i < a.numel(); ++i) total += p[i];
    basic_tensor<T> y = basic_tensor<T>::scalar(static_cast<T>(total));
    record<spread_node<T>>(y, {&a}, "sum", a.shape(), T(1));
    return y;
}

template <class T>
basic_tensor<T> mean(const basic_tensor<T>& a_in) {
    const basic_tensor<T> a = a_in.contiguous();
    double total = 0;
    const T* p = a.data();
    const std::size_t n = a.numel();
    for (std::size_t i = 0; i < n; ++i) total += p[i];
    basic_tensor<T> y = basic_tensor<T>::scalar(static_cast<T>(total / static_cast<double>(n)));
    record<spread_node<T>>(y, {&a}, "mean", a.shape(), static_cast<T>(1.0 / static_cast<double>(n)));
    return y;
}

template <class T>
basic_tensor<T> matmul(const basic_tensor<T>& a_in, const basic_tensor<T>& b_in) {
    if (a_in.dim() != 2 || b_in.dim() != 2 || a_in.size(1) != b_in.size(0))
        throw shape_mismatch(detail::shapes_text("matmul", a_in.shape(), b_in.shape(),
                                                 "cannot be multiplied; expected [m, k] and [k, n]"));
    const basic_tensor<T> a = a_in.contiguous(), b = b_in.contiguous();
    const std::size_t m = a.size(0), k = a.size(1), n = b.size(1);
    basic_tensor<T> y = basic_tensor<T>::empty({m, n});
    kernels::detail::gemm(false, false, m, n, k, T(1), a.data(), b.data(), T(0), y.data());
    if (auto* node = record<matmul_node<T>>(y, {&a, &b})) {
        node->a = node->save(a);
        node->b = node->save(b);
    }
    return y;
}

template basic_tensor<float> neg(const basic_tensor<float>&);
template basic_tensor<double> neg(const basic_tensor<double>&);
template basic_tensor<float> add(const basic_tensor<float>&, float);
template basic_tensor<double> add(const basic_tensor<double>&, double);
template basic_tensor<float> mul(const basic_tensor<float>&, float);
template basic_tensor<double> mul(const basic_tensor<double>&, double);
template basic_tensor<float> rsub(const basic_tensor<float>&, float);
template basic_tensor<double> rsub(const basic_tensor<double>&, double);
template basic_tensor<float> rdiv(const basic_tensor<float>&, float);
template basic_tensor<double> rdiv(const basic_tensor<double>&, double);
template basic_tensor<float> sum(const basic_tensor<float>&);
template basic_tensor<double> sum(const basic_tensor<double>&);
template basic_tensor<float> mean(const basic_tensor<float>&);
template basic_tensor<double> mean(const basic_tensor<double>&);
template basic_tensor<float> matmul(const basic_tensor<float>&, const basic_tensor<float>&);
template basic_tensor<double> matmul(const basic_tensor<double>&, const basic_tensor<double>&);

}  // namespace katachi::eager
