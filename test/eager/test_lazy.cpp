// Lazy modules: the uninitialized state, materialisation by forward, by materialize(shape) and by
// load_state_dict, the errors, and becoming the concrete module.
#include <catch2/catch.hpp>
#include <katachi/eager.hpp>
#include <katachi/optim/sgd.hpp>
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
    CHECK_THROWS_AS(net.state_dict(), eager::uninitialized_parameter_error);
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
