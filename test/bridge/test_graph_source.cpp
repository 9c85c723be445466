// Suite `bridge`: what nn::graph_source writes for an eager model, and the sentences with which it
// refuses one the graph face cannot express (each names the module's path and why).
#include <catch2/catch.hpp>
#include <fstream>
#include <katachi/eager.hpp>
#include <sstream>
#include <string>

#include "../bridge/eager_models.hpp"

namespace {

namespace eager = katachi::eager;
namespace nn = katachi::eager::nn;
using eager::tensor;

// The exception's sentence, or "" when graph_source returned.
std::string refusal(const nn::module& m, eager::sizes input, std::string* path = nullptr) {
    try {
        (void)nn::graph_source(m, input);
    } catch (const nn::graph_source_error& e) {
        if (path) *path = e.path();
        return e.what();
    }
    return "";
}

// A module whose forward is user code and which declares no graph form.
class affine : public nn::module {
public:
    std::string type_name() const override { return "affine"; }
    eager::sizes output_shape(const eager::sizes& input) const override { return input; }
    tensor forward(const tensor& x) override { return x * 2.0f; }
};

// A custom module that holds a sequential named "features" and declares itself as it.
class features_net : public nn::module {
public:
    explicit features_net(std::shared_ptr<nn::sequential> features) { register_module("features", features); }
    std::string type_name() const override { return "features_net"; }
    std::vector<nn::graph_step> graph_form() const override { return {{.op = "features"}}; }
};

}  // namespace

TEST_CASE("a sequential of layers becomes a graph::sequential with every option and identical keys",
          "[bridge]") {
    nn::sequential m(nn::conv2d({.in_channels = 4,
                                 .out_channels = 8,
                                 .kernel_size = 3,
                                 .stride = {2, 1},
                                 .padding = 1,
                                 .dilation = 2,
                                 .groups = 2,
                                 .bias = false}),
                     nn::leaky_relu(0.2), nn::max_pool2d({.kernel_size = 2, .stride = 1, .padding = 1}),
                     nn::dropout(0.25), nn::flatten(),
                     nn::linear({.in_features = 8 * 6 * 10, .out_features = 3}));
    const auto t = nn::graph_translate(m, {4, 11, 11});
    CHECK(t.type ==
          "katachi::graph::sequential<katachi::graph::input<4, 11, 11>,\n"
          "    katachi::graph::conv2d<8, 3, katachi::graph::stride<2, 1>, katachi::graph::padding<1>, "
          "katachi::graph::dilation<2>, katachi::graph::groups<2>, katachi::graph::bias<false>>,\n"
          "    katachi::graph::leaky_relu<1, 5>,\n"
          "    katachi::graph::max_pool2d<2, katachi::graph::stride<1>, katachi::graph::padding<1>>,\n"
          "    katachi::graph::dropout<1, 4>,\n"
          "    katachi::graph::flatten,\n"
          "    katachi::graph::linear<3>>");
    CHECK(t.keys_identical());
    CHECK(t.keys.size() == 3);  // 0.weight, 5.bias, 5.weight
    CHECK(t.output_shape == eager::sizes{3});
    const std::string source = nn::graph_source(m, {4, 11, 11}, {.name = "net"});
    CHECK(source.find("using net = katachi::graph::sequential<") != std::string::npos);
    CHECK(source.find("{\"5.weight\", \"5.weight\"}") != std::string::npos);
    CHECK(source.find("the same in both faces") != std::string::npos);
}

TEST_CASE("nested sequentials become a dag whose node names are the eager paths", "[bridge]") {
    nn::sequential m(nn::sequential(nn::linear({.in_features = 4, .out_features = 8}), nn::relu()),
                     nn::linear({.in_features = 8, .out_features = 2}));
    const auto t = nn::graph_translate(m, {4});
    CHECK(
        t.type.starts_with("katachi::graph::dag<katachi::graph::input<4>,\n"
                           "    katachi::graph::node<\"0.0\", katachi::graph::linear<8>>,\n"));
    CHECK(t.keys_identical());
}

TEST_CASE("a lone layer is a one-node graph whose keys gain the node's name", "[bridge]") {
    nn::linear m({.in_features = 4, .out_features = 2});
    const auto t = nn::graph_translate(m, {4});
    CHECK_FALSE(t.keys_identical());
    CHECK(t.keys.front().eager == "bias");
    CHECK(t.keys.front().graph == "linear.bias");
    CHECK(nn::graph_source(m, {4}).find("model_graph_state") != std::string::npos);
}

TEST_CASE("a module with no graph-face layer is refused, naming its path", "[bridge]") {
    features_net m(
        std::make_shared<nn::sequential>(nn::linear({.in_features = 4, .out_features = 4}), nn::relu(),
                                         nn::linear({.in_features = 4, .out_features = 3}), nn::softmax()));
    std::string path;
    CHECK(refusal(m, {4}, &path) ==
          "graph_source: \"features.3\" (softmax) has no graph-face layer: the graph face's models end in "
          "logits (its losses apply the softmax); leave it out of the model");
    CHECK(path == "features.3");
}

TEST_CASE("a lazy module that is not materialised is refused, naming its path", "[bridge]") {
    nn::sequential m(nn::lazy_linear({.out_features = 8}), nn::relu(), nn::lazy_linear({.out_features = 2}));
    CHECK(refusal(m, {4}) ==
          "graph_source: \"0\" (lazy_linear) is not materialised: its input size is unknown until a forward, "
          "materialize(input_shape) or load_state_dict");
    m.materialize({1, 4});
    CHECK(refusal(m, {4}).empty());
}

TEST_CASE("a custom module without a graph form is refused: its forward is user code", "[bridge]") {
    nn::sequential m(nn::linear({.in_features = 4, .out_features = 4}), std::make_shared<affine>());
    CHECK(refusal(m, {4}) ==
          "graph_source: \"1\" (affine) has no graph-face form: its forward is user code (data-dependent "
          "branches cannot be checked); declare it with graph_form() or build it from katachi's layers");
}

TEST_CASE("a custom module with a graph form becomes its nodes, the add's inputs named", "[bridge]") {
    auto block = std::make_shared<katachi::test::bridge::basic_block>(4);
    block->materialize({1, 4, 5, 5});
    const auto t = nn::graph_translate(*block, {4, 5, 5});
    CHECK(t.type.find("katachi::graph::node<\"sum\", katachi::graph::add, katachi::graph::from<\"bn2\", "
                      "\"input\">>") != std::string::npos);
    CHECK(t.keys_identical());
}

TEST_CASE("options without a short spelling are written in the general form layer<op, options>",
          "[bridge]") {
    nn::sequential bn(nn::linear({.in_features = 4, .out_features = 4}),
                      nn::batch_norm1d({.num_features = 4, .eps = 1e-3, .momentum = std::nullopt, .affine = false}));
    CHECK(nn::graph_translate(bn, {4}).type ==
          "katachi::graph::sequential<katachi::graph::input<4>,\n"
          "    katachi::graph::linear<4>,\n"
          "    katachi::graph::layer<katachi::ops::batch_norm1d, katachi::ops::batch_norm_options{.eps = "
          "0.001, .momentum = std::nullopt, .affine = false}>>");
    nn::sequential conv(nn::conv2d({.in_channels = 1, .out_channels = 2, .kernel_size = {3, 5}}));
    CHECK(nn::graph_translate(conv, {1, 8, 8}).type ==
          "katachi::graph::sequential<katachi::graph::input<1, 8, 8>,\n"
          "    katachi::graph::layer<katachi::ops::conv2d, katachi::ops::conv2d_options{.out_channels = 2, "
          ".kernel_size = {3, 5}, .stride = {1, 1}, .padding = {0, 0}, .dilation = {1, 1}, .groups = 1, "
          ".bias = true}>>");
    nn::sequential pool(nn::max_pool2d({.kernel_size = 2, .ceil_mode = true}),
                        nn::avg_pool2d({.kernel_size = 3, .stride = 1, .padding = 1, .count_include_pad = false}),
                        nn::layer_norm({.normalized_shape = {3, 3}, .elementwise_affine = false}));
    CHECK(nn::graph_translate(pool, {1, 5, 5}).type ==
          "katachi::graph::sequential<katachi::graph::input<1, 5, 5>,\n"
          "    katachi::graph::max_pool2d<2, katachi::graph::ceil_mode<true>>,\n"
          "    katachi::graph::avg_pool2d<3, katachi::graph::stride<1>, katachi::graph::padding<1>, "
          "katachi::graph::count_include_pad<false>>,\n"
          "    katachi::graph::layer<katachi::ops::layer_norm, katachi::ops::layer_norm_options{.normalized_shape = "
          "{3, 3}, .elementwise_affine = false}>>");
    nn::sequential unflat(nn::conv2d({.in_channels = 1, .out_channels = 2, .kernel_size = 3}),
                          nn::linear({.in_features = 6, .out_features = 2}));
    CHECK(refusal(unflat, {1, 8, 8}) ==
          "graph_source: \"1\" (linear) gets [1, 2, 6, 6]; the graph face's linear takes a flat input (add a "
          "flatten before it)");
}

TEST_CASE("a graph form that names an unknown step or leaves out a child with parameters is refused",
          "[bridge]") {
    struct bad : nn::module {
        bad() {
            register_module(
                "fc", std::make_shared<nn::linear>(nn::linear_options{.in_features = 4, .out_features = 4}));
        }
        std::string type_name() const override { return "bad"; }
        std::vector<nn::graph_step> graph_form() const override {
            return {{.op = "add", .from = {"fc", "input"}}};
        }
    };
    nn::sequential m(std::make_shared<bad>());
    CHECK(refusal(m, {4}) ==
          "graph_source: \"0\" (bad) has a graph_form() whose step \"add\" consumes \"fc\", "
          "which is neither \"input\" nor an earlier step");
}

TEST_CASE("a graph form reaches into a module_list and joins two branches with concat", "[bridge]") {
    struct branches : nn::module {
        branches() {
            register_module("paths",
                            std::make_shared<nn::module_list>(
                                nn::conv2d({.in_channels = 2, .out_channels = 3, .kernel_size = 1}),
                                nn::conv2d({.in_channels = 2, .out_channels = 5, .kernel_size = 1})));
        }
        std::string type_name() const override { return "branches"; }
        std::vector<nn::graph_step> graph_form() const override {
            return {{.op = "paths.0", .from = {"input"}, .name = "a"},
                    {.op = "paths.1", .from = {"input"}, .name = "b"},
                    {.op = "concat", .from = {"a", "b"}, .name = "cat"}};
        }
    };
    nn::sequential m(std::make_shared<branches>(), nn::relu());
    const auto t = nn::graph_translate(m, {2, 4, 4});
    CHECK(t.type.find("katachi::graph::node<\"0.paths.1\", katachi::graph::conv2d<5, 1>, "
                      "katachi::graph::from<\"input\">>") != std::string::npos);
    CHECK(t.type.find("katachi::graph::node<\"0.cat\", katachi::graph::concat, "
                      "katachi::graph::from<\"0.paths.0\", \"0.paths.1\">>") != std::string::npos);
    CHECK(t.output_shape == eager::sizes{8, 4, 4});
    CHECK(t.keys_identical());
}

TEST_CASE("a module placed twice is refused: the graph face does not share parameters", "[bridge]") {
    auto shared = std::make_shared<nn::linear>(nn::linear_options{.in_features = 4, .out_features = 4});
    nn::sequential m(shared, nn::relu(), shared);
    CHECK(refusal(m, {4}) ==
          "graph_source: \"2\" (linear) is the module at \"0\" again; its parameters would "
          "be shared, which the graph face does not do");
}

TEST_CASE("nn::residual sums its body and its input, and refuses a body that changes the shape", "[bridge]") {
    nn::residual same(nn::sequential(nn::linear({.in_features = 4, .out_features = 4}), nn::relu()));
    const tensor x = eager::randn({2, 4});
    const tensor expected = same.named_children().front().second->forward(x) + x;
    CHECK(same(x).to_vector() == expected.to_vector());
    CHECK(nn::graph_translate(same, {4}).type.find("katachi::graph::node<\"add\", katachi::graph::add, "
                                                   "katachi::graph::from<\"body.1\", \"input\">>") !=
          std::string::npos);

    nn::residual wider(nn::linear({.in_features = 4, .out_features = 3}));
    CHECK_THROWS_WITH(wider.output_shape({2, 4}),
                      "residual: the body gives [2, 3] and the shortcut [2, 4]; the sum takes one shape");
}

TEST_CASE("check_graph_form accepts a true graph form and refuses one its forward does not keep",
          "[bridge]") {
    katachi::test::bridge::basic_block block(3);
    const tensor x = eager::randn({2, 3, 5, 5});
    block(x);  // materialises, and moves the running statistics off their initial values
    CHECK_NOTHROW(nn::check_graph_form(block, x));
    CHECK(block.is_training());  // the mode is restored

    struct liar : katachi::test::bridge::basic_block {
        liar() : basic_block(3) {}
        std::string type_name() const override { return "liar"; }
        tensor forward(const tensor& x) override { return basic_block::forward(x) * 2.0f; }
    } lying;
    lying(x);
    CHECK_THROWS_WITH(
        nn::check_graph_form(lying, x),
        Catch::Matchers::StartsWith("graph_source: the root module (liar) has a graph_form() that "
                                    "differs from its forward by "));
}

TEST_CASE("the README's eager-to-graph section shows the two example programs the build runs", "[bridge]") {
    const auto read = [](const std::string& path) {
        std::ifstream in(std::string(KATACHI_SOURCE_DIR) + "/" + path, std::ios::binary);
        REQUIRE(in.good());
        std::ostringstream s;
        s << in.rdbuf();
        return s.str();
    };
    const std::string readme = read("README.md");
    auto at = readme.find("## From an eager prototype to a compile-time model\n");
    REQUIRE(at != std::string::npos);
    for (const char* example : {"examples/eager_to_graph.cpp", "examples/graph_from_eager.cpp"}) {
        const auto begin = readme.find("```cpp\n", at);
        REQUIRE(begin != std::string::npos);
        const auto end = readme.find("```", begin + 7);
        REQUIRE(end != std::string::npos);
        CHECK(readme.substr(begin + 7, end - begin - 7) == read(example));
        at = end + 3;
    }
}
