// katachi/graph/layers/batch_norm.hpp: batch_norm1d on shape<C> or shape<C, L>, batch_norm2d on
// shape<C, H, W>; normalised per channel C.
//
// PyTorch's defaults: weight 1, bias 0, running_mean 0, running_var 1, momentum 0.1, eps 1e-5. In
// training the forward uses the batch statistics, moves the running ones and counts the batch
// (num_batches_tracked); in evaluation it uses the running statistics.
#pragma once

#include <algorithm>
#include <katachi/graph/layer.hpp>
#include <katachi/kernels/batch_norm.hpp>

namespace katachi::graph {

template <bool Image>
struct basic_batch_norm {
    static std::string name() { return Image ? "batch_norm2d" : "batch_norm1d"; }

    template <class In>
    static constexpr auto infer(In) {
        if constexpr (Image && In::rank != 3)
            return rejected<basic_batch_norm, In, image_shape>{};
        else if constexpr (!Image && In::rank != 1 && In::rank != 2)
            return rejected<basic_batch_norm, In, channels_shape>{};
        else
            return In{};
    }

    template <class In>
    struct bind : bind_defaults {
        static constexpr std::size_t channels = In::dims[0];
        using output_shape = In;
        static constexpr std::array<tensor_spec, 2> parameters{tensor_spec{"weight", 1, {channels}},
                                                               tensor_spec{"bias", 1, {channels}}};
        static constexpr std::array<tensor_spec, 2> buffers{tensor_spec{"running_mean", 1, {channels}},
                                                            tensor_spec{"running_var", 1, {channels}}};
        static constexpr bool tracks_batches = true;
        // save_mean and save_invstd of the training forward.
        static constexpr std::size_t saved_size(std::size_t) { return 2 * channels; }

        template <class T>
        static void reset(T* p, T* b, generator&) {
            std::fill(p, p + channels, T(1));
            std::fill(p + channels, p + 2 * channels, T(0));
            std::fill(b, b + channels, T(0));
            std::fill(b + channels, b + 2 * channels, T(1));
        }

        template <class T>
        static auto vec(T* p, std::size_t k) {
            return fixed_view(p + k * channels, std::array{channels});
        }

        template <class T>
        static void forward(const layer_args<T>& a) {
            const auto x = batch_view<In>(a.x[0], a.batch);
            auto y = batch_view<In>(a.y, a.batch);
            if (a.training) {
                kernels::batch_norm_forward_train(x, vec(a.params, 0), vec(a.params, 1), vec(a.buffers, 0),
                                                  vec(a.buffers, 1), y, vec(a.saved, 0), vec(a.saved, 1));
                if (a.batches_tracked) ++*a.batches_tracked;
            } else {
                kernels::batch_norm_forward_eval(x, vec(a.params, 0), vec(a.params, 1), vec(a.buffers, 0),
                                                 vec(a.buffers, 1), y);
            }
        }

        template <class T>
        static void backward(const layer_args<T>& a) {
            const auto x = batch_view<In>(a.x[0], a.batch);
            const auto dy = batch_view<In>(a.dy, a.batch);
            const auto run = [&](auto&& dx, auto&& dw, auto&& db, kernels::write mode) {
                if (a.training)
                    kernels::batch_norm_backward_train(x, vec(a.params, 0), vec(a.saved, 0), vec(a.saved, 1),
                                                       dy, dx, dw, db, mode);
                else
                    kernels::batch_norm_backward_eval(x, vec(a.params, 0), vec(a.buffers, 0),
                                                      vec(a.buffers, 1), dy, dx, dw, db, {}, mode);
            };
            if (a.dparams) run(kernels::none, vec(a.dparams, 0), vec(a.dparams, 1), a.dparams_mode);
            if (a.dx[0]) run(batch_view<In>(a.dx[0], a.batch), kernels::none, kernels::none, a.dx_mode[0]);
        }
    };
};

using batch_norm1d = basic_batch_norm<false>;
using batch_norm2d = basic_batch_norm<true>;

}  // namespace katachi::graph
