// Suite `graph`: whole-model gradients of the generated backward against central finite differences
// in float64. One list of models covers every layer, parameter-free or not, and the DAG cases (a
// node with three consumers, residual add, concat); a new layer joins by joining a model here.
#include <catch2/catch.hpp>
#include <katachi/graph.hpp>
#include <xtensor/xadapt.hpp>

#include "graph/models.hpp"
#include "support/gradcheck.hpp"

namespace {

using namespace katachi;
using namespace katachi::graph;

using dense = sequential<input<5>, linear<4>, graph::tanh, linear<6, bias<false>>, gelu, linear<3>, sigmoid>;
using convolutional =
    sequential<input<4, 9, 8>, conv2d<6, 3, stride<2, 1>, padding<1>, groups<2>>, leaky_relu<1, 10>,
               max_pool2d<2, stride<1>>, conv2d<3, 2, dilation<2>>, relu, flatten, linear<3>>;
using sequence = sequential<input<3, 11>, conv1d<4, 3, padding<1>, stride<2>, bias<false>>, batch_norm1d,
                            gelu_tanh, flatten, linear<2>>;
using upsampling =
    sequential<input<2, 5, 4>, conv_transpose2d<3, 3, stride<2>, padding<1>, output_padding<1>, bias<false>>,
               batch_norm2d, avg_pool2d<3, stride<2>, padding<1>>, adaptive_avg_pool2d<2, 3>, flatten,
               dropout<1, 3>, linear<2>>;
// The input feeds three nodes; a residual add and a channel concat join the branches.
using branching = dag<input<2, 6, 5>, node<"a", conv2d<2, 3, padding<1>>>, node<"b", relu, from<"a">>,
                      node<"sum", add, from<"b", "input">>, node<"c", conv2d<3, 1>, from<"input">>,
                      node<"cat", concat, from<"sum", "c">>, node<"tail", graph::tanh>, node<"flat", flatten>,
                      node<"fc", linear<3>>>;

// Max pooling takes in the relu before it (graph/fusion.hpp): right after a convolution, right
// after the input, and where the relu's input has a second reader (its gradient adds up). A relu
// with two readers is not taken in.
using relu_pooling =
    dag<input<2, 6, 6>, node<"a", conv2d<3, 3, padding<1>>>, node<"b", relu>, node<"p", max_pool2d<2>>,
        node<"q", max_pool2d<2>, from<"a">>, node<"r", relu, from<"input">>,
        node<"s", max_pool2d<3, stride<2>>>, node<"t", conv2d<3, 1>, from<"s">>, node<"u", relu, from<"q">>,
        node<"v", max_pool2d<2, stride<1>>>, node<"w", max_pool2d<2, stride<1>>, from<"u">>,
        node<"vw", add, from<"v", "w">>, node<"pf", flatten, from<"p">>, node<"vwf", flatten, from<"vw">>,
        node<"tf", flatten, from<"t">>, node<"pvw", concat, from<"pf", "vwf">>,
        node<"all", concat, from<"pvw", "tf">>, node<"fc", linear<3>>>;
// Nodes: input, a, p (b taken in), q, s (r taken in), t, u, v, w, ...
static_assert(graph::takes_in_relu_v<relu_pooling::node_at<2>::layer>);  // b: between a convolution and p
static_assert(relu_pooling::node_at<2>::name.view() == "p" && relu_pooling::inputs[2][0] == 1);
static_assert(graph::takes_in_relu_v<relu_pooling::node_at<4>::layer>);  // r: after the input, overlapping
static_assert(relu_pooling::node_at<4>::name.view() == "s" && relu_pooling::inputs[4][0] == 0);
static_assert(relu_pooling::node_at<6>::name.view() == "u");  // u: read by two poolings, stays
static_assert(!graph::takes_in_relu_v<relu_pooling::node_at<7>::layer>);
static_assert(std::is_same_v<test::models::mlp::node_at<2>::layer, graph::relu>);  // before a linear: stays
// A first convolution takes in its relu and pooling (graph/fusion.hpp); in double the node runs
// the three layers' kernels in turn (test_conv_relu_pool compares the fused float pass with them).
using conv_pooling =
    sequential<input<1, 7, 9>, conv2d<3, 3, padding<1>>, relu, max_pool2d<2>, flatten, linear<3>>;
static_assert(graph::takes_in_pooling_v<conv_pooling::node_at<1>::layer> && conv_pooling::node_count == 4);

// A bias right before batch norm has a gradient of exactly 0 (the batch mean absorbs it), which
// finite differences cannot compare; like most networks, these models leave it out.
using gradient_models = std::tuple<dense, convolutional, sequence, upsampling, branching, relu_pooling,
                                   conv_pooling, test::models::small_resnet<2, 5, 4>, test::models::norms>;

template <class Net>
xt::xarray<double> batch_array(std::size_t batch, std::uint32_t seed) {
    std::vector<std::size_t> dims{batch};
    for (std::size_t d : Net::input_shape::dims) dims.push_back(d);
    return katachi::test::random_away_from_zero(dims, seed);
}

TEMPLATE_LIST_TEST_CASE("the generated backward matches finite differences in float64", "[graph][gradcheck]",
                        gradient_models) {
    using Net = TestType;
    model<Net, double> m(7);
    m.train();
    // Batch norm's biases away from 0 keep relu's kink out of the differences.
    for (auto& p : m.parameters())
        if (p.name.ends_with("bias"))
            for (auto& v : p.value()) v += 0.1;
    const std::size_t batch = 3;
    xt::xarray<double> x = batch_array<Net>(batch, 11);
    std::vector<std::size_t> out_dims{batch};
    for (std::size_t d : Net::output_shape::dims) out_dims.push_back(d);
    const xt::xarray<double> r = katachi::test::random_array(out_dims, 13);

    const auto loss = [&] {
        m.seed_dropout(5);  // the same dropout mask at every evaluation
        auto y = m.forward(x);
        return katachi::test::weighted_sum(y, r);
    };
    loss();
    std::ranges::copy(r, m.output_grad().begin());
    m.backward(katachi::kernels::write::overwrite, true);
    const xt::xarray<double> input_grad = m.input_grad();
    std::vector<std::pair<std::string, xt::xarray<double>>> analytic;
    for (auto& p : m.parameters()) {
        const auto g = p.grad();
        analytic.emplace_back(p.name, xt::xarray<double>(xt::adapt(g.data(), g.size(), xt::no_ownership(),
                                                                   std::vector<std::size_t>{g.size()})));
    }

    KATACHI_CHECK_GRADIENT(input_grad, katachi::test::numeric_gradient(loss, x));
    std::size_t k = 0;
    for (auto& p : m.parameters()) {
        INFO("parameter " << p.name);
        const auto v = p.value();
        xt::xarray<double> values =
            xt::adapt(v.data(), v.size(), xt::no_ownership(), std::vector<std::size_t>{v.size()});
        const auto param_loss = [&] {
            std::ranges::copy(values, v.begin());
            return loss();
        };
        const xt::xarray<double> numeric = katachi::test::numeric_gradient(param_loss, values);
        std::ranges::copy(values, v.begin());
        KATACHI_CHECK_GRADIENT(analytic[k].second, numeric);
        ++k;
    }
    CHECK(k == m.parameters().size());
}

TEST_CASE("a node with several consumers receives the sum of their gradients", "[graph][gradcheck]") {
    // y = relu(x) + x: d y / d x = 1 + [x > 0].
    using net = dag<input<4>, node<"r", relu>, node<"sum", add, from<"r", "input">>>;
    model<net, double> m;
    xt::xarray<double> x = {{-1.0, 2.0, -3.0, 4.0}};
    m.forward(x);
    std::ranges::fill(m.output_grad(), 1.0);
    m.backward(katachi::kernels::write::overwrite, true);
    const xt::xarray<double> expected = {{1.0, 2.0, 1.0, 2.0}};
    CHECK((m.input_grad() == expected));
}

}  // namespace
