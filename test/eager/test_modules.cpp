// Modules: registration, traversal with shared parameters once, modes, apply, zero_grad, freezing,
// containers, options, default initialisation, init functions, printing and state dicts.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <katachi/eager.hpp>
#include <sstream>

using namespace katachi;
namespace nn = katachi::eager::nn;
using eager::sizes;
using eager::tensor;

namespace {

// A user-defined module with its own parameter and reset_parameters(): a linear layer whose
// weight is scaled elementwise by a learnt gate.
struct gated_linear : nn::module {
    std::shared_ptr<nn::linear> inner;
    nn::parameter gate;
    gated_linear(std::size_t in, std::size_t out) {
        inner = register_module("inner", std::make_shared<nn::linear>(nn::linear_options{in, out}));
        gate = nn::parameter(register_parameter("gate", tensor::empty({out, in})));
        reset_parameters();
    }
    void reset_parameters() { nn::init::ones_(gate); }
    std::string type_name() const override { return "gated_linear"; }
    tensor forward(const tensor& x) override { return eager::linear(x, inner->weight * gate, inner->bias); }
};

std::vector<std::string> names_of(const std::vector<std::pair<std::string, tensor>>& named) {
    std::vector<std::string> out;
    for (const auto& [n, t] : named) out.push_back(n);
    return out;
}

}  // namespace

TEST_CASE("a layer registers its parameters under PyTorch's names and shapes", "[eager][modules]") {
    nn::linear lin({.in_features = 3, .out_features = 4});
    CHECK(names_of(lin.named_parameters()) == std::vector<std::string>{"weight", "bias"});
    CHECK(lin.weight.shape() == sizes{4, 3});
    CHECK(lin.bias.shape() == sizes{4});
    CHECK(lin.weight.requires_grad());
    CHECK(lin.parameters()[0].is_same(lin.weight));
    nn::linear no_bias({.in_features = 3, .out_features = 4, .bias = false});
    CHECK(no_bias.parameters().size() == 1);
    nn::conv2d conv({.in_channels = 4, .out_channels = 6, .kernel_size = {3, 5}, .groups = 2});
    CHECK(conv.weight.shape() == sizes{6, 2, 3, 5});
    nn::conv_transpose2d up({.in_channels = 4, .out_channels = 6, .kernel_size = 2, .stride = 2});
    CHECK(up.weight.shape() == sizes{4, 6, 2, 2});
    nn::batch_norm2d bn({.num_features = 5});
    CHECK(names_of(bn.named_buffers()) == std::vector<std::string>{"running_mean", "running_var"});
    CHECK(bn.running_var.to_vector() == std::vector<float>(5, 1.0f));
}

TEST_CASE("a sequential names its layers by position, counting parameter-free layers", "[eager][modules]") {
    nn::sequential seq(nn::linear({4, 8}), nn::relu(), nn::dropout(0.2), nn::linear({8, 2}));
    CHECK(names_of(seq.named_parameters()) ==
          std::vector<std::string>{"0.weight", "0.bias", "3.weight", "3.bias"});
    CHECK(seq.size() == 4);
    CHECK(seq.at<nn::linear>(3).options.out_features == 2);
    CHECK_THROWS_AS(seq.at<nn::linear>(1), std::bad_cast);
    CHECK(seq(eager::ones({5, 4})).shape() == sizes{5, 2});
    CHECK(seq.output_shape({5, 4}) == sizes{5, 2});
    CHECK_THROWS_AS(seq.output_shape({5, 3}), shape_mismatch);
}

TEST_CASE("a parameter or module shared between two places is visited once", "[eager][modules]") {
    auto shared = std::make_shared<nn::linear>(nn::linear_options{3, 3});
    nn::sequential seq(shared, nn::relu(), shared);
    CHECK(names_of(seq.named_parameters()) == std::vector<std::string>{"0.weight", "0.bias"});
    CHECK(seq.children().size() == 2);
    CHECK(*nn::parameter_count(seq) == 12);
    nn::module_list list(shared, nn::linear({3, 1}));
    list.push_back(shared);
    CHECK(nn::parameter_count(list) == std::optional<std::size_t>(16));
    // the same tensor registered by two modules
    struct tied : nn::module {
        tied(const tensor& w) {
            register_parameter("a", w);
            register_parameter("b", w);
        }
    } t(shared->weight);
    CHECK(t.parameters().size() == 1);
}

TEST_CASE("train and eval set the mode of every module, and apply visits children first",
          "[eager][modules]") {
    nn::sequential seq(nn::linear({2, 2}), nn::sequential(nn::dropout(), nn::relu()));
    CHECK(seq.is_training());
    seq.eval();
    for (auto& [name, m] : seq.named_modules()) CHECK_FALSE(m->is_training());
    seq.train();
    for (auto& [name, m] : seq.named_modules()) CHECK(m->is_training());
    std::vector<std::string> order;
    seq.apply([&](nn::module& m) { order.push_back(m.type_name()); });
    CHECK(order == std::vector<std::string>{"relu", "dropout", "sequential", "linear", "sequential"});
}

TEST_CASE("zero_grad clears and requires_grad_(false) freezes every parameter", "[eager][modules]") {
    nn::sequential seq(nn::linear({3, 2}), nn::relu(), nn::linear({2, 1}));
    eager::sum(seq(eager::ones({4, 3}))).backward();
    for (auto& p : seq.parameters()) CHECK(p.grad().defined());
    seq.zero_grad();
    for (auto& p : seq.parameters())
        for (float g : p.grad().to_vector()) CHECK(g == 0);
    seq.zero_grad(true);
    for (auto& p : seq.parameters()) CHECK_FALSE(p.grad().defined());
    seq.requires_grad_(false);
    for (auto& p : seq.parameters()) CHECK_FALSE(p.requires_grad());
    CHECK_FALSE(seq(eager::ones({4, 3})).requires_grad());
}

TEST_CASE("a user-defined module with its own parameters takes a few lines", "[eager][modules]") {
    gated_linear m(3, 2);
    CHECK(names_of(m.named_parameters()) == std::vector<std::string>{"gate", "inner.weight", "inner.bias"});
    CHECK(m.gate.to_vector() == std::vector<float>(6, 1.0f));
    eager::sum(m(eager::ones({4, 3}))).backward();
    CHECK(m.gate.grad().shape() == sizes{2, 3});
    CHECK(m.inner->weight.grad().defined());
}

TEST_CASE("default initialisation follows PyTorch's bounds and a seed reproduces it",
          "[eager][modules][init]") {
    eager::manual_seed(7);
    nn::linear a({.in_features = 100, .out_features = 50});
    eager::manual_seed(7);
    nn::linear b({.in_features = 100, .out_features = 50});
    CHECK(a.weight.to_vector() == b.weight.to_vector());
    const float bound = 1.0f / std::sqrt(100.0f);  // kaiming-uniform with a = sqrt(5)
    float lo = 1, hi = -1;
    for (float v : a.weight.to_vector()) lo = std::min(lo, v), hi = std::max(hi, v);
    CHECK(lo >= -bound);
    CHECK(hi <= bound);
    CHECK(hi > 0.9f * bound);  // 5000 draws reach close to both ends
    CHECK(lo < -0.9f * bound);
    for (float v : a.bias.to_vector()) CHECK(std::abs(v) <= bound);
    nn::conv2d c({.in_channels = 2, .out_channels = 3, .kernel_size = 3});
    const float conv_bound = 1.0f / std::sqrt(18.0f);
    for (float v : c.weight.to_vector()) CHECK(std::abs(v) <= conv_bound);
}

TEST_CASE("init functions fill tensors with their distributions", "[eager][modules][init]") {
    tensor t = eager::empty({200, 100});
    nn::init::zeros_(t);
    CHECK(eager::sum(t).item() == 0);
    nn::init::ones_(t);
    CHECK(eager::mean(t).item() == 1);
    nn::init::constant_(t, 2.5);
    CHECK(t.at({3, 4}) == 2.5f);
    nn::init::uniform_(t, -2, 3);
    CHECK(eager::mean(t).item() == Approx(0.5).margin(0.05));
    nn::init::normal_(t, 1, 2);
    CHECK(eager::mean(t).item() == Approx(1).margin(0.05));
    const auto stddev = [&] {
        return std::sqrt(eager::mean(eager::pow(t - eager::mean(t).item(), 2.0f)).item());
    };
    CHECK(stddev() == Approx(2).epsilon(0.03));
    nn::init::kaiming_normal_(t, 0, nn::init::fan_mode::fan_in, nn::init::nonlinearity::relu);
    CHECK(stddev() == Approx(std::sqrt(2.0 / 100)).epsilon(0.03));
    nn::init::kaiming_uniform_(t, 0, nn::init::fan_mode::fan_out, nn::init::nonlinearity::relu);
    CHECK(stddev() == Approx(std::sqrt(2.0 / 200)).epsilon(0.03));  // uniform +-b has std b / sqrt 3
    nn::init::xavier_uniform_(t);
    CHECK(stddev() == Approx(std::sqrt(2.0 / 300)).epsilon(0.03));
    nn::init::xavier_normal_(t, 2);
    CHECK(stddev() == Approx(2 * std::sqrt(2.0 / 300)).epsilon(0.03));
    tensor v = eager::empty({3});
    CHECK_THROWS_WITH(nn::init::xavier_uniform_(v), Catch::Contains("rank 2"));
}

TEST_CASE("modules print like PyTorch's, with their options", "[eager][modules]") {
    nn::sequential seq(nn::conv2d({.in_channels = 1, .out_channels = 4, .kernel_size = 3, .padding = 1}),
                       nn::relu(), nn::max_pool2d(), nn::flatten(),
                       nn::linear({.in_features = 4, .out_features = 2, .bias = false}));
    std::ostringstream os;
    os << seq;
    CHECK(os.str() ==
          "sequential(\n"
          "  (0): conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
          "  (1): relu()\n"
          "  (2): max_pool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1), "
          "ceil_mode=false)\n"
          "  (3): flatten(start_dim=1, end_dim=-1)\n"
          "  (4): linear(in_features=4, out_features=2, bias=false)\n"
          ")");
}

TEST_CASE("a state dict round-trips through a safetensors file with PyTorch's keys",
          "[eager][modules][state]") {
    nn::sequential a(nn::linear({3, 4}), nn::batch_norm1d({.num_features = 4}), nn::relu(),
                     nn::linear({4, 2}));
    a(eager::rand({5, 3}));  // moves the running statistics and counts a batch
    const nn::state_map sd = a.state_dict();
    std::vector<std::string> keys;
    for (const auto& [k, v] : sd) keys.push_back(k);
    CHECK(keys == std::vector<std::string>{"0.bias", "0.weight", "1.bias", "1.num_batches_tracked",
                                           "1.running_mean", "1.running_var", "1.weight", "3.bias",
                                           "3.weight"});
    CHECK(sd.at("1.num_batches_tracked").type == io::dtype::i64);
    const auto path = std::filesystem::temp_directory_path() / "katachi_eager_state.safetensors";
    nn::save(a, path);
    nn::sequential b(nn::linear({3, 4}), nn::batch_norm1d({.num_features = 4}), nn::relu(),
                     nn::linear({4, 2}));
    nn::load(b, path);
    std::filesystem::remove(path);
    CHECK(b.at<nn::batch_norm1d>(1).num_batches_tracked == 1);
    for (std::size_t i = 0; i < a.parameters().size(); ++i)
        CHECK(a.parameters()[i].to_vector() == b.parameters()[i].to_vector());
    CHECK(a.buffers()[0].to_vector() == b.buffers()[0].to_vector());
    a.eval();
    b.eval();
    const tensor x = eager::rand({2, 3});
    CHECK(a(x).to_vector() == b(x).to_vector());
}

TEST_CASE("load_state_dict reports missing and unexpected keys, strictly or not", "[eager][modules][state]") {
    nn::sequential a(nn::linear({3, 4}), nn::linear({4, 2}));
    nn::state_map sd = a.state_dict();
    sd.erase("1.bias");
    sd.emplace("2.weight", sd.at("1.weight"));
    nn::sequential b(nn::linear({3, 4}), nn::linear({4, 2}));
    CHECK_THROWS_WITH(b.load_state_dict(sd), Catch::Contains("missing keys: \"1.bias\"") &&
                                                 Catch::Contains("unexpected keys: \"2.weight\""));
    const nn::load_result r = b.load_state_dict(sd, false);
    CHECK(r.missing_keys == std::vector<std::string>{"1.bias"});
    CHECK(r.unexpected_keys == std::vector<std::string>{"2.weight"});
    CHECK(b.at<nn::linear>(1).weight.to_vector() == a.at<nn::linear>(1).weight.to_vector());
    nn::sequential wrong(nn::linear({3, 5}), nn::linear({5, 2}));
    CHECK_THROWS_WITH(wrong.load_state_dict(a.state_dict(), false),
                      Catch::Contains("0.weight") && Catch::Contains("[4, 3]") && Catch::Contains("[5, 3]"));
}

namespace {
// Every value of every parameter and buffer, and the batch norms' counts, in order.
std::vector<std::vector<float>> snapshot(nn::module& m) {
    std::vector<std::vector<float>> out;
    for (const auto& t : m.parameters()) out.push_back(t.to_vector());
    for (const auto& t : m.buffers()) out.push_back(t.to_vector());
    for (auto& [name, sub] : m.named_modules())
        if (auto* bn = dynamic_cast<nn::batch_norm1d*>(sub))
            out.push_back({static_cast<float>(bn->num_batches_tracked)});
    return out;
}
}  // namespace

TEST_CASE("a load_state_dict that fails anywhere changes nothing in the model", "[eager][modules][state]") {
    const auto make = [] {
        return nn::sequential(nn::linear({3, 4}), nn::batch_norm1d({.num_features = 4}), nn::relu(),
                              nn::linear({4, 2}));
    };
    nn::sequential source = make();
    source(eager::rand({5, 3}));
    nn::sequential target = make();
    const auto before = snapshot(target);
    REQUIRE(before != snapshot(source));

    SECTION("a shape mismatch in a later layer") {
        nn::state_map sd = source.state_dict();
        sd.at("3.weight") = nn::sequential(nn::linear({3, 4}), nn::batch_norm1d({.num_features = 4}),
                                           nn::relu(), nn::linear({4, 3}))
                                .state_dict()
                                .at("3.weight");
        CHECK_THROWS_WITH(target.load_state_dict(sd), Catch::Contains("\"3.weight\" has shape [3, 4]"));
    }
    SECTION("an unexpected key, strictly") {
        nn::state_map sd = source.state_dict();
        sd.emplace("4.weight", sd.at("3.weight"));
        CHECK_THROWS_WITH(target.load_state_dict(sd), Catch::Contains("unexpected keys: \"4.weight\""));
    }
    SECTION("a missing key, strictly") {
        nn::state_map sd = source.state_dict();
        sd.erase("3.bias");
        CHECK_THROWS_WITH(target.load_state_dict(sd), Catch::Contains("missing keys: \"3.bias\""));
    }
    SECTION("an integer tensor where a float one belongs, which names its key") {
        nn::state_map sd = source.state_dict();
        const std::vector<std::int64_t> values{1, 2};
        sd.at("3.bias") = io::tensor::from<std::int64_t>(std::span<const std::int64_t>(values), {2});
        CHECK_THROWS_WITH(target.load_state_dict(sd),
                          Catch::Contains("tensor \"3.bias\"") && Catch::Contains("I64"));
    }
    SECTION("num_batches_tracked of two values") {
        nn::state_map sd = source.state_dict();
        const std::vector<std::int64_t> counts{1, 2};
        sd.at("1.num_batches_tracked") = io::tensor::from<std::int64_t>(std::span<const std::int64_t>(counts), {2});
        CHECK_THROWS_WITH(target.load_state_dict(sd), Catch::Contains("1.num_batches_tracked"));
    }
    CHECK(snapshot(target) == before);
    // And the same dict, corrected, loads.
    target.load_state_dict(source.state_dict());
    CHECK(snapshot(target) == snapshot(source));
}

TEST_CASE("a float64 state dict loads into float32 modules rounded, as PyTorch's copy_ does",
          "[eager][modules][state]") {
    nn::linear layer({2, 2});
    const std::vector<double> w{0.1, 0.2, 0.3, 1.0 / 3.0}, b{-1.5, 2.25};
    nn::state_map sd;
    sd.emplace("weight", io::tensor::from<double>(std::span<const double>(w), {2, 2}));
    sd.emplace("bias", io::tensor::from<double>(std::span<const double>(b), {2}));
    layer.load_state_dict(sd);
    CHECK(layer.weight.to_vector() == std::vector<float>{0.1f, 0.2f, 0.3f, static_cast<float>(1.0 / 3.0)});
    CHECK(layer.bias.to_vector() == std::vector<float>{-1.5f, 2.25f});
}

TEST_CASE("dropout follows the module's mode and functional dropout its flag", "[eager][modules]") {
    const tensor x = eager::ones({100});
    nn::dropout d(0.5);
    const tensor dropped = d(x);
    std::size_t zeros = 0;
    for (float v : dropped.to_vector()) {
        zeros += v == 0;
        CHECK((v == 0 || v == 2));
    }
    CHECK(zeros > 20);
    d.eval();
    CHECK(d(x).to_vector() == x.to_vector());
    CHECK(eager::dropout(x, 0.5, false).to_vector() == x.to_vector());
    CHECK(eager::dropout(x, 0.5).to_vector() != x.to_vector());  // training defaults to true
}

TEST_CASE("dropout refuses a probability outside [0, 1] with the op's sentence", "[eager][modules]") {
    const tensor x = eager::ones({4});
    const std::string sentence = "dropout: takes a drop probability p in [0, 1], got 1.5";
    CHECK_THROWS_WITH(nn::dropout(1.5), sentence);
    CHECK_THROWS_WITH(eager::dropout(x, 1.5, true), sentence);
    CHECK_THROWS_WITH(eager::dropout(x, 1.5, false), sentence);  // even where it would be the identity
    CHECK_THROWS_AS(eager::dropout(x, -0.1, false), std::invalid_argument);
}

TEST_CASE("the activations take a tensor of any shape, a scalar included, and differentiate it",
          "[eager][modules]") {
    const tensor s = eager::full({}, -2.0f).requires_grad_();
    const tensor y = eager::leaky_relu(s, 0.25);
    CHECK(y.shape() == sizes{});
    CHECK(y.item() == Approx(-0.5f));
    y.backward();
    CHECK(s.grad().item() == Approx(0.25f));

    const tensor deep = eager::randn({2, 1, 2, 1, 2, 1, 2, 3}).requires_grad_();  // 8 sizes, past a batch's 7
    const tensor r = eager::relu(deep);
    CHECK(r.shape() == deep.shape());
    eager::sum(r).backward();
    const auto xs = deep.to_vector(), gs = deep.grad().to_vector(), rs = r.to_vector();
    for (std::size_t i = 0; i < xs.size(); ++i) {
        CHECK(rs[i] == (xs[i] > 0 ? xs[i] : 0.0f));
        CHECK(gs[i] == (xs[i] > 0 ? 1.0f : 0.0f));
    }
}

TEST_CASE("an optimiser step between forward and backward makes backward refuse the stale tape",
          "[eager][modules][version]") {
    nn::linear layer({3, 2});
    optim::sgd<float> opt(nn::optimiser_parameters(layer), {.lr = 0.1});
    const tensor x = eager::rand({4, 3}).requires_grad_();
    const tensor loss = eager::sum(layer(x));
    loss.backward(true);
    opt.step();  // writes the weight that the tape saved for x's gradient
    CHECK(layer.weight.version() >= 1);
    CHECK_THROWS_WITH(loss.backward(), Catch::Contains("saved by 'linear'") && Catch::Contains("is at version"));
    // A fresh forward sees the new weight and backward runs.
    opt.zero_grad();
    eager::sum(layer(x)).backward();
    CHECK(layer.weight.grad().defined());
}

TEST_CASE("errors from a module_list's items and from modules called directly name their paths",
          "[eager][modules][errors]") {
    // A tower of blocks in a module_list, called through operator(); each block calls its own
    // child's forward directly, which makes no frame: the block's path is named.
    struct block : nn::module {
        std::shared_ptr<nn::linear> fc;
        explicit block(std::size_t width) {
            fc = register_module("fc", std::make_shared<nn::linear>(nn::linear_options{width, width}));
        }
        std::string type_name() const override { return "block"; }
        tensor forward(const tensor& x) override { return fc->forward(x); }
    };
    struct tower : nn::module {
        std::shared_ptr<nn::module_list> blocks;
        tower() {
            blocks = register_module("blocks", std::make_shared<nn::module_list>(
                                                   std::make_shared<block>(4), std::make_shared<block>(4),
                                                   std::make_shared<block>(3)));
        }
        std::string type_name() const override { return "tower"; }
        tensor forward(const tensor& x) override {
            tensor y = x;
            for (const auto& b : *blocks) y = (*b)(y);
            return y;
        }
    };
    tower t;
    CHECK_THROWS_AS(t(eager::ones({2, 4})), shape_mismatch);
    CHECK_THROWS_WITH(t(eager::ones({2, 4})),
                      Catch::StartsWith("blocks.2 (block): linear: shapes [2, 4] and [3, 3] do not fit"));
    // Called through operator(), the block's child is a frame too: its path is complete.
    struct careful_block : block {
        using block::block;
        tensor forward(const tensor& x) override { return (*fc)(x); }
    };
    nn::sequential s(std::make_shared<careful_block>(4), std::make_shared<careful_block>(3));
    CHECK_THROWS_WITH(s(eager::ones({2, 4})), Catch::StartsWith("1.fc (linear): shapes [2, 4] and [3, 3]"));
    // The path is the state dict's: the parameter that does not fit is "1.fc.weight".
    CHECK(s.state_dict().count("1.fc.weight") == 1);
    // A shared module is named by the first path it is found at.
    auto shared = std::make_shared<nn::linear>(nn::linear_options{3, 3});
    nn::sequential twice(shared, nn::relu(), shared);
    CHECK_THROWS_WITH(twice(eager::ones({1, 4})), Catch::StartsWith("0 (linear): "));
}

TEST_CASE("a sequential runs a relu and the max pooling after it as one op, with the pair's values and gradients",
          "[eager][modules]") {
    const std::vector<nn::max_pool2d_options> cases{
        {},                                                      // 2x2, stride 2: window positions kept
        {.kernel_size = 3, .stride = 2, .padding = 1},           // flat indices, padding
        {.kernel_size = 2, .stride = 2, .ceil_mode = true},      // a partial window at the edge
        {.kernel_size = 2, .stride = 1, .dilation = 2}};
    for (const auto& o : cases) {
        eager::manual_seed(5);
        const auto act = std::make_shared<nn::relu>();
        const auto pool = std::make_shared<nn::max_pool2d>(o);
        nn::sequential fused(act, pool);
        tensor x1 = eager::randn({2, 3, 7, 7});
        x1.requires_grad_();
        tensor x2 = x1.detach().clone().requires_grad_();
        const tensor y1 = fused(x1), y2 = (*pool)((*act)(x2));  // through the sequential, and one by one
        CHECK(y1.grad_fn_name() == std::string("max_pool2d"));
        CHECK(y1.shape() == y2.shape());
        CHECK(y1.to_vector() == y2.to_vector());
        const tensor r = eager::randn(y1.shape());
        eager::sum(y1 * r).backward();
        eager::sum(y2 * r).backward();
        CHECK(x1.grad().to_vector() == x2.grad().to_vector());
        eager::no_grad guard;  // and without a tape
        CHECK(fused(x1).to_vector() == y2.to_vector());
    }
}

namespace {

// Whether a and b agree to within tol, relative to b's largest magnitude (one scale for a whole
// tensor: the fused op sums the same products in another order).
bool agree(const std::vector<float>& a, const std::vector<float>& b, double tol) {
    if (a.size() != b.size()) return false;
    double scale = 1e-30, worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        scale = std::max(scale, std::abs(static_cast<double>(b[i])));
        worst = std::max(worst, std::abs(static_cast<double>(a[i]) - b[i]));
    }
    return worst <= tol * scale;
}

}  // namespace

TEST_CASE(
    "a sequential runs a convolution, its relu and a 2x2 max pooling as one op where they fit, "
    "with the three layers' values and gradients",
    "[eager][modules]") {
    struct example {
        nn::conv2d_options conv;
        sizes input;
        bool fused;
    };
    const std::vector<example> cases{
        // One input channel, 3x3: the direct pass.
        {{.in_channels = 1, .out_channels = 8, .kernel_size = 3, .padding = 1}, {3, 1, 12, 12}, true},
        // The LeNet's second convolution: Winograd's pooled forward and backward (five samples).
        {{.in_channels = 32, .out_channels = 64, .kernel_size = 3, .padding = 1}, {5, 32, 14, 14}, true},
        // No padding, no bias, two samples.
        {{.in_channels = 16, .out_channels = 32, .kernel_size = 3, .bias = false}, {2, 16, 10, 10}, true},
        // A stride of 2, and a 5x5 kernel over three channels: the layers run one by one.
        {{.in_channels = 4, .out_channels = 8, .kernel_size = 3, .stride = 2, .padding = 1},
         {2, 4, 12, 12},
         false},
        {{.in_channels = 3, .out_channels = 4, .kernel_size = 5, .padding = 2}, {2, 3, 8, 8}, false}};
    for (const auto& e : cases) {
        INFO("input " << e.input.str() << ", fused " << e.fused);
        eager::manual_seed(7);
        const auto conv = std::make_shared<nn::conv2d>(e.conv);
        const auto act = std::make_shared<nn::relu>();
        const auto pool = std::make_shared<nn::max_pool2d>();
        nn::sequential three(conv, act, pool);
        tensor x1 = eager::randn(e.input);
        x1.requires_grad_();
        tensor x2 = x1.detach().clone().requires_grad_();
        const tensor y1 = three(x1), y2 = (*pool)((*act)((*conv)(x2)));  // together, and one by one
        CHECK(y1.grad_fn_name() == std::string(e.fused ? "conv2d_relu_max_pool2d" : "max_pool2d"));
        // Fused, the node reads x itself; else the convolution's node comes before it.
        const auto& first = y1.grad_fn()->inputs().front();
        CHECK((first.fn == nullptr) == e.fused);
        REQUIRE(y1.shape() == y2.shape());
        CHECK(agree(y1.to_vector(), y2.to_vector(), 1e-6));
        const tensor r = eager::randn(y1.shape());
        eager::sum(y1 * r).backward();
        const std::vector<float> dw1 = conv->weight.grad().to_vector();
        const std::vector<float> db1 = e.conv.bias ? conv->bias.grad().to_vector() : std::vector<float>{};
        conv->zero_grad();
        eager::sum(y2 * r).backward();
        CHECK(agree(x1.grad().to_vector(), x2.grad().to_vector(), 1e-5));
        CHECK(agree(dw1, conv->weight.grad().to_vector(), 1e-5));
        if (e.conv.bias) CHECK(agree(db1, conv->bias.grad().to_vector(), 1e-5));
        eager::no_grad guard;  // and without a tape
        CHECK(agree(three(x1).to_vector(), y2.to_vector(), 1e-6));
    }
}

TEST_CASE(
    "a lazy_conv2d joins the fused convolution, relu and pooling once its first call has materialised it",
    "[eager][modules][lazy]") {
    eager::manual_seed(3);
    const auto conv = std::make_shared<nn::lazy_conv2d>(
        nn::conv2d_options{.out_channels = 8, .kernel_size = 3, .padding = 1});
    nn::sequential three(conv, nn::relu(), nn::max_pool2d());
    tensor x = eager::randn({3, 2, 10, 10});
    x.requires_grad_();
    const tensor first = three(x);  // materialises the convolution: the layers one by one
    CHECK_FALSE(conv->has_uninitialized_params());
    CHECK(first.grad_fn()->inputs().front().fn != nullptr);
    const tensor second = three(x);  // now as one op
    CHECK(second.grad_fn()->inputs().front().fn == nullptr);
    CHECK(second.shape() == sizes{3, 8, 5, 5});
    CHECK(agree(second.to_vector(), first.to_vector(), 1e-6));
    eager::sum(second).backward();
    const std::vector<float> dx = x.grad().to_vector(), dw = conv->weight.grad().to_vector();
    x.grad().zero_();
    conv->zero_grad();
    eager::sum(first).backward();
    CHECK(agree(dx, x.grad().to_vector(), 1e-5));
    CHECK(agree(dw, conv->weight.grad().to_vector(), 1e-5));
}
