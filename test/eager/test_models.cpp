// Whole models against PyTorch (test/data/fixtures_models.py): logits, loss, every gradient and the
// running statistics, for models built from plain modules and again from lazy modules that a
// load_state_dict materialises.
//
// Tolerances: float32 sums over thousands of terms in another order than PyTorch's; a relative
// 1e-4 (with an absolute floor of 1e-5 or 1e-6) is the model-level rule the graph face uses too.
#include <catch2/catch.hpp>
#include <katachi/eager.hpp>
#include <katachi/optim/sgd.hpp>
#include <support/fixtures.hpp>

#include "eager_support.hpp"

using namespace katachi;
namespace nn = katachi::eager::nn;
using eager::tensor;
using test::fixture;
using test::require_allclose;

namespace {

const io::safetensors_file& models() {
    static const io::safetensors_file f = test::load_fixture_file("models.safetensors");
    return f;
}

// "P.<group>.<name>" entries as a state dict keyed by <name>.
nn::state_map state_of(const std::string& prefix, const std::string& group) {
    nn::state_map out;
    const std::string head = prefix + "." + group + ".";
    for (const auto& [key, t] : models().tensors)
        if (key.rfind(head, 0) == 0) out.emplace(key.substr(head.size()), t);
    return out;
}

std::vector<std::int64_t> targets(const std::string& prefix) {
    const auto t = fixture<std::int64_t>(models(), prefix + ".target");
    return {t.begin(), t.end()};
}

// The resblock model: a ResNet basic block and a head, with PyTorch's node names.
struct resblock : nn::module {
    std::shared_ptr<nn::conv2d> conv1, conv2;
    std::shared_ptr<nn::batch_norm2d> bn1, bn2;
    std::shared_ptr<nn::adaptive_avg_pool2d> pool;
    std::shared_ptr<nn::linear> fc;
    explicit resblock(bool lazy) {
        const nn::conv2d_options c{
            .in_channels = 8, .out_channels = 8, .kernel_size = 3, .padding = 1, .bias = false};
        if (lazy) {
            conv1 = register_module("conv1", std::make_shared<nn::lazy_conv2d>(c));
            bn1 = register_module("bn1", std::make_shared<nn::lazy_batch_norm2d>());
            conv2 = register_module("conv2", std::make_shared<nn::lazy_conv2d>(c));
            bn2 = register_module("bn2", std::make_shared<nn::lazy_batch_norm2d>());
        } else {
            conv1 = register_module("conv1", std::make_shared<nn::conv2d>(c));
            bn1 = register_module(
                "bn1", std::make_shared<nn::batch_norm2d>(nn::batch_norm_options{.num_features = 8}));
            conv2 = register_module("conv2", std::make_shared<nn::conv2d>(c));
            bn2 = register_module(
                "bn2", std::make_shared<nn::batch_norm2d>(nn::batch_norm_options{.num_features = 8}));
        }
        pool = register_module("pool", std::make_shared<nn::adaptive_avg_pool2d>(1));
        fc = register_module(
            "fc", lazy ? std::static_pointer_cast<nn::linear>(
                             std::make_shared<nn::lazy_linear>(nn::linear_options{.out_features = 3}))
                       : std::make_shared<nn::linear>(nn::linear_options{8, 3}));
    }
    std::string type_name() const override { return "resblock"; }
    tensor forward(const tensor& x) override {
        tensor y = eager::relu((*bn1)((*conv1)(x)));
        y = (*bn2)((*conv2)(y));
        y = eager::relu(y + x);
        return (*fc)((*pool)(y).flatten(1));
    }
};

std::shared_ptr<nn::module> build(const std::string& name, bool lazy) {
    using namespace nn;
    if (name == "lenet") {
        if (lazy)
            return std::make_shared<sequential>(
                lazy_conv2d({.out_channels = 32, .kernel_size = 3, .padding = 1}), relu(), max_pool2d(),
                lazy_conv2d({.out_channels = 64, .kernel_size = 3, .padding = 1}), relu(), max_pool2d(),
                flatten(), lazy_linear({.out_features = 128}), relu(), lazy_linear({.out_features = 10}));
        return std::make_shared<sequential>(
            conv2d({.in_channels = 1, .out_channels = 32, .kernel_size = 3, .padding = 1}), relu(),
            max_pool2d(), conv2d({.in_channels = 32, .out_channels = 64, .kernel_size = 3, .padding = 1}),
            relu(), max_pool2d(), flatten(), linear({3136, 128}), relu(), linear({128, 10}));
    }
    if (name == "mlp_bn") {
        if (lazy)
            return std::make_shared<sequential>(lazy_linear({.out_features = 32}), lazy_batch_norm1d(),
                                                relu(), lazy_linear({.out_features = 5}));
        return std::make_shared<sequential>(linear({20, 32}), batch_norm1d({.num_features = 32}), relu(),
                                            linear({32, 5}));
    }
    if (name == "resblock") return std::make_shared<resblock>(lazy);
    REQUIRE(name == "strided");
    if (lazy)
        return std::make_shared<sequential>(
            lazy_conv2d({.out_channels = 6, .kernel_size = 3, .stride = 2, .padding = 1}), nn::tanh(),
            avg_pool2d(), flatten(), lazy_linear({.out_features = 4}), nn::sigmoid());
    return std::make_shared<sequential>(
        conv2d({.in_channels = 3, .out_channels = 6, .kernel_size = 3, .stride = 2, .padding = 1}),
        nn::tanh(), avg_pool2d(), flatten(), linear({96, 4}), nn::sigmoid());
}

template <class T>
void require_close(const tensor& actual, const std::string& key, double rtol, double atol) {
    INFO("fixture " << key);
    require_allclose(test::to_xarray(actual), fixture<T>(models(), key), rtol, atol);
}

// One forward and backward of `model` on P.input; checks logits, loss and gradients under `key`.
void check_pass(nn::module& model, const std::string& p, const std::string& key = "") {
    tensor x = test::from_xarray(fixture<float>(models(), p + ".input")).requires_grad_();
    model.zero_grad(true);
    const tensor logits = model(x);
    const tensor loss =
        p == "strided" ? eager::mse_loss(logits, test::from_xarray(fixture<float>(models(), p + ".target")))
                       : eager::cross_entropy(logits, targets(p));
    loss.backward();
    require_close<float>(logits, p + "." + key + "logits", 1e-4, 1e-5);
    require_close<float>(loss, p + "." + key + "loss", 1e-5, 1e-6);
    require_close<float>(x.grad(), p + "." + key + "input_grad", 1e-4, 1e-6);
    for (const auto& [name, t] : model.named_parameters())
        require_close<float>(t.grad(), p + "." + key + "grad." + name, 1e-4, 1e-6);
}

void check_running_statistics(const nn::module& model, const std::string& p) {
    const nn::state_map after = state_of(p, "after");
    REQUIRE_FALSE(after.empty());
    const nn::state_map now = model.state_dict();
    for (const auto& [name, expected] : after) {
        INFO("state " << name);
        REQUIRE(now.count(name) == 1);
        if (expected.type == io::dtype::i64)
            CHECK(*now.at(name).as<std::int64_t>().begin() == *expected.as<std::int64_t>().begin());
        else
            require_allclose(now.at(name).as<float>(), expected.as<float>(), 1e-5, 1e-6);
    }
}

}  // namespace

TEST_CASE("plain and lazy models match PyTorch's logits, loss and gradients", "[eager][models]") {
    for (const std::string p : {"lenet", "mlp_bn", "resblock", "strided"})
        for (const bool lazy : {false, true}) {
            INFO(p << (lazy ? " built from lazy modules" : " built from plain modules"));
            auto model = build(p, lazy);
            CHECK(model->has_uninitialized_params() == lazy);
            model->load_state_dict(state_of(p, "param"));
            CHECK_FALSE(model->has_uninitialized_params());
            model->train();
            check_pass(*model, p);
            if (p == "mlp_bn" || p == "resblock") check_running_statistics(*model, p);
        }
}

TEST_CASE("a lazy model loaded from a state dict saves the same state dict as the plain one",
          "[eager][models]") {
    for (const std::string p : {"lenet", "mlp_bn", "resblock", "strided"}) {
        INFO(p);
        auto plain = build(p, false), lazy = build(p, true);
        plain->load_state_dict(state_of(p, "param"));
        lazy->load_state_dict(state_of(p, "param"));
        const nn::state_map a = plain->state_dict(), b = lazy->state_dict();
        REQUIRE(a.size() == b.size());
        for (const auto& [key, t] : a) {
            REQUIRE(b.count(key) == 1);
            CHECK(b.at(key).shape == t.shape);
            CHECK(b.at(key).bytes == t.bytes);
        }
        std::ostringstream pa, pb;
        pa << *plain;
        pb << *lazy;
        CHECK(pa.str() == pb.str());
    }
}

TEST_CASE("the batch-norm MLP matches PyTorch after an SGD step and in eval mode", "[eager][models]") {
    for (const bool lazy : {false, true}) {
        INFO((lazy ? "lazy" : "plain"));
        auto model = build("mlp_bn", lazy);
        model->load_state_dict(state_of("mlp_bn", "param"));
        model->train();
        optim::sgd<float> opt(nn::optimiser_parameters(*model), {.lr = 0.1, .momentum = 0.9});
        check_pass(*model, "mlp_bn");
        opt.step();
        const nn::state_map stepped = state_of("mlp_bn", "step"), now = model->state_dict();
        for (const auto& [name, expected] : stepped) {
            INFO("after the step: " << name);
            if (expected.type == io::dtype::i64)
                CHECK(*now.at(name).as<std::int64_t>().begin() == *expected.as<std::int64_t>().begin());
            else
                require_allclose(now.at(name).as<float>(), expected.as<float>(), 1e-4, 1e-6);
        }
        model->eval();
        check_pass(*model, "mlp_bn", "eval.");
    }
}

namespace {

// The parameters after three sgd steps of a small conv net at batch 29 (uneven parts) on `threads`.
// Its first two convolutions run fused with their relu and pooling (the direct pass, then
// Winograd's), the third alone.
std::vector<std::vector<float>> eager_net_after_steps(int threads) {
    katachi::set_num_threads(threads);
    eager::manual_seed(3);
    nn::sequential net(nn::lazy_conv2d({.out_channels = 16, .kernel_size = 3, .padding = 1}), nn::relu(),
                       nn::max_pool2d(), nn::lazy_conv2d({.out_channels = 32, .kernel_size = 3, .padding = 1}),
                       nn::relu(), nn::max_pool2d(),
                       nn::lazy_conv2d({.out_channels = 32, .kernel_size = 3, .padding = 1}), nn::relu(),
                       nn::flatten(), nn::lazy_linear({.out_features = 10}));
    const tensor x = eager::rand({29, 1, 28, 28});
    std::vector<std::int64_t> y(29);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = static_cast<std::int64_t>(i % 10);
    net(x);
    optim::sgd<float> opt(nn::optimiser_parameters(net), {.lr = 0.05, .momentum = 0.9});
    for (int step = 0; step < 3; ++step) {
        opt.zero_grad();
        eager::cross_entropy(net(x), y).backward();
        opt.step();
    }
    std::vector<std::vector<float>> out;
    for (const auto& t : net.parameters()) out.push_back(t.to_vector());
    return out;
}

}  // namespace

TEST_CASE("in deterministic mode eager training is bit-identical on one, two and three threads",
          "[eager][deterministic]") {
    const int saved_threads = katachi::get_num_threads();
    katachi::set_deterministic(true);
    const auto one = eager_net_after_steps(1);
    const auto two = eager_net_after_steps(2);
    const auto three = eager_net_after_steps(3);
    katachi::set_deterministic(false);
    katachi::set_num_threads(saved_threads);
    CHECK(two == one);
    CHECK(three == one);
}

TEST_CASE("layer norm, batch norm and pooling options match PyTorch in training and evaluation",
          "[eager][models]") {
    // test/data/fixtures_vocabulary.py; the graph face runs the same model (test_pytorch_models.cpp).
    static const io::safetensors_file file = test::load_fixture_file("vocabulary.safetensors");
    const auto group = [&](const std::string& head) {
        nn::state_map out;
        for (const auto& [key, t] : file.tensors)
            if (key.rfind(head, 0) == 0) out.emplace(key.substr(head.size()), t);
        return out;
    };
    using namespace nn;
    auto model = std::make_shared<sequential>(
        conv2d({.in_channels = 2, .out_channels = 4, .kernel_size = 3, .padding = 1}),
        layer_norm({.normalized_shape = {4, 6, 5}}), relu(),
        max_pool2d({.kernel_size = 3, .stride = 2, .ceil_mode = true}),
        batch_norm2d({.num_features = 4, .eps = 1e-3, .momentum = std::nullopt}), nn::tanh(),
        avg_pool2d({.kernel_size = 2, .stride = 1, .padding = 1, .ceil_mode = true, .count_include_pad = false}),
        batch_norm2d({.num_features = 4, .affine = false}), flatten(),
        linear({.in_features = 48, .out_features = 16, .bias = false}),
        batch_norm1d({.num_features = 16, .track_running_stats = false}),
        layer_norm({.normalized_shape = 16, .elementwise_affine = false}), linear({16, 3}));
    const auto result = model->load_state_dict(group("norms.param."));
    REQUIRE(result.missing_keys.empty());
    REQUIRE(result.unexpected_keys.empty());
    const auto t = fixture<std::int64_t>(file, "norms.target");
    const std::vector<std::int64_t> target(t.begin(), t.end());
    const auto check = [&](const std::string& key) {
        tensor x = test::from_xarray(fixture<float>(file, "norms.input")).requires_grad_();
        model->zero_grad(true);
        const tensor logits = (*model)(x);
        const tensor loss = eager::cross_entropy(logits, target);
        loss.backward();
        require_allclose(test::to_xarray(logits), fixture<float>(file, "norms." + key + "logits"), 1e-4, 1e-5);
        require_allclose(test::to_xarray(loss), fixture<float>(file, "norms." + key + "loss"), 1e-5, 1e-6);
        require_allclose(test::to_xarray(x.grad()), fixture<float>(file, "norms." + key + "input_grad"), 1e-4, 1e-6);
        for (const auto& [name, p] : model->named_parameters()) {
            INFO("gradient of " << name);
            require_allclose(test::to_xarray(p.grad()), fixture<float>(file, "norms." + key + "grad." + name), 1e-4,
                             1e-6);
        }
    };
    model->train();
    check("");
    {
        eager::no_grad guard;
        (*model)(test::from_xarray(fixture<float>(file, "norms.input2")));
    }
    const nn::state_map now = model->state_dict();
    for (const auto& [name, expected] : group("norms.after.")) {
        INFO("state " << name);
        REQUIRE(now.count(name) == 1);
        if (expected.type == io::dtype::i64)
            CHECK(*now.at(name).as<std::int64_t>().begin() == *expected.as<std::int64_t>().begin());
        else
            require_allclose(now.at(name).as<float>(), expected.as<float>(), 1e-5, 1e-6);
    }
    model->eval();
    check("eval.");
}
