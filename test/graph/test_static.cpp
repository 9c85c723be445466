// Suite `graph`, static tier: shapes, counts and sizes the compiler deduces. Compiling is passing.
#include <catch2/catch.hpp>

#include "graph/models.hpp"

namespace {

using namespace katachi::test::models;
using katachi::shape;

// LeNet: 3136 in_features deduced after conv, pool, conv, pool, flatten. Its nodes as the model
// runs them: input, conv and conv (each with the relu and the pooling after it taken in), flatten,
// linear, relu, linear.
static_assert(lenet::input_shape{} == shape<1, 28, 28>{});
static_assert(lenet::output_shape{} == shape<10>{});
static_assert(lenet::node_count == 7);
static_assert(lenet::node_at<1>::output_shape{} == shape<32, 14, 14>{});
static_assert(lenet::node_at<2>::output_shape{} == shape<64, 7, 7>{});
static_assert(lenet::node_at<3>::output_shape{} == shape<3136>{});
static_assert(lenet::parameter_count == 421'642);
static_assert(lenet::parameter_bytes<float> == 421'642 * 4);
static_assert(lenet::parameter_bytes<double> == 421'642 * 8);
// conv 25088, relu 25088, pool 6272, conv 12544, relu 12544, pool 3136, flatten 3136, 128, 128, 10.
// Every output but the convolutions' and the relus', which the convolutions' nodes take in: none
// of the four is ever written.
static_assert(lenet::activation_count_per_sample == 6272 + 3136 * 2 + 128 * 2 + 10);
static_assert(lenet::activation_bytes_per_sample<float> == 4 * lenet::activation_count_per_sample);

// Inserting a layer changes no other line: one more conv keeps linear's in_features deduced.
using lenet_deeper = sequential<input<1, 28, 28>, conv2d<32, 3, padding<1>>, relu, conv2d<32, 3, padding<1>>,
                                relu, max_pool2d<2>, conv2d<64, 3, padding<1>>, relu, max_pool2d<2>, flatten,
                                linear<128>, relu, linear<10>>;
static_assert(lenet_deeper::parameter_count == lenet::parameter_count + 32 * 32 * 9 + 32);

static_assert(mlp::parameter_count == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
static_assert(tiny_mlp::parameter_count == 4 * 16 + 16 + 16 * 3 + 3);
static_assert(tiny_mlp::output_shape{} == shape<3>{});

// Strided conv on an odd input: 17x15 -> 9x8 (stride 2, padding 1), avg pool -> 4x4, 96 features.
static_assert(strided::node_at<1>::output_shape{} == shape<6, 9, 8>{});
static_assert(strided::node_at<3>::output_shape{} == shape<6, 4, 4>{});
static_assert(strided::node_at<5>::output_shape{} == shape<4>{});
static_assert(strided::parameter_count == 6 * 3 * 9 + 6 + 96 * 4 + 4);

// Batch norm: two parameters and two buffers per channel, and a batch counter.
static_assert(mlp_bn::parameter_count == 20 * 32 + 32 + 2 * 32 + 32 * 5 + 5);
static_assert(mlp_bn::buffer_count == 2 * 32);
static_assert(mlp_bn::counter_count == 1);

// The residual block: the add sees two shape<8, 9, 7>; the input has two consumers.
static_assert(resblock::node_at<6>::output_shape{} == shape<8, 9, 7>{});
static_assert(resblock::output_shape{} == shape<3>{});
static_assert(resblock::parameter_count == 2 * (8 * 8 * 9) + 2 * (8 + 8) + 8 * 3 + 3);
static_assert(resblock::buffer_count == 2 * 16 && resblock::counter_count == 2);
static_assert(resblock::inputs[6][0] == 5 && resblock::inputs[6][1] == 0);
// Backward writes the input's gradient first from the add (its later consumer), then adds conv1's.
static_assert(!resblock::accumulates[6][1] && resblock::accumulates[1][0]);

// Other layers' shape rules.
using more = sequential<input<3, 16, 16>, conv_transpose2d<4, 3, stride<2>, padding<1>, output_padding<1>>,
                        leaky_relu<>, max_pool2d<3, stride<2>, padding<1>>, dropout<1, 4>, gelu, flatten>;
static_assert(more::node_at<1>::output_shape{} == shape<4, 32, 32>{});
static_assert(more::node_at<3>::output_shape{} == shape<4, 16, 16>{});
static_assert(more::output_shape{} == shape<1024>{});
static_assert(more::parameter_count == 3 * 4 * 9 + 4);
using seq1d = sequential<input<2, 50>, conv1d<4, 5, stride<2>>, batch_norm1d, relu, flatten, linear<3>>;
static_assert(seq1d::node_at<1>::output_shape{} == shape<4, 23>{});
static_assert(seq1d::parameter_count == 4 * 2 * 5 + 4 + 8 + 4 * 23 * 3 + 3);
using joined = dag<input<3, 8, 8>, node<"a", conv2d<4, 1>>,
                   node<"b", conv2d<5, 3, padding<1>>, from<"input">>, node<"cat", concat, from<"a", "b">>>;
static_assert(joined::output_shape{} == shape<9, 8, 8>{});

// A block placed twice: its nodes are renamed per placement and "input" is what the block consumes.
using resnet = small_resnet<8, 16, 16>;
static_assert(resnet::output_shape{} == shape<10>{});
static_assert(resnet::node_at<2>::name.view() == "layer1.conv1");
static_assert(resnet::node_at<9>::name.view() == "layer1");
static_assert(resnet::node_at<10>::name.view() == "layer2.conv1");
static_assert(resnet::inputs[2][0] == 1);                                  // layer1.conv1 <- stem
static_assert(resnet::inputs[7][0] == 6 && resnet::inputs[7][1] == 1);     // layer1.sum <- bn2, stem
static_assert(resnet::inputs[15][0] == 14 && resnet::inputs[15][1] == 9);  // layer2.sum <- bn2, layer1
static_assert(resnet::parameter_count == (3 * 8 * 9 + 8) + 2 * (2 * 8 * 8 * 9 + 2 * 16) + 8 * 10 + 10);

// Inference arena, planned by liveness: a stack needs two neighbours at a time, not all outputs.
static_assert(tiny_mlp::arena_activation_count_per_sample == 16 + 16);
static_assert(tiny_mlp::inference_arena_bytes(1) <= 256);
static_assert(mlp::arena_activation_count_per_sample == 256 + 256);
// The second convolution's input and its pooled output (no convolution's own output is written).
static_assert(lenet::arena_activation_count_per_sample == 6272 + 3136);
// At batch 1 the arena is those two and the largest node's scratch: the second convolution's (too
// few tiles for Winograd, so its lowering's 75,140 floats and its output before the pooling).
static_assert(lenet::inference_arena_bytes(1) == (4 * (6272 + 3136 + 75'140 + 12'544) + 63) / 64 * 64);
static_assert(mlp::inference_arena_bytes(1) <= 64 * 1024);
// Both relus before max pooling are taken in by it (their two full-size passes do not run), and
// each convolution takes in that pooling: the first (one channel, 9 taps) on the direct pass, the
// second (32 channels, a 3x3 kernel and an even output) on Winograd's. Each keeps its name ("0",
// "3", so its parameters keep their state-dict keys) and writes the pooled output. The relu before
// a linear layer stays a node.
static_assert(katachi::graph::takes_in_pooling_v<lenet::node_at<1>::layer> &&
              katachi::graph::takes_in_pooling_v<lenet::node_at<2>::layer>);
static_assert(lenet::node_at<1>::name.view() == "0" && lenet::node_at<2>::name.view() == "3" &&
              lenet::node_at<3>::name.view() == "6");
static_assert(lenet::inputs[1][0] == 0 && lenet::inputs[2][0] == 1 && lenet::inputs[3][0] == 2);
static_assert(std::is_same_v<lenet::node_at<5>::layer, katachi::graph::relu>);
static_assert(lenet::last_use[1] == 2 && lenet::last_use[2] == 3);
// Max pooling keeps where each maximum came from for a backward in training only: as 2x2 poolings
// LeNet's keep one-byte window positions, 8 to an int64; inference needs no int64 at all.
static_assert(lenet::index_count(1) == (32 * 14 * 14 + 7) / 8 + (64 * 7 * 7 + 7) / 8);
static_assert(lenet::index_count(3) == (3 * 32 * 14 * 14 + 7) / 8 + (3 * 64 * 7 * 7 + 7) / 8);
// A 5x5 convolution on 1 channel (25 taps) with an odd output (the pooling drops the last row and
// column) is taken in; one with stride 2, a 5x5 one on 4 channels (100 taps, not Winograd's) and
// one whose output is read twice stay.
using five_by_five = sequential<input<1, 12, 11>, conv2d<4, 5>, relu, max_pool2d<2>, flatten, linear<3>>;
static_assert(katachi::graph::takes_in_pooling_v<five_by_five::node_at<1>::layer>);
static_assert(five_by_five::node_at<1>::output_shape{} == shape<4, 4, 3>{} && five_by_five::node_count == 4);
using strided_first =
    sequential<input<1, 12, 12>, conv2d<4, 3, stride<2>>, relu, max_pool2d<2>, flatten, linear<3>>;
static_assert(!katachi::graph::takes_in_pooling_v<strided_first::node_at<1>::layer>);
using wide_five = sequential<input<4, 12, 12>, conv2d<4, 5>, relu, max_pool2d<2>, flatten, linear<3>>;
static_assert(!katachi::graph::takes_in_pooling_v<wide_five::node_at<1>::layer>);
using read_twice =
    dag<input<1, 8, 8>, node<"c", conv2d<2, 3, padding<1>>>, node<"r", relu>, node<"p", max_pool2d<2>>,
        node<"q", max_pool2d<2>, from<"c">>, node<"s", add, from<"p", "q">>>;
static_assert(!katachi::graph::takes_in_pooling_v<read_twice::node_at<1>::layer> &&
              katachi::graph::takes_in_relu_v<read_twice::node_at<2>::layer>);
static_assert(lenet::inference_index_count(1) == 0);
// In the block the input stays the caller's until the add reads it; the chain between needs two
// buffers at a time, and the add writes into the one conv2's output left.
static_assert(resblock::arena_activation_count_per_sample == 2 * 504);
static_assert(resblock::arena_offsets[6] != resblock::arena_offsets[5]);

// The tensor descriptions the state dict uses agree with the counts.
TEST_CASE("parameter descriptions add up to parameter_count", "[graph][static]") {
    std::size_t total = 0;
    for (const auto& s : lenet::node_at<4>::bind::parameters) total += s.size();
    CHECK(total == 3136 * 128 + 128);
    CHECK(std::string(lenet::node_at<4>::bind::parameters[0].name) == "weight");
    CHECK(lenet::node_at<4>::bind::parameters[0].dims[1] == 3136);
}

}  // namespace
