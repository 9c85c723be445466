// Suite `graph`: the model object at run time: inference from the fixed arena, train and eval
// modes, freezing, state dicts, and the errors a wrong input or checkpoint gives.
#include <catch2/catch.hpp>
#include <filesystem>
#include <katachi/graph/state_dict.hpp>
#include <katachi/optim/sgd.hpp>
#include <memory>
#include <xtensor/xadapt.hpp>
#include <xtensor/xrandom.hpp>
#include <xtensor/xview.hpp>

#include "graph/models.hpp"

namespace {

using namespace katachi;
using namespace katachi::test::models;

template <class Net>
xt::xarray<float> random_input(std::size_t batch, std::uint64_t seed) {
    std::vector<std::size_t> dims{batch};
    for (std::size_t d : Net::input_shape::dims) dims.push_back(d);
    xt::xarray<float> x = xt::zeros<float>(dims);
    generator gen(seed);
    for (auto& v : x) v = gen.uniform<float>(-1.0f, 1.0f);
    return x;
}

template <class Net, std::size_t MaxBatch>
void check_inference_matches_eval(std::size_t batch) {
    graph::model<Net> trained(3);
    const auto x = random_input<Net>(batch, 4);
    trained.forward(x);  // a training forward moves batch norm's running statistics
    trained.eval();
    const xt::xarray<float> expected = trained.forward(x);
    auto runner = std::make_unique<graph::inference_model<Net, float, MaxBatch>>();
    runner->load(trained);
    const xt::xarray<float> got = runner->forward(x);
    REQUIRE(got.shape() == expected.shape());
    CHECK(xt::allclose(got, expected, 1e-5, 1e-6));
}

TEST_CASE("inference from the liveness-planned arena gives the evaluation-mode outputs",
          "[graph][inference]") {
    check_inference_matches_eval<lenet, 4>(3);
    check_inference_matches_eval<resblock, 2>(2);
    check_inference_matches_eval<mlp_bn, 8>(8);
    check_inference_matches_eval<strided, 1>(1);
}

TEST_CASE("inference prepares a Winograd weight once per load, and again after weights() is written",
          "[graph][inference]") {
    // 16 channels, a 3x3 kernel and an even 14x14 output: Winograd's pooled forward from one sample.
    using net = graph::sequential<graph::input<16, 14, 14>, graph::conv2d<32, 3, graph::padding<1>>,
                                  graph::relu, graph::max_pool2d<2>, graph::flatten, graph::linear<10>>;
    static_assert(net::prepared_count == 16 * 16 * 32);  // the transform U of the fused node only
    graph::model<net> trained(7);
    trained.eval();
    const auto x = random_input<net>(1, 8);
    auto runner = std::make_unique<graph::inference_model<net, float, 1>>();
    runner->load(trained);
    // The prepared transform is the one the model makes each call: the same bits.
    const xt::xarray<float> first = runner->forward(x), expected = trained.forward(x);
    CHECK((first == expected));
    // Writing the weights through weights() makes the next forward prepare them again.
    for (float& w : runner->weights()) w *= -0.5f;
    for (float& w : trained.all_parameters()) w *= -0.5f;
    const xt::xarray<float> second = runner->forward(x), changed = trained.forward(x);
    CHECK((second == changed));
    CHECK(!(second == first));
}

TEST_CASE("a single sample gives the output row it gives inside a batch", "[graph][inference]") {
    graph::model<mlp> m(2);
    const auto x = random_input<mlp>(3, 5);
    const xt::xarray<float> batch = m.forward(x);
    for (std::size_t i = 0; i < 3; ++i) {
        const xt::xarray<float> one = xt::view(x, xt::range(i, i + 1));
        const xt::xarray<float> row = m.forward(one);
        CHECK(xt::allclose(row, xt::view(batch, xt::range(i, i + 1)), 1e-5, 1e-6));
    }
}

TEST_CASE("the inference arena size is a constant expression", "[graph][inference]") {
    static_assert(graph::inference_model<tiny_mlp>::arena_bytes == tiny_mlp::inference_arena_bytes(1));
    static_assert(mlp::inference_arena_bytes(1) <= 64 * 1024);
    // An inference model holds weights and arena and nothing else: no gradient storage.
    CHECK(sizeof(graph::inference_model<tiny_mlp>) <
          tiny_mlp::parameter_bytes<float> + tiny_mlp::inference_arena_bytes(1) + 256);
}

TEST_CASE("dropout is the identity in evaluation and drops in training", "[graph][modes]") {
    using net = graph::sequential<graph::input<1000>, graph::dropout<1, 2>>;
    graph::model<net> m;
    const auto x = random_input<net>(2, 9);
    m.eval();
    CHECK((xt::xarray<float>(m.forward(x)) == x));
    m.train();
    const xt::xarray<float> y = m.forward(x);
    std::size_t zeros = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
        if (y.data()[i] == 0.0f)
            ++zeros;
        else
            CHECK(y.data()[i] == Approx(2.0f * x.data()[i]));
    }
    CHECK(zeros > 900);
    CHECK(zeros < 1100);
}

TEST_CASE("freezing the features trains only the classifier", "[graph][freeze]") {
    graph::model<lenet> m(1);
    m.freeze();
    m.unfreeze("9");
    const auto params = m.parameters();
    REQUIRE(params.size() == 2);
    CHECK(params[0].name == "9.weight");
    CHECK(params[1].name == "9.bias");

    const std::vector<float> before(m.all_parameters().begin(), m.all_parameters().end());
    std::ranges::fill(m.all_gradients(), 42.0f);
    const auto x = random_input<lenet>(4, 2);
    xt::xtensor<std::int64_t, 1> labels = {1, 2, 3, 4};
    optim::sgd<float> opt(m.parameters(), {.lr = 0.5});
    m.forward(x);
    m.cross_entropy(labels);
    m.backward();
    CHECK(m.gradient("0.weight")[0] == 42.0f);  // a frozen gradient is never written
    CHECK(m.gradient("9.weight")[0] != 42.0f);
    opt.step();
    const auto now = m.all_parameters();
    const std::size_t classifier = lenet::param_offsets[lenet::node_count - 1];  // the last node, "9"
    CHECK(std::equal(now.begin(), now.begin() + classifier, before.begin()));
    CHECK(!std::equal(now.begin() + classifier, now.end(), before.begin() + classifier));
}

TEST_CASE("parameters are initialised as PyTorch's defaults, reproducibly from a seed", "[graph][init]") {
    graph::model<mlp_bn> a(5), b(5), c(6);
    CHECK(std::ranges::equal(a.all_parameters(), b.all_parameters()));
    CHECK(!std::ranges::equal(a.all_parameters(), c.all_parameters()));
    const float bound = 1.0f / std::sqrt(20.0f);
    float largest = 0;
    for (float v : a.parameter("0.weight")) largest = std::max(largest, std::abs(v));
    CHECK(largest <= bound);
    CHECK(largest > 0.9f * bound);
    for (float v : a.parameter("1.weight")) CHECK(v == 1.0f);
    for (float v : a.parameter("1.bias")) CHECK(v == 0.0f);
    for (float v : a.buffer("1.running_var")) CHECK(v == 1.0f);
}

TEST_CASE("a wrong input shape at run time names both shapes", "[graph][errors]") {
    graph::model<lenet> m;
    const xt::xarray<float> x = xt::zeros<float>({2, 1, 28, 27});
    CHECK_THROWS_WITH(m.forward(x), Catch::Contains("[2, 1, 28, 27]") && Catch::Contains("[N, 1, 28, 28]"));
}

TEST_CASE("a state dict uses PyTorch's names and round-trips through safetensors", "[graph][state_dict]") {
    graph::model<resblock> a(1), b(2);
    a.forward(random_input<resblock>(2, 1));
    const auto dict = graph::state_dict(a);
    CHECK(dict.count("conv1.weight") == 1);
    CHECK(dict.count("conv1.bias") == 0);
    CHECK(dict.count("bn2.running_var") == 1);
    CHECK(dict.at("bn1.num_batches_tracked").type == io::dtype::i64);
    CHECK(dict.at("fc.weight").shape == std::vector<std::size_t>{3, 8});
    CHECK(dict.size() == 2 + 2 * 5 + 2);
    const auto path = std::filesystem::temp_directory_path() / "katachi_graph_state.safetensors";
    graph::save(a, path);
    graph::load(b, path);
    std::filesystem::remove(path);
    CHECK(std::ranges::equal(a.all_parameters(), b.all_parameters()));
    CHECK(std::ranges::equal(a.all_buffers(), b.all_buffers()));
    CHECK(b.batches_tracked("bn1") == 1);

    graph::model<lenet> lenet_model;
    const auto names = graph::state_dict(lenet_model);
    CHECK(names.count("0.weight") == 1);
    CHECK(names.count("3.bias") == 1);
    CHECK(names.count("7.weight") == 1);
    CHECK(names.at("7.weight").shape == std::vector<std::size_t>{128, 3136});
}

TEST_CASE("a block placed twice has distinct parameters under its placement's names", "[graph][state_dict]") {
    graph::model<small_resnet<4, 8, 8>> m(1);
    const auto dict = graph::state_dict(m);
    CHECK(dict.count("layer1.conv1.weight") == 1);
    CHECK(dict.count("layer2.conv1.weight") == 1);
    CHECK(dict.count("layer2.bn2.num_batches_tracked") == 1);
    CHECK(!std::ranges::equal(m.parameter("layer1.conv1.weight"), m.parameter("layer2.conv1.weight")));
}

TEST_CASE("loading a wrong shape names the key and both shapes and loads nothing", "[graph][state_dict]") {
    graph::model<mlp_bn> m(1), other(2);
    auto dict = graph::state_dict(other);
    dict["3.weight"] = io::tensor::from_xt(xt::xarray<float>(xt::zeros<float>({5, 31})));
    const std::vector<float> before(m.all_parameters().begin(), m.all_parameters().end());
    CHECK_THROWS_WITH(graph::load_state_dict(m, dict), Catch::Contains("3.weight") &&
                                                           Catch::Contains("[5, 31]") &&
                                                           Catch::Contains("[5, 32]"));
    CHECK(std::ranges::equal(m.all_parameters(), before));
}

TEST_CASE("strict loading refuses missing and unexpected keys; non-strict reports them",
          "[graph][state_dict]") {
    graph::model<mlp_bn> m(1), other(2);
    auto dict = graph::state_dict(other);
    dict.erase("1.running_mean");
    dict["head.weight"] = dict.at("3.weight");
    const std::vector<float> before(m.all_parameters().begin(), m.all_parameters().end());
    CHECK_THROWS_WITH(graph::load_state_dict(m, dict), Catch::Contains("missing \"1.running_mean\"") &&
                                                           Catch::Contains("unexpected \"head.weight\""));
    CHECK(std::ranges::equal(m.all_parameters(), before));
    const auto result = graph::load_state_dict(m, dict, false);
    CHECK(result.missing_keys == std::vector<std::string>{"1.running_mean"});
    CHECK(result.unexpected_keys == std::vector<std::string>{"head.weight"});
    CHECK(std::ranges::equal(m.all_parameters(), other.all_parameters()));
}

TEST_CASE("the activations' general forms take any option value and name it", "[graph][layers]") {
    using leaky = graph::layer<ops::leaky_relu, ops::leaky_relu_options{.negative_slope = 0.2}>;
    graph::model<graph::sequential<graph::input<6>, leaky>> m(1);
    const xt::xarray<float> x = {{-3.0f, -1.0f, -0.5f, 0.0f, 0.5f, 2.0f}};
    const xt::xarray<float> y = m.forward(x);
    const std::vector<float> expected{-0.6f, -0.2f, -0.1f, 0.0f, 0.5f, 2.0f};
    for (std::size_t i = 0; i < 6; ++i) CHECK(y(0, i) == Approx(expected[i]));
    CHECK(leaky::name() == "leaky_relu(negative_slope=0.2)");
    CHECK(graph::leaky_relu<1, 5>::name() == "leaky_relu<1, 5>");
    CHECK(graph::gelu_tanh::name() == "gelu_tanh");

    using drop_all = graph::layer<ops::dropout, ops::dropout_options{.p = 1.0}>;
    CHECK(drop_all::name() == "dropout(p=1)");
    CHECK(graph::dropout<1, 4>::name() == "dropout<1, 4>");
    graph::model<graph::sequential<graph::input<6>, drop_all>> d(1);
    CHECK(xt::all(xt::equal(d.forward(x), 0.0f)));  // training: everything dropped
    d.eval();
    CHECK(xt::all(xt::equal(d.forward(x), x)));  // evaluation: the identity
}

TEST_CASE("flatten and the input copy split whole samples over the threads and lose no element",
          "[graph][threads]") {
    // 96 samples of 512 elements: above the size from which copies split (parallel.hpp). The input
    // feeds two flattens, so its gradient is one flatten's written and the other's added.
    using net = graph::dag<graph::input<2, 16, 16>, graph::node<"f1", graph::flatten, graph::from<"input">>,
                           graph::node<"f2", graph::flatten, graph::from<"input">>,
                           graph::node<"sum", graph::add, graph::from<"f1", "f2">>>;
    const int saved_threads = katachi::get_num_threads();
    const auto x = random_input<net>(96, 7);
    for (const int threads : {1, 2, 3}) {
        INFO(threads << " threads");
        katachi::set_num_threads(threads);
        graph::model<net> m;
        const xt::xarray<float> y = m.forward(x);
        REQUIRE(y.shape() == std::vector<std::size_t>{96, 512});
        CHECK(std::equal(y.begin(), y.end(), x.begin(), [](float a, float b) { return a == b + b; }));
        auto dy = m.output_grad();
        for (std::size_t i = 0; i < dy.size(); ++i) dy.data()[i] = static_cast<float>(i % 1000) - 500.f;
        m.backward(katachi::kernels::write::overwrite, true);
        const auto dx = m.input_grad();
        REQUIRE(dx.size() == dy.size());
        bool all = true;
        for (std::size_t i = 0; i < dx.size(); ++i) all = all && dx.data()[i] == 2.f * dy.data()[i];
        CHECK(all);
    }
    katachi::set_num_threads(saved_threads);
}

}  // namespace
