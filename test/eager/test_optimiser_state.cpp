// An optimiser's state dict: a run saved after some steps and resumed in a fresh model and
// optimiser takes the same next steps as the run that continued.
#include <catch2/catch.hpp>
#include <katachi/eager.hpp>
#include <katachi/eager/optimiser_state.hpp>

using namespace katachi;
namespace nn = katachi::eager::nn;
using eager::tensor;

namespace {

std::shared_ptr<nn::sequential> make_model() {
    return std::make_shared<nn::sequential>(nn::linear({3, 5}), nn::relu(), nn::linear({5, 2}));
}

template <class Optimiser>
void steps(nn::module& model, Optimiser& opt, int n) {
    const tensor x =
        eager::from_values<float>({0.1f, -0.2f, 0.3f, 0.5f, 0.4f, -0.6f, -0.7f, 0.8f, 0.9f}, {3, 3});
    const std::vector<std::int64_t> y{0, 1, 1};
    for (int i = 0; i < n; ++i) {
        opt.zero_grad();
        eager::cross_entropy(model(x), y).backward();
        opt.step();
    }
}

template <class Optimiser, class Options>
void check_resume(Options options) {
    eager::manual_seed(9);
    auto a = make_model();
    Optimiser opt_a(nn::optimiser_parameters(*a), options);
    steps(*a, opt_a, 3);
    const io::tensor_map model_state = a->state_dict();
    const io::tensor_map opt_state = eager::optimiser_state_dict(opt_a);
    CHECK(opt_state.size() > 6);

    auto b = make_model();  // other initial values
    Options other = options;
    other.lr *= 10;  // restored from the state dict
    Optimiser opt_b(nn::optimiser_parameters(*b), other);
    b->load_state_dict(model_state);
    eager::load_optimiser_state_dict(opt_b, opt_state);
    CHECK(opt_b.param_groups()[0].options.lr == options.lr);

    steps(*a, opt_a, 2);
    steps(*b, opt_b, 2);
    const auto pa = a->parameters(), pb = b->parameters();
    for (std::size_t i = 0; i < pa.size(); ++i) CHECK(pa[i].to_vector() == pb[i].to_vector());
}

}  // namespace

TEST_CASE("sgd with momentum resumes from its state dict", "[eager][optim]") {
    check_resume<optim::sgd<float>>(optim::sgd_options{.lr = 0.1, .momentum = 0.9, .nesterov = true});
    auto m = make_model();
    optim::sgd<float> opt(nn::optimiser_parameters(*m), {.lr = 0.1, .momentum = 0.9});
    steps(*m, opt, 1);
    const io::tensor_map s = eager::optimiser_state_dict(opt);
    CHECK(s.count("state.0.momentum_buffer") == 1);
    CHECK(s.at("state.0.momentum_buffer").shape == std::vector<std::size_t>{15});
    CHECK(s.count("param_groups.0.momentum") == 1);
}

TEST_CASE("adam and adamw resume from their state dicts", "[eager][optim]") {
    check_resume<optim::adam<float>>(optim::adam_options{.lr = 0.01, .amsgrad = true});
    optim::adamw_options w;
    w.lr = 0.01;
    check_resume<optim::adamw<float>>(w);
}

TEST_CASE("an optimiser state dict with another group layout is refused", "[eager][optim]") {
    auto m = make_model();
    optim::sgd<float> one(nn::optimiser_parameters(*m), {.lr = 0.1});
    optim::sgd<float> two(nn::optimiser_parameters(*m), {.lr = 0.1});
    two.add_param_group({});
    CHECK_THROWS_WITH(eager::load_optimiser_state_dict(two, eager::optimiser_state_dict(one)),
                      Catch::Contains("1 parameter groups but the optimiser has 2"));
}
