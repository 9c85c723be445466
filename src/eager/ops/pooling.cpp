// max_pool2d, avg_pool2d, adaptive_avg_pool2d: the kernels' forwards with nodes that call their
// backwards.
#include <memory>

#include "../support.hpp"
#include "katachi/eager/functional/layers.hpp"
#include "katachi/kernels/adaptive_avg_pool2d.hpp"
#include "katachi/kernels/avg_pool2d.hpp"
#include "katachi/kernels/max_pool2d.hpp"

namespace katachi::eager {

namespace {

using detail::kv;

// Saves where each maximum came from; the backward scatters the gradient back there.
template <class T>
struct max_pool2d_node final : node<T> {
    sizes input_shape, output_shape;
    std::unique_ptr<std::int64_t[]> indices;
    max_pool2d_node() : node<T>("max_pool2d") {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        dx[0] = basic_tensor<T>::empty(input_shape);
        const detail::index_view idx{indices.get(), output_shape};
        kernels::max_pool2d_backward(kv(dy), idx, kv(dx[0]));
    }
    void release_saved() override { indices.reset(); }
};

template <class T>
struct avg_pool2d_node final : node<T> {
    sizes input_shape;
    kernels::avg_pool2d_options options;
    avg_pool2d_node(const sizes& s, const kernels::avg_pool2d_options& o)
        : node<T>("avg_pool2d"), input_shape(s), options(o) {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        dx[0] = basic_tensor<T>::empty(input_shape);
        kernels::avg_pool2d_backward(kv(dy), kv(dx[0]), options);
    }
};

template <class T>
struct adaptive_avg_pool2d_node final : node<T> {
    sizes input_shape;
    explicit adaptive_avg_pool2d_node(const sizes& s) : node<T>("adaptive_avg_pool2d"), input_shape(s) {}
    void backward(const basic_tensor<T>& dy, std::span<basic_tensor<T>> dx) override {
        dx[0] = basic_tensor<T>::empty(input_shape);
        kernels::adaptive_avg_pool2d_backward(kv(dy), kv(dx[0]));
    }
};

}  // namespace

template <class T>
basic_tensor<T> max_pool2d(const basic_tensor<T>& x_in, const kernels::max_pool2d_options& o) {
    const basic_tensor<T> x = x_in.contiguous();
    const sizes out(kernels::max_pool2d_output_shape(x.shape(), o));
    basic_tensor<T> y = basic_tensor<T>::empty(out);
    if (should_record<T>({&x})) {
        auto indices = std::make_unique_for_overwrite<std::int64_t[]>(out.numel());
        detail::kernel_view<std::int64_t> idx{indices.get(), &out};
        kernels::max_pool2d_forward(kv(x), kv(y), idx, o);
        auto* n = record<max_pool2d_node<T>>(y, {&x});
        n->input_shape = x.shape();
        n->output_shape = out;
        n->indices = std::move(indices);
    } else {
        kernels::max_pool2d_forward(kv(x), kv(y), kernels::none, o);  // no backward: no indices
    }
    return y;
}

template <class T>
basic_tensor<T> avg_pool2d(const basic_tensor<T>& x_in, const kernels::avg_pool2d_options& o) {
    const basic_tensor<T> x = x_in.contiguous();
    basic_tensor<T> y = basic_tensor<T>::empty(sizes(kernels::avg_pool2d_output_shape(x.shape(), o)));
    kernels::avg_pool2d_forward(kv(x), kv(y), o);
    record<avg_pool2d_node<T>>(y, {&x}, x.shape(), o);
    return y;
}

template <class T>
basic_tensor<T> adaptive_avg_pool2d(const basic_tensor<T>& x_in, std::array<std::size_t, 2> size) {
    const basic_tensor<T> x = x_in.contiguous();
    if (x.dim() != 4)
        throw shape_mismatch("adaptive_avg_pool2d: the input has shape " + x.shape().str() +
                             ", expected rank 4 [N, C, H, W]");
    basic_tensor<T> y = basic_tensor<T>::empty({x.size(0), x.size(1), size[0], size[1]});
    kernels::adaptive_avg_pool2d_forward(kv(x), kv(y));
    record<adaptive_avg_pool2d_node<T>>(y, {&x}, x.shape());
    return y;
}

template basic_tensor<float> max_pool2d(const basic_tensor<float>&, const kernels::max_pool2d_options&);
template basic_tensor<double> max_pool2d(const basic_tensor<double>&, const kernels::max_pool2d_options&);
template basic_tensor<float> avg_pool2d(const basic_tensor<float>&, const kernels::avg_pool2d_options&);
template basic_tensor<double> avg_pool2d(const basic_tensor<double>&, const kernels::avg_pool2d_options&);
template basic_tensor<float> adaptive_avg_pool2d(const basic_tensor<float>&, std::array<std::size_t, 2>);
template basic_tensor<double> adaptive_avg_pool2d(const basic_tensor<double>&, std::array<std::size_t, 2>);

}  // namespace katachi::eager
