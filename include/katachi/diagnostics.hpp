// katachi/diagnostics.hpp: the one place where a model that does not fit together becomes a
// compile error.
//
// A layer that cannot take its input says so by returning rejected<Layer, Got, Expected> from its
// shape rule; the graph then instantiates shape_error<Layer, Got, Expected>, whose static_assert
// holds a sentence that says what to do. Its arguments are the layer as the user wrote it, the
// shape it was given and what it expected, so the diagnostic's first lines read, with g++,
//
//   In instantiation of 'struct katachi::shape_error<katachi::graph::linear<10>,
//                        katachi::shape<64, 7, 7>, katachi::flat_shape>':
//   error: static assertion failed: linear<N> takes a flat shape<features>: insert flatten before it
//
// and with clang the failed requirement names the same three types. Graph structure mistakes
// (a duplicate node name, a node consuming a node that does not exist) go through name_error.
#pragma once

#include <cstddef>
#include <katachi/graph/fixed_string.hpp>
#include <katachi/ops/op.hpp>
#include <katachi/shape.hpp>

namespace katachi {

// What a layer expected of its input. Each prints as what it asks for.
struct flat_shape {};      // shape<features>: linear
struct sequence_shape {};  // shape<channels, length>: conv1d
struct image_shape {};     // shape<channels, height, width>: conv2d, pooling, batch_norm2d
struct channels_shape {};  // shape<channels> or shape<channels, length>: batch_norm1d
template <std::size_t H, std::size_t W = 1>
struct padded_input_at_least {};  // the dilated kernel span, per spatial dimension
template <std::size_t H, std::size_t W = 1>
struct pooling_padding_at_most {};  // half the pooling kernel, per spatial dimension
struct non_empty_output {};         // the arithmetic gave an output of size 0
template <class Shape>
struct same_shape_as {};  // add: the other operand's shape
template <class Shape>
struct same_spatial_size_as {};  // concat: the first input's shape
template <std::size_t Channels>
struct channel_count {};  // a layer built for a given channel count (e.g. groups)

// False for every argument list; the condition of every static_assert below, so that clang's
// "failed due to requirement" line names the layer and both shapes.
template <class Layer, class Got, class Expected>
inline constexpr bool layer_accepts = false;

template <class Layer, class Got, class Expected>
struct shape_error;

template <class Layer, class Got>
struct shape_error<Layer, Got, flat_shape> {
    static_assert(layer_accepts<Layer, Got, flat_shape>,
                  "linear<N> takes a flat shape<features>: insert flatten before it");
    static constexpr bool ok = false;
};

template <class Layer, class Got>
struct shape_error<Layer, Got, sequence_shape> {
    static_assert(
        layer_accepts<Layer, Got, sequence_shape>,
        "this 1-d layer takes shape<channels, length>: give it a rank-2 input, or use the 2-d layer");
    static constexpr bool ok = false;
};

template <class Layer, class Got>
struct shape_error<Layer, Got, image_shape> {
    static_assert(layer_accepts<Layer, Got, image_shape>,
                  "this 2-d layer takes shape<channels, height, width>: remove the flatten before it, or "
                  "use a layer for this rank");
    static constexpr bool ok = false;
};

template <class Layer, class Got>
struct shape_error<Layer, Got, channels_shape> {
    static_assert(
        layer_accepts<Layer, Got, channels_shape>,
        "batch_norm1d takes shape<features> or shape<channels, length>: use batch_norm2d for images");
    static constexpr bool ok = false;
};

template <class Layer, class Got, std::size_t H, std::size_t W>
struct shape_error<Layer, Got, padded_input_at_least<H, W>> {
    static_assert(layer_accepts<Layer, Got, padded_input_at_least<H, W>>,
                  "the kernel is larger than the padded input: use a smaller kernel or more padding, or "
                  "remove a pooling layer before it");
    static constexpr bool ok = false;
};

template <class Layer, class Got, std::size_t H, std::size_t W>
struct shape_error<Layer, Got, pooling_padding_at_most<H, W>> {
    static_assert(layer_accepts<Layer, Got, pooling_padding_at_most<H, W>>,
                  "pooling padding must be at most half the kernel size: reduce the padding");
    static constexpr bool ok = false;
};

template <class Layer, class Got>
struct shape_error<Layer, Got, non_empty_output> {
    static_assert(
        layer_accepts<Layer, Got, non_empty_output>,
        "this layer would produce an empty output: use a smaller kernel or stride, or a larger input");
    static constexpr bool ok = false;
};

template <class Layer, class Got, class Other>
struct shape_error<Layer, Got, same_shape_as<Other>> {
    static_assert(layer_accepts<Layer, Got, same_shape_as<Other>>,
                  "add takes inputs of one shape: make both branches end in the same shape (a 1x1 conv2d "
                  "with a stride can match a shortcut)");
    static constexpr bool ok = false;
};

template <class Layer, class Got, class Other>
struct shape_error<Layer, Got, same_spatial_size_as<Other>> {
    static_assert(layer_accepts<Layer, Got, same_spatial_size_as<Other>>,
                  "concat joins along channels: every input needs the same rank and the same sizes after "
                  "the channels; pool or pad the larger one");
    static constexpr bool ok = false;
};

template <class Layer, class Got, std::size_t C>
struct shape_error<Layer, Got, channel_count<C>> {
    static_assert(layer_accepts<Layer, Got, channel_count<C>>,
                  "the channel counts do not divide by groups: choose groups dividing both channel counts");
    static constexpr bool ok = false;
};

// A layer's shape rule returns this instead of an output shape; naming it does not fire the error.
template <class Layer, class Got, class Expected>
struct rejected {
    using diagnostic = shape_error<Layer, Got, Expected>;
};

template <class T>
inline constexpr bool is_rejected_v = false;
template <class Layer, class Got, class Expected>
inline constexpr bool is_rejected_v<rejected<Layer, Got, Expected>> = true;

// ---------------------------------------------------------------------------------------------
// A layer defined by an op (katachi/ops/) refuses its input with its shape rule's own sentence,
// the one the eager face throws: refused<Layer, Got, Why>. The graph puts the node's name and the
// layer before it and stops at model_error, a template that is declared and never defined, so that
// g++'s first error line is the whole sentence:
//
//   error: invalid application of 'sizeof' to incomplete type 'katachi::model_error<
//     katachi::graph::fixed_string<97>{"node \"4\", linear<10>: takes a flat per-sample shape
//     [features], got [64, 7, 7]: insert flatten before it"}, katachi::graph::linear<10>,
//     katachi::shape<64, 7, 7> >'
//
// clang 14 prints the fixed_string as character codes; the layer and the shape after it read.
// ---------------------------------------------------------------------------------------------
template <class Layer, class Got, ops::text Why>
struct refused {};

template <class T>
inline constexpr bool is_refused_v = false;
template <class Layer, class Got, ops::text Why>
inline constexpr bool is_refused_v<refused<Layer, Got, Why>> = true;

template <graph::fixed_string Sentence, class Layer, class Got>
struct model_error;  // never defined: naming its size is the error

// `node "<name>", <layer>: <why>` as a fixed_string of its exact length.
template <graph::fixed_string Node, ops::text Layer, ops::text Why>
constexpr auto node_sentence() {
    constexpr ops::text t = [] {
        ops::text s;
        s << "node \"" << Node.view() << "\", " << Layer << ": " << Why;
        return s;
    }();
    graph::fixed_string<t.length + 1> out;
    for (std::size_t i = 0; i < t.length; ++i) out.text[i] = t.chars[i];
    return out;
}

// Graph structure mistakes, named by the node that makes them.
struct duplicate_node_name {};  // a second node with this name
template <graph::fixed_string Missing>
struct consumes_unknown_node {};  // this node consumes `Missing`, which is not declared before it

template <graph::fixed_string Node, class Mistake>
inline constexpr bool node_accepted = false;

template <graph::fixed_string Node, class Mistake>
struct name_error;

template <graph::fixed_string Node>
struct name_error<Node, duplicate_node_name> {
    static_assert(node_accepted<Node, duplicate_node_name>,
                  "two nodes share this name: give every node of a graph its own name");
    static constexpr bool ok = false;
};

template <graph::fixed_string Node, graph::fixed_string Missing>
struct name_error<Node, consumes_unknown_node<Missing>> {
    static_assert(
        node_accepted<Node, consumes_unknown_node<Missing>>,
        "this node consumes a node that does not exist: name \"input\" or a node declared before it");
    static constexpr bool ok = false;
};

// A memory budget a model does not fit in, named by what it needs and what it was given (bytes):
//
//   static_assert(katachi::graph::fits_budget<flash_model<net>, 32 * 1024>());
//   error: static assertion failed: the model's activation arena does not fit the memory budget ...
//   In instantiation of 'struct katachi::memory_budget_error<katachi::arena_bytes<61440>,
//                        katachi::budget_bytes<32768>>'
template <std::size_t Bytes>
struct arena_bytes {};
template <std::size_t Bytes>
struct budget_bytes {};

template <class Needed, class Budget>
inline constexpr bool budget_accepts = false;

template <class Needed, class Budget>
struct memory_budget_error {
    static_assert(budget_accepts<Needed, Budget>,
                  "the model's activation arena does not fit the memory budget: lower MaxBatch, shrink the "
                  "layers, or raise the budget");
    static constexpr bool ok = false;
};

// The verdict on a whole graph: no_error, or the first mistake found.
struct no_error {
    static constexpr bool ok = true;
};

}  // namespace katachi
