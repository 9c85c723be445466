// The binary elementwise operations with broadcasting (add, sub, mul, div, pow of two tensors,
// where): each forward with its derivative beside it. A gradient of the broadcast shape is summed
// back to each input's shape (sum_to); inputs of equal shape take a plain loop.
#include <cmath>

#include "broadcast.hpp"
#include "katachi/eager/functional/arithmetic.hpp"
#include "katachi/kernels/add.hpp"
#include "katachi/kernels/pointwise.hpp"

namespace katachi::eager {

namespace {

using detail::kv;
using detail::sum_to;

// out[i] = f(a[i], b[i]) over the broadcast shape `out` (a and b contiguous).
template <class T, class F>
basic_tensor<T> map2(const sizes& out, const basic_tensor<T>& a, const basic_tensor<T>& b, F f) {
    basic_tensor<T> y = basic_tensor<T>::empty(out);
    const T* ap = a.data();
    const T* bp = b.data();
    T* yp = y.data();
    if (a.shape() == out && b.shape() == out) {
        const std::size_t n = y.numel();
        for (std::size_t i = 0; i < n; ++i) yp[i] = f(ap[i], bp[i]);
        return y;
    }
    detail::for_each_broadcast<2>(out, {detail::broadcast_strides(a.shape(), out), detail::broadcast_strides(b.shape(), out)},
                                  [&](std::size_t i, const std::array<std::size_t, 2>& at) { yp[i] = f(ap[at[0]], bp[at[1]]); });
    return y;
}

// out[i] = f(g[i], a[i], b[i]) with g of the broadcast shape; f may also take the output y.
template <class T, class F>
basic_tensor<T> map3(const basic_tensor<T>& g, const basic_tensor<T>& a, const basic_tensor<T>& b, F f) {
    const sizes& out = g.shape();
    basic_tensor<T> y = basic_tensor<T>::empty(out);
    const T* gp = g.data();
    const T* ap = a.data();
    const T* bp = b.data();
    T* yp = y.data();
    detail::for_each_broadcast<2>(out, {detail::broadcast_strides(a.shape(), out), detail::broadcast_strides(b.shape(), out)},
                                  [&](std::size_t i, const std::array<std::size_t, 2>& at) {
                                      yp[i] = f(gp[i], ap[at[0]], bp[at[1]], i);
                                  });
    return y;
}

template <class T>
basic_tensor<T> negated(const basic_tensor<T>& g) {
    basic_tensor<T> y = basic_tensor<T>::empty(g.shape());
    for (std::size_t i = 0; i < g.numel(); ++i) y.data()[i] = -g.data()[i];
    return y;
}

// What a binary node keeps: the input shapes (to sum the gradient back) and, when its backward
// reads them, the inputs and the output.
template <class T>
struct binary_node : node<T> {
    sizes a_shape, b_shape;
    basic_tensor<T> a, b, y;
    explicit binary_node(const char* name) : node<T>(name) {}
    void release_saved() override { a = b = y = {}; }
};

// ---- a + b, a - b: the gradient passes (negated for b of sub) ------------------------------------
template <class T>
struct add_node final : binary_node<T> {
    T sign;
    add_node(const char* name, T s) : binary_node<T>(name), sign(s) {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        if (this->needs_input_grad(0)) dx[0] = sum_to(dy, this->a_shape);
        if (this->needs_input_grad(1)) dx[1] = sum_to(sign < 0 ? negated(dy) : dy, this->b_shape);
    }
};

// ---- a * b: da = dy b, db = dy a -------------------------------------------------------------------
template <class T>
struct mul_node final : binary_node<T> {
    mul_node() : binary_node<T>("mul") {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        const auto times = [](T g, T v) { return g * v; };
        if (this->needs_input_grad(0)) dx[0] = sum_to(map2(dy.shape(), dy, this->b, times), this->a_shape);
        if (this->needs_input_grad(1)) dx[1] = sum_to(map2(dy.shape(), dy, this->a, times), this->b_shape);
    }
};

// ---- a / b: da = dy / b, db = -dy a / b^2 ------------------------------------------------------------
template <class T>
struct div_node final : binary_node<T> {
    div_node() : binary_node<T>("div") {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        if (this->needs_input_grad(0))
            dx[0] = sum_to(map2(dy.shape(), dy, this->b, [](T g, T v) { return g / v; }), this->a_shape);
        if (this->needs_input_grad(1))
            dx[1] = sum_to(map3(dy, this->a, this->b, [](T g, T u, T v, std::size_t) { return -g * u / (v * v); }),
                           this->b_shape);
    }
};

// ---- a^b: kernels/pointwise.hpp's derivatives in the base and in the exponent --------------------------
template <class T>
struct pow_node final : binary_node<T> {
    pow_node() : binary_node<T>("pow") {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        if (this->needs_input_grad(0))
            dx[0] = sum_to(map3(dy, this->a, this->b,
                                [](T g, T u, T v, std::size_t) { return kernels::detail::pow_grad_base(u, v, g); }),
                           this->a_shape);
        if (this->needs_input_grad(1)) {
            const T* yp = this->y.data();
            dx[1] = sum_to(map3(dy, this->a, this->b,
                                [yp](T g, T u, T v, std::size_t i) {
                                    return kernels::detail::pow_grad_exponent(u, v, yp[i], g);
                                }),
                           this->b_shape);
        }
    }
};

// ---- where(cond, a, b): the gradient goes to a where cond holds, to b elsewhere ----------------------
template <class T>
struct where_node final : binary_node<T> {
    basic_tensor<T> cond;  // broadcast to the output's shape
    where_node() : binary_node<T>("where") {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        const auto pick = [&](bool on_true) {
            basic_tensor<T> g = basic_tensor<T>::empty(dy.shape());
            const T* c = cond.data();
            for (std::size_t i = 0; i < g.numel(); ++i) g.data()[i] = (c[i] != T(0)) == on_true ? dy.data()[i] : T(0);
            return g;
        };
        if (this->needs_input_grad(1)) dx[1] = sum_to(pick(true), this->a_shape);
        if (this->needs_input_grad(2)) dx[2] = sum_to(pick(false), this->b_shape);
    }
    void release_saved() override { cond = {}; }
};

template <class Node, class T, class... Args>
Node* record_binary(basic_tensor<T>& y, const basic_tensor<T>& a, const basic_tensor<T>& b, Args&&... args) {
    Node* n = record<Node>(y, {&a, &b}, std::forward<Args>(args)...);
    if (n) {
        n->a_shape = a.shape();
        n->b_shape = b.shape();
    }
    return n;
}

}  // namespace

template <class T>
basic_tensor<T> add(const basic_tensor<T>& a_in, const basic_tensor<T>& b_in) {
    const sizes out = detail::broadcast_shape("add", a_in.shape(), b_in.shape());
    const basic_tensor<T> a = a_in.contiguous(), b = b_in.contiguous();
    basic_tensor<T> y;
    if (a.shape() == b.shape()) {
        y = basic_tensor<T>::empty(out);
        kernels::add_forward(kv(a), kv(b), kv(y));
    } else {
        y = map2(out, a, b, [](T u, T v) { return u + v; });
    }
    record_binary<add_node<T>>(y, a, b, "add", T(1));
    return y;
}

template <class T>
basic_tensor<T> sub(const basic_tensor<T>& a_in, const basic_tensor<T>& b_in) {
    const sizes out = detail::broadcast_shape("sub", a_in.shape(), b_in.shape());
    const basic_tensor<T> a = a_in.contiguous(), b = b_in.contiguous();
    basic_tensor<T> y = map2(out, a, b, [](T u, T v) { return u - v; });
    record_binary<add_node<T>>(y, a, b, "sub", T(-1));
    return y;
}

template <class T>
basic_tensor<T> mul(const basic_tensor<T>& a_in, const basic_tensor<T>& b_in) {
    const sizes out = detail::broadcast_shape("mul", a_in.shape(), b_in.shape());
    const basic_tensor<T> a = a_in.contiguous(), b = b_in.contiguous();
    basic_tensor<T> y = map2(out, a, b, [](T u, T v) { return u * v; });
    if (auto* n = record_binary<mul_node<T>>(y, a, b)) {
        if (n->needs_input_grad(1)) n->a = n->save(a);
        if (n->needs_input_grad(0)) n->b = n->save(b);
    }
    return y;
}

template <class T>
basic_tensor<T> div(const basic_tensor<T>& a_in, const basic_tensor<T>& b_in) {
    const sizes out = detail::broadcast_shape("div", a_in.shape(), b_in.shape());
    const basic_tensor<T> a = a_in.contiguous(), b = b_in.contiguous();
    basic_tensor<T> y = map2(out, a, b, [](T u, T v) { return u / v; });
    if (auto* n = record_binary<div_node<T>>(y, a, b)) {
        n->a = n->save(a);
        n->b = n->save(b);
    }
    return y;
}

template <class T>
basic_tensor<T> pow(const basic_tensor<T>& a_in, const basic_tensor<T>& b_in) {
    const sizes out = detail::broadcast_shape("pow", a_in.shape(), b_in.shape());
    const basic_tensor<T> a = a_in.contiguous(), b = b_in.contiguous();
    basic_tensor<T> y = map2(out, a, b, [](T u, T v) { return std::pow(u, v); });
    if (auto* n = record_binary<pow_node<T>>(y, a, b)) {
        n->a = n->save(a);
        n->b = n->save(b);
        if (n->needs_input_grad(1)) n->y = n->save(y);
    }
    return y;
}

template <class T>
basic_tensor<T> where(const basic_tensor<T>& cond_in, const basic_tensor<T>& a_in, const basic_tensor<T>& b_in) {
    const sizes out = detail::broadcast_shape(
        "where", detail::broadcast_shape("where", cond_in.shape(), a_in.shape()), b_in.shape());
    const basic_tensor<T> c = cond_in.contiguous().detach(), a = a_in.contiguous(), b = b_in.contiguous();
    basic_tensor<T> y = basic_tensor<T>::empty(out);
    const T* cp = c.data();
    const T* ap = a.data();
    const T* bp = b.data();
    T* yp = y.data();
    detail::for_each_broadcast<3>(
        out,
        {detail::broadcast_strides(c.shape(), out), detail::broadcast_strides(a.shape(), out),
         detail::broadcast_strides(b.shape(), out)},
        [&](std::size_t i, const std::array<std::size_t, 3>& at) { yp[i] = cp[at[0]] != T(0) ? ap[at[1]] : bp[at[2]]; });
    if (auto* n = record<where_node<T>>(y, {nullptr, &a, &b})) {
        n->a_shape = a.shape();
        n->b_shape = b.shape();
        n->cond = detail::broadcast_to(c, out);  // cond at the output's shape
    }
    return y;
}

#define KATACHI_BROADCAST_OPS(T)                                                                   \
    template basic_tensor<T> add(const basic_tensor<T>&, const basic_tensor<T>&);                  \
    template basic_tensor<T> sub(const basic_tensor<T>&, const basic_tensor<T>&);                  \
    template basic_tensor<T> mul(const basic_tensor<T>&, const basic_tensor<T>&);                  \
    template basic_tensor<T> div(const basic_tensor<T>&, const basic_tensor<T>&);                  \
    template basic_tensor<T> pow(const basic_tensor<T>&, const basic_tensor<T>&);                  \
    template basic_tensor<T> where(const basic_tensor<T>&, const basic_tensor<T>&, const basic_tensor<T>&);
KATACHI_BROADCAST_OPS(float)
KATACHI_BROADCAST_OPS(double)
#undef KATACHI_BROADCAST_OPS

}  // namespace katachi::eager
