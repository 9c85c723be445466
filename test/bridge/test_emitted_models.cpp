// Suite `bridge`: graph-face programs compiled from the headers nn::graph_source wrote at build time
// (make_bridge_models.cpp) load the eager checkpoints and reproduce the eager logits.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <katachi/graph.hpp>
#include <string>

#include "lenet.hpp"
#include "mlp_bn.hpp"
#include "norms_net.hpp"
#include "options_net.hpp"
#include "residual.hpp"
#include "resnet.hpp"

namespace {

namespace graph = katachi::graph;
const std::string dir = KATACHI_BRIDGE_DIR;

// Loads the eager checkpoint into the emitted type, runs the example input in evaluation mode and
// returns the largest absolute difference from the eager logits.
template <class Net>
double max_difference(const std::string& name) {
    graph::model<Net> m;
    const auto loaded = graph::load(m, dir + "/" + name + ".safetensors");  // strict: every key matches
    CHECK(loaded.missing_keys.empty());
    const auto io = katachi::io::load_safetensors(dir + "/" + name + "_io.safetensors").tensors;
    const auto x = io.at("input").as<float>();
    const auto expected = io.at("logits").as<float>();
    m.eval();
    const auto y = m.forward(x);
    REQUIRE(y.size() == expected.size());
    double worst = 0, largest = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        worst = std::max(worst, std::abs(double(y.data()[i]) - double(expected.data()[i])));
        largest = std::max(largest, std::abs(double(expected.data()[i])));
    }
    CHECK(largest > 1e-3);  // logits, not zeros
    return worst;
}

}  // namespace

TEST_CASE("an emitted LeNet reproduces the eager logits", "[bridge]") {
    STATIC_REQUIRE(emitted::lenet_keys_identical);
    STATIC_REQUIRE(std::is_same_v<emitted::lenet::output_shape, katachi::shape<10>>);
    CHECK(max_difference<emitted::lenet>("lenet") <= 1e-6);
}

TEST_CASE("an emitted MLP with BatchNorm1d reproduces the eager logits with its running statistics",
          "[bridge]") {
    STATIC_REQUIRE(emitted::mlp_bn_keys_identical);
    CHECK(max_difference<emitted::mlp_bn>("mlp_bn") <= 1e-6);
}

TEST_CASE("an emitted residual model (a custom block with a skip add) reproduces the eager logits",
          "[bridge]") {
    STATIC_REQUIRE(emitted::residual_keys_identical);
    bool found = false;  // the block's keys are the eager module's, under its position in the sequential
    for (const auto& [eager_key, graph_key] : emitted::residual_state_dict_keys)
        found =
            found || (std::string(eager_key) == "2.bn1.running_mean" && std::string(graph_key) == eager_key);
    CHECK(found);
    CHECK(max_difference<emitted::residual>("residual") <= 1e-6);
}

TEST_CASE(
    "an emitted model with strides, padding, dilation, groups and bias<false> reproduces the eager logits",
    "[bridge]") {
    CHECK(max_difference<emitted::options_net>("options_net") <= 1e-6);
}

TEST_CASE(
    "an emitted ResNet of nn::residual blocks, one with a projection shortcut, reproduces the eager logits",
    "[bridge]") {
    STATIC_REQUIRE(emitted::resnet_keys_identical);
    CHECK(max_difference<emitted::resnet>("resnet") <= 1e-6);
}

TEST_CASE("an emitted model with batch norm, pooling and layer norm options reproduces the eager logits",
          "[bridge]") {
    STATIC_REQUIRE(emitted::norms_net_keys_identical);
    CHECK(max_difference<emitted::norms_net>("norms_net") <= 1e-6);
}
