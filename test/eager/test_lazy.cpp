// Lazy modules: the uninitialized state, materialisation by forward, by materialize(shape) and by
// load_state_dict, the errors, and becoming the concrete module.
#include <catch2/catch.hpp>
#include <katachi/eager.hpp>
#include <katachi/optim/sgd.hpp>
#include <filesystem>
#include <sstream>

using namespace katachi;
namespace nn = katachi::eager::nn;
using eager::sizes;
using eager::tensor;

namespace {
std::string printed(const nn::module& m) {
    std::ostringstream os;
    os << m;
    return os.str();
}

// The message of the exception of type E that f throws ("" when it throws none).
template <class E, class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    return "";
}

// A model laid out as torchvision's are: a child "features" (a sequential of lazy layers), called
// through operator() by the model's forward.
struct features_net : nn::module {
    std::shared_ptr<nn::sequential> features;
    features_net() {
        features = register_module(
            "features", std::make_shared<nn::sequential>(nn::lazy_conv2d({.out_channels = 4, .kernel_size = 3}),
                                                         nn::relu(), nn::lazy_conv2d({.out_channels = 6, .kernel_size = 3}),
                                                         nn::lazy_batch_norm2d()));
    }
    std::string type_name() const override { return "features_net"; }
    tensor forward(const tensor& x) override { return (*features)(x); }
    // A direct call would not be a frame of the tree; call_child makes it one (names "features").
    sizes output_shape(const sizes& input) const override {
        return call_child("features", *features, [&] { return features->output_shape(input); });
    }
};

std::shared_ptr<features_net> features_and_classifier() {
    return std::make_shared<features_net>();
}
}  // namespace

TEST_CASE("a lazy module's parameters are uninitialized with unknown shape", "[eager][lazy]") {
    nn::lazy_linear lin({.out_features = 4});
    CHECK(lin.has_uninitialized_params());
    CHECK(lin.weight.is_uninitialized());
    CHECK_THROWS_AS(lin.weight.shape(), eager::uninitialized_parameter_error);
    CHECK_THROWS_WITH(lin.weight.numel(), Catch::Contains("lazy_linear.weight"));
    CHECK(lin.type_name() == "lazy_linear");
    CHECK(printed(lin) == "lazy_linear(in_features=uninitialized, out_features=4, bias=true)");
    CHECK(lin.named_parameters().size() == 2);
}

TEST_CASE("the first forward materialises a lazy module from its input", "[eager][lazy]") {
    nn::lazy_linear lin({.out_features = 4});
    const tensor y = lin(eager::ones({2, 7}));
    CHECK(y.shape() == sizes{2, 4});
    CHECK_FALSE(lin.has_uninitialized_params());
    CHECK(lin.weight.shape() == sizes{4, 7});
    CHECK(lin.options.in_features == 7);
    CHECK_THROWS_AS(lin(eager::ones({2, 6})), shape_mismatch);  // fixed from now on
}

TEST_CASE("one forward through a sequential of lazy modules materialises all of them",
          "[eager][lazy][seed]") {
    nn::sequential net(nn::lazy_conv2d({.out_channels = 8, .kernel_size = 3, .padding = 1}), nn::relu(),
                       nn::max_pool2d(), nn::lazy_conv2d({.out_channels = 16, .kernel_size = 3}),
                       nn::lazy_batch_norm2d(), nn::relu(), nn::flatten(),
                       nn::lazy_linear({.out_features = 10}));
    CHECK(net.has_uninitialized_params());
    CHECK(net(eager::rand({2, 3, 12, 12})).shape() == sizes{2, 10});
    CHECK_FALSE(net.has_uninitialized_params());
    CHECK(net.at<nn::conv2d>(0).weight.shape() == sizes{8, 3, 3, 3});
    CHECK(net.at<nn::conv2d>(3).weight.shape() == sizes{16, 8, 3, 3});
    CHECK(net.at<nn::batch_norm2d>(4).running_mean.shape() == sizes{16});
    CHECK(net.at<nn::linear>(7).weight.shape() == sizes{10, 16 * 4 * 4});
}

TEST_CASE("materialize(input_shape) materialises without data, by shape arithmetic alone", "[eager][lazy]") {
    nn::sequential net(nn::lazy_conv2d({.out_channels = 4, .kernel_size = 3, .stride = 2}),
                       nn::lazy_batch_norm2d(),
                       nn::lazy_conv_transpose2d({.out_channels = 2, .kernel_size = 2, .stride = 2}),
                       nn::flatten(), nn::lazy_linear({.out_features = 3}));
    const std::size_t nodes = eager::live_nodes();
    CHECK(net.materialize({5, 1, 9, 9}) == sizes{5, 3});
    CHECK(eager::live_nodes() == nodes);
    CHECK_FALSE(net.has_uninitialized_params());
    CHECK(net.at<nn::conv_transpose2d>(2).weight.shape() == sizes{4, 2, 2, 2});
    CHECK(net.at<nn::linear>(4).weight.shape() == sizes{3, 2 * 8 * 8});
    CHECK(net.at<nn::batch_norm2d>(1).num_batches_tracked == 0);  // no forward ran
    nn::lazy_conv1d c1({.out_channels = 2, .kernel_size = 3});
    CHECK(c1.materialize({1, 5, 10}) == sizes{1, 2, 8});
    nn::lazy_batch_norm1d bn;
    CHECK(bn.materialize({4, 6}) == sizes{4, 6});
    CHECK(bn.options.num_features == 6);
}

TEST_CASE("initialising an uninitialized parameter throws, naming the module and the parameter",
          "[eager][lazy][seed]") {
    nn::lazy_conv2d conv({.out_channels = 4, .kernel_size = 3});
    CHECK_THROWS_AS(nn::init::kaiming_uniform_(conv.weight), eager::uninitialized_parameter_error);
    CHECK_THROWS_WITH(nn::init::xavier_normal_(conv.weight),
                      Catch::Contains("lazy_conv2d.weight") && Catch::Contains("uninitialized"));
    CHECK_THROWS_WITH(nn::init::zeros_(conv.bias), Catch::Contains("lazy_conv2d.bias"));
    nn::lazy_batch_norm1d bn;
    CHECK_THROWS_WITH(nn::init::ones_(bn.weight), Catch::Contains("lazy_batch_norm1d.weight"));
}

TEST_CASE("an initializer given at construction runs at materialisation", "[eager][lazy]") {
    nn::lazy_linear lin({.out_features = 3}, [](nn::linear& l) {
        nn::init::constant_(l.weight, 0.5);
        nn::init::zeros_(l.bias);
    });
    lin.materialize({1, 4});
    CHECK(lin.weight.to_vector() == std::vector<float>(12, 0.5f));
    CHECK(lin.bias.to_vector() == std::vector<float>(3, 0.0f));
}

TEST_CASE("a conv2d state dict loaded into a lazy_conv2d makes it a conv2d", "[eager][lazy][seed]") {
    nn::conv2d plain({.in_channels = 3, .out_channels = 5, .kernel_size = {3, 2}, .stride = 2, .padding = 1});
    nn::lazy_conv2d lazy({.out_channels = 5, .kernel_size = {3, 2}, .stride = 2, .padding = 1});
    lazy.load_state_dict(plain.state_dict());
    CHECK_FALSE(lazy.has_uninitialized_params());
    // indistinguishable: name, options, printing, state, forward
    CHECK(lazy.type_name() == "conv2d");
    CHECK(lazy.options.in_channels == 3);
    CHECK(printed(lazy) == printed(plain));
    CHECK(dynamic_cast<nn::conv2d*>(&lazy) != nullptr);
    const nn::state_map a = plain.state_dict(), b = lazy.state_dict();
    REQUIRE(a.size() == b.size());
    for (const auto& [key, t] : a) CHECK(b.at(key).bytes == t.bytes);
    const tensor x = eager::rand({2, 3, 9, 8});
    CHECK(lazy(x).to_vector() == plain(x).to_vector());
    CHECK(lazy.output_shape({2, 3, 9, 8}) == plain.output_shape({2, 3, 9, 8}));
}

TEST_CASE("every lazy module loads completely from its concrete module's state", "[eager][lazy]") {
    nn::batch_norm2d bn({.num_features = 6});
    bn(eager::rand({4, 6, 3, 3}));
    nn::lazy_batch_norm2d lbn;
    lbn.load_state_dict(bn.state_dict());
    CHECK(lbn.type_name() == "batch_norm2d");
    CHECK(lbn.num_batches_tracked == 1);
    CHECK(lbn.running_mean.to_vector() == bn.running_mean.to_vector());
    nn::conv_transpose2d up({.in_channels = 4, .out_channels = 2, .kernel_size = 2, .stride = 2});
    nn::lazy_conv_transpose2d lup({.out_channels = 2, .kernel_size = 2, .stride = 2});
    lup.load_state_dict(up.state_dict());
    CHECK(lup.options.in_channels == 4);
    CHECK(printed(lup) == printed(up));
    nn::conv1d c({.in_channels = 6, .out_channels = 4, .kernel_size = 3, .groups = 2});
    nn::lazy_conv1d lc({.out_channels = 4, .kernel_size = 3, .groups = 2});
    lc.load_state_dict(c.state_dict());
    CHECK(lc.options.in_channels == 6);
    CHECK(lc.weight.shape() == c.weight.shape());
}

TEST_CASE("counts and summaries of an unmaterialised model say uninitialized", "[eager][lazy]") {
    nn::sequential net(nn::lazy_linear({.out_features = 4}), nn::relu(), nn::linear({4, 2}));
    CHECK_FALSE(nn::parameter_count(net).has_value());
    CHECK(nn::parameter_count_text(net) == "uninitialized");
    const std::string s = nn::summary(net);
    CHECK_THAT(s, Catch::Contains("0.weight") && Catch::Contains("uninitialized") &&
                      Catch::Contains("2 of 4 tensors not yet materialised"));
    CHECK_THAT(printed(net), Catch::Contains("lazy_linear(in_features=uninitialized"));
    net.materialize({1, 3});
    CHECK(nn::parameter_count(net) == std::optional<std::size_t>(4 * 3 + 4 + 2 * 4 + 2));
    CHECK_THAT(nn::summary(net), Catch::Contains("26 parameters"));
    CHECK_THAT(printed(net), Catch::Contains("(0): linear(in_features=3, out_features=4, bias=true)"));
}

TEST_CASE("an optimiser built before materialisation steps the lazy parameters", "[eager][lazy]") {
    nn::lazy_linear lin({.out_features = 2});
    optim::sgd<float> opt(nn::optimiser_parameters(lin), {.lr = 0.5});
    opt.step();  // nothing to step yet: no storage, no gradient
    const tensor x = eager::ones({3, 5});
    eager::sum(lin(x)).backward();
    const std::vector<float> before = lin.weight.to_vector();
    opt.step();
    const std::vector<float> after = lin.weight.to_vector();
    for (std::size_t i = 0; i < before.size(); ++i) CHECK(after[i] == Approx(before[i] - 0.5f * 3.0f));
}

TEST_CASE("a failed load leaves lazy modules unmaterialised and the default generator where it was",
          "[eager][lazy][state]") {
    nn::sequential concrete(nn::linear({6, 5}), nn::relu(), nn::linear({5, 3}));
    nn::state_map sd = concrete.state_dict();
    sd.at("2.weight") = nn::linear({5, 4}).state_dict().at("weight");  // 4 outputs where 3 are asked
    nn::sequential lazy(nn::lazy_linear({.out_features = 5}), nn::relu(), nn::lazy_linear({.out_features = 3}));
    eager::manual_seed(7);
    CHECK_THROWS_WITH(lazy.load_state_dict(sd), Catch::Contains("2.weight"));
    CHECK(lazy.has_uninitialized_params());
    CHECK(lazy.at<nn::lazy_linear>(0).type_name() == "lazy_linear");
    CHECK(lazy.at<nn::lazy_linear>(0).weight.is_uninitialized());
    CHECK(lazy.at<nn::lazy_linear>(2).weight.is_uninitialized());
    const auto drawn = eager::default_generator()();
    eager::manual_seed(7);
    CHECK(drawn == eager::default_generator()());  // the materialisation's draws were undone
    // The module still works: a forward materialises it as usual, and a good dict loads.
    CHECK(lazy(eager::rand({2, 6})).shape() == sizes{2, 3});
    lazy.load_state_dict(concrete.state_dict());
    CHECK(lazy.at<nn::linear>(2).weight.to_vector() == concrete.at<nn::linear>(2).weight.to_vector());
}

TEST_CASE("a lazy module's shape error names its path in the model, through nested containers",
          "[eager][lazy][errors]") {
    // A parent with named children whose forward calls them through operator().
    struct net_t : nn::module {
        std::shared_ptr<nn::sequential> features;
        std::shared_ptr<nn::lazy_linear> head;
        net_t() {
            features = register_module(
                "features", std::make_shared<nn::sequential>(nn::lazy_conv2d({.out_channels = 4, .kernel_size = 3}),
                                                             nn::relu(), nn::lazy_conv2d({.out_channels = 4, .kernel_size = 3})));
            head = register_module("head", std::make_shared<nn::lazy_linear>(nn::lazy_linear({.out_features = 2})));
        }
        std::string type_name() const override { return "net"; }
        tensor forward(const tensor& x) override { return (*head)((*features)(x).flatten(1)); }
    };
    net_t net;
    // Rank 2 where lazy_conv2d wants rank 4: the first conv fails, named features.0.
    const std::string what = error_of<shape_mismatch>([&] { net(eager::ones({2, 3})); });
    CHECK(what ==
          "features.0 (lazy_conv2d): the input has shape [2, 3], expected rank 4 with channels in dimension 1");
    // Called as forward() rather than operator(), the outermost module makes no frame; the path
    // above the first frame comes from where its module is registered: the same path.
    CHECK(error_of<shape_mismatch>([&] { net.forward(eager::ones({2, 3})); }) == what);
    // Moved, the model's children know their new parent.
    net_t moved = std::move(net);
    CHECK(error_of<shape_mismatch>([&] { moved.forward(eager::ones({2, 3})); }) == what);
    // A sequential called as forward() rather than operator() gives its children's paths too.
    CHECK(error_of<shape_mismatch>([&] { moved.features->forward(eager::ones({2, 3})); }) == what);
    // A standalone module's message is as it was: no path to give.
    nn::lazy_conv2d alone({.out_channels = 4, .kernel_size = 3});
    CHECK(error_of<shape_mismatch>([&] { alone(eager::ones({2, 3})); }) ==
          "lazy_conv2d: the input has shape [2, 3], expected rank 4 with channels in dimension 1");
    // Once materialised, a kernel's shape error names the concrete module at its path.
    moved(eager::ones({1, 3, 8, 8}));
    const std::string later = error_of<shape_mismatch>([&] { moved(eager::ones({1, 5, 8, 8})); });
    CHECK_THAT(later, Catch::StartsWith("features.0 (conv2d): "));
    CHECK_THAT(error_of<shape_mismatch>([&] { moved(eager::ones({1, 3, 9, 9})); }),
               Catch::StartsWith("head (linear): "));
    // Three levels: a sequential inside a sequential inside a module.
    nn::sequential outer(std::make_shared<nn::sequential>(nn::relu(), features_and_classifier()));
    CHECK_THAT(error_of<shape_mismatch>([&] { outer(eager::ones({3})); }),
               Catch::StartsWith("0.1.features.0 (lazy_conv2d): the input has shape [3]"));
}

TEST_CASE("path errors keep their exception types", "[eager][lazy][errors]") {
    auto model = features_and_classifier();
    CHECK_THROWS_AS((*model)(eager::ones({2, 3})), shape_mismatch);
    CHECK_THROWS_AS(model->output_shape({1, 3, 8, 8}), std::logic_error);
    CHECK_THROWS_WITH(model->output_shape({1, 3, 8, 8}),
                      Catch::StartsWith("features.0 (lazy_conv2d): the output shape is unknown"));
    // groups that do not divide the input channels: std::invalid_argument, named.
    nn::sequential grouped(nn::relu(), nn::lazy_conv2d({.out_channels = 4, .kernel_size = 1, .groups = 2}));
    CHECK_THROWS_AS(grouped(eager::ones({1, 3, 4, 4})), std::invalid_argument);
    CHECK_THROWS_WITH(grouped(eager::ones({1, 3, 4, 4})),
                      "1 (lazy_conv2d): in_channels 3 and out_channels 4 must both be divisible by groups 2");
    // A user module's own std::logic_error is named at its path too.
    struct picky : nn::module {
        std::string type_name() const override { return "picky"; }
        tensor forward(const tensor&) override { throw std::logic_error("picky: no input is good enough"); }
    };
    nn::sequential with_picky(nn::relu(), std::make_shared<picky>());
    CHECK_THROWS_WITH(with_picky(eager::ones({2})), "1 (picky): no input is good enough");
    // And so is one from a module's load_own_state; errors about keys name their keys as before.
    struct refusing : nn::module {
        std::string type_name() const override { return "refusing"; }
        void load_own_state(const std::string&, const nn::state_map&, nn::load_plan&) override {
            throw std::invalid_argument("refusing: no state is good enough");
        }
    };
    nn::sequential with_refusing(nn::relu(), std::make_shared<refusing>());
    CHECK_THROWS_AS(with_refusing.load_state_dict({}), std::invalid_argument);
    CHECK_THROWS_WITH(with_refusing.load_state_dict({}), "1 (refusing): no state is good enough");
}

TEST_CASE("an uninitialized parameter is named by its registered path", "[eager][lazy][errors]") {
    auto model = features_and_classifier();
    auto& conv = dynamic_cast<nn::sequential&>(*model->named_children()[0].second).at<nn::lazy_conv2d>(2);
    CHECK_THROWS_WITH(conv.weight.shape(), Catch::StartsWith("features.2.weight is an uninitialized parameter"));
    CHECK_THROWS_WITH(nn::init::zeros_(conv.bias), Catch::Contains("features.2.bias is an uninitialized"));
    auto& bn = dynamic_cast<nn::sequential&>(*model->named_children()[0].second).at<nn::lazy_batch_norm2d>(3);
    CHECK_THROWS_AS(bn.running_mean.numel(), eager::uninitialized_parameter_error);
    CHECK_THROWS_WITH(bn.running_mean.numel(), Catch::StartsWith("features.3.running_mean "));
    // Unregistered, a lazy module's parameter is named by its type.
    nn::lazy_linear lin({.out_features = 2});
    CHECK_THROWS_WITH(lin.weight.numel(), Catch::StartsWith("lazy_linear.weight "));
}

TEST_CASE("a failed materialize(shape) leaves every lazy module as it was", "[eager][lazy][errors]") {
    // Layer 3 wants rank 2 or 3 and gets rank 4: layers 0 and 1 must not stay materialised.
    nn::sequential net(nn::lazy_conv2d({.out_channels = 4, .kernel_size = 3, .padding = 1}),
                       nn::lazy_batch_norm2d(), nn::relu(), nn::lazy_batch_norm1d(),
                       nn::lazy_linear({.out_features = 2}));
    eager::manual_seed(11);
    CHECK_THROWS_AS(net.materialize({2, 3, 8, 8}), shape_mismatch);
    CHECK_THROWS_WITH(net.materialize({2, 3, 8, 8}),
                      "3 (lazy_batch_norm1d): the input has shape [2, 4, 8, 8], expected [N, C] or [N, C, L]");
    for (const std::size_t i : {0, 1, 3, 4}) {
        INFO(i);
        CHECK(net[i]->has_uninitialized_params());
        CHECK_THAT(net[i]->type_name(), Catch::StartsWith("lazy_"));
    }
    CHECK(net.at<nn::lazy_conv2d>(0).options.in_channels == 0);
    CHECK(net.at<nn::lazy_batch_norm2d>(1).options.num_features == 0);
    CHECK_THAT(printed(net), Catch::Contains("(0): lazy_conv2d(uninitialized, 4"));
    CHECK_THROWS_WITH(net.at<nn::lazy_conv2d>(0).weight.numel(), Catch::StartsWith("0.weight "));
    const auto drawn = eager::default_generator()();
    eager::manual_seed(11);
    CHECK(drawn == eager::default_generator()());  // the materialisations' draws were undone
}

TEST_CASE("after a failed materialize(shape) a good shape gives the model a fresh one would get",
          "[eager][lazy][errors]") {
    const auto make = [] {
        return nn::sequential(nn::lazy_conv2d({.out_channels = 4, .kernel_size = 3, .padding = 1}),
                              nn::lazy_batch_norm2d(), nn::relu(), nn::flatten(), nn::linear({4 * 8 * 8, 2}));
    };
    eager::manual_seed(5);
    nn::sequential net = make();
    // 6x6 images flatten to 144 features where the plain linear at 4 takes 256: layers 0 and 1
    // were materialised on the way and are put back.
    CHECK_THROWS_WITH(net.materialize({2, 3, 6, 6}),
                      "4 (linear): takes 256 input features in its last dimension, got per-sample shape "
                      "[144]: make the layer before it give 256 features, or change in_features");
    CHECK(net.has_uninitialized_params());
    CHECK(net.at<nn::lazy_conv2d>(0).options.in_channels == 0);
    CHECK(net.at<nn::lazy_batch_norm2d>(1).type_name() == "lazy_batch_norm2d");
    eager::manual_seed(5);
    CHECK(net.materialize({2, 3, 8, 8}) == sizes{2, 2});
    eager::manual_seed(5);
    nn::sequential fresh = make();
    eager::manual_seed(5);
    fresh.materialize({2, 3, 8, 8});
    CHECK(net.at<nn::conv2d>(0).weight.to_vector() == fresh.at<nn::conv2d>(0).weight.to_vector());
    CHECK(net.at<nn::conv2d>(0).options.in_channels == 3);
    CHECK(printed(net) == printed(fresh));
}

TEST_CASE("a state dict taken before materialisation names every entry, uninitialized",
          "[eager][lazy][state]") {
    nn::sequential net(nn::lazy_conv2d({.out_channels = 4, .kernel_size = 3}), nn::lazy_batch_norm2d(),
                       nn::relu(), nn::flatten(), nn::linear({3, 2}));
    const nn::state_map sd = net.state_dict();
    std::vector<std::string> keys;
    for (const auto& [key, t] : sd) keys.push_back(key);
    CHECK(keys == std::vector<std::string>{"0.bias", "0.weight", "1.bias", "1.num_batches_tracked",
                                           "1.running_mean", "1.running_var", "1.weight", "4.bias",
                                           "4.weight"});
    for (const char* key : {"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var"}) {
        INFO(key);
        CHECK(sd.at(key).uninitialized);
        CHECK(sd.at(key).shape.empty());
        CHECK(sd.at(key).bytes.empty());
    }
    CHECK_FALSE(sd.at("1.num_batches_tracked").uninitialized);  // PyTorch's tensor(0) too
    CHECK_FALSE(sd.at("4.weight").uninitialized);
    CHECK(sd.at("4.weight").shape == std::vector<std::size_t>{2, 3});
    // Reading an uninitialized entry's values says why it cannot.
    CHECK_THROWS_WITH(sd.at("0.weight").as<float>(), Catch::Contains("uninitialized") &&
                                                         Catch::Contains("[safetensors rule: uninitialized]"));
    // Loaded into a lazy model it changes nothing and is no missing or unexpected key; into a
    // materialised one it is a shape mismatch naming the key.
    nn::sequential other(nn::lazy_conv2d({.out_channels = 4, .kernel_size = 3}), nn::lazy_batch_norm2d(),
                         nn::relu(), nn::flatten(), nn::linear({3, 2}));
    const nn::load_result r = other.load_state_dict(sd);
    CHECK(r.missing_keys.empty());
    CHECK(r.unexpected_keys.empty());
    CHECK(other.has_uninitialized_params());
    CHECK(other.at<nn::linear>(4).weight.to_vector() == net.at<nn::linear>(4).weight.to_vector());
    nn::sequential concrete(nn::conv2d({.in_channels = 1, .out_channels = 4, .kernel_size = 3}));
    CHECK_THROWS_AS(concrete.load_state_dict(nn::sequential(nn::lazy_conv2d({.out_channels = 4, .kernel_size = 3})).state_dict()),
                    shape_mismatch);
    CHECK_THROWS_WITH(concrete.load_state_dict(
                          nn::sequential(nn::lazy_conv2d({.out_channels = 4, .kernel_size = 3})).state_dict()),
                      Catch::Contains("\"0.weight\" is uninitialized in the state dict"));
}

TEST_CASE("saving a state dict with an uninitialized entry fails naming it and writes no file",
          "[eager][lazy][state]") {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / "katachi_test_lazy_save";
    fs::remove_all(dir);
    fs::create_directories(dir);
    const fs::path path = dir / "lazy.safetensors";
    nn::sequential net(nn::linear({3, 4}), nn::lazy_linear({.out_features = 2}));
    CHECK_THROWS_AS(nn::save(net, path), io::safetensors_error);
    try {
        nn::save(net, path);
    } catch (const io::safetensors_error& e) {
        CHECK(e.key() == "1.bias");  // the first in the file's (sorted) order
        CHECK(e.rule() == io::safetensors_rule::uninitialized);
        CHECK_THAT(std::string(e.what()),
                   Catch::Contains("tensor \"1.bias\": the tensor is uninitialized, so nothing was saved"));
    }
    CHECK(fs::is_empty(dir));  // no file, no temporary
    net.materialize({1, 3});
    nn::save(net, path);
    nn::sequential back(nn::linear({3, 4}), nn::lazy_linear({.out_features = 2}));
    nn::load(back, path);
    CHECK(back.at<nn::linear>(1).weight.to_vector() == net.at<nn::linear>(1).weight.to_vector());
    fs::remove_all(dir);
}

TEST_CASE("a child that outlives its parent is no longer named by it", "[eager][lazy][errors]") {
    auto features = std::make_shared<nn::sequential>(nn::lazy_conv2d({.out_channels = 4, .kernel_size = 3}));
    {
        nn::sequential parent(nn::relu(), features);
        CHECK_THROWS_WITH(features->forward(eager::ones({2, 3})), Catch::StartsWith("1.0 (lazy_conv2d): "));
    }
    CHECK_THROWS_WITH(features->forward(eager::ones({2, 3})), Catch::StartsWith("0 (lazy_conv2d): "));
    CHECK_THROWS_WITH((*features)(eager::ones({2, 3})), Catch::StartsWith("0 (lazy_conv2d): "));
}

TEST_CASE("a lazy module added to a model already registered in another is named from the top",
          "[eager][lazy][errors]") {
    // Built top down: the container is registered first, then filled.
    auto blocks = std::make_shared<nn::sequential>();
    nn::sequential model(nn::relu(), blocks);
    blocks->push_back(nn::lazy_linear({.out_features = 3}));
    CHECK_THROWS_WITH(blocks->at<nn::lazy_linear>(0).weight.numel(), Catch::StartsWith("1.0.weight "));
    CHECK(model.state_dict().count("1.0.weight") == 1);
}
