// katachi/kernels/conv_scratch.hpp: the scratch a convolution's parts use on other threads, and how
// a model reserves it before it runs.
//
// A convolution split over threads (conv2d.hpp's im2col path, winograd.hpp) runs part 0 in the
// caller's workspace and every other part in scratch of the same layout owned by the thread that
// runs it (conv_part_scratch_tag); a weight gradient's parts 1.. sum into blocks of their own on the
// caller (conv_partials_tag) that are added at the end. Both are thread_scratch buffers
// (katachi/parallel.hpp): grown when too small, then kept. reserve_conv_scratch grows them ahead, so
// the forward or training step that follows allocates nothing.
#pragma once

#include <cstddef>
#include <katachi/parallel.hpp>

namespace katachi::kernels::detail {

struct conv_part_scratch_tag {};
struct conv_partials_tag {};

// For a convolution whose caller workspace holds `workspace` elements (the graph face's bound for
// the layer and batch) and whose weight and bias hold `params` elements. A part's scratch has the
// caller workspace's layout, so `workspace` bounds it. A weight gradient's partial block is the
// weight and bias gradient, [out_channels, patch + 1] on the im2col path or 16 transformed kernels
// [16, out_channels, channels] plus the bias on Winograd's (16/9 of a 3x3 weight): both under
// 2 * params. With `weight_grads` false (inference) no partial blocks are needed.
template <class T>
void reserve_conv_scratch(std::size_t workspace, std::size_t params, bool weight_grads) {
#if KATACHI_THREADS
    if (workspace == 0) return;
    const unsigned parts = katachi::detail::most_parts();
    katachi::detail::reserve_thread_scratch<T, conv_part_scratch_tag>(workspace);
    if (weight_grads) katachi::detail::reserve_thread_scratch<T, conv_partials_tag>((parts - 1) * 2 * params);
#else
    (void)workspace, (void)params, (void)weight_grads;  // one thread: parts never leave the caller's workspace
#endif
}

}  // namespace katachi::kernels::detail
