// Learning-rate schedulers against torch.optim.lr_scheduler (test/data/fixtures_schedulers.py): the
// rate of both parameter groups after the build and after each of 40 steps, for every optimiser
// over a graph model's and an eager model's parameters; the state dict saved to a file midway and
// loaded into a fresh scheduler; and the sentences bad options get.
#include <unistd.h>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <katachi/eager.hpp>
#include <katachi/eager/optimiser_state.hpp>
#include <katachi/graph.hpp>
#include <katachi/io/safetensors.hpp>
#include <katachi/optim/lr_scheduler.hpp>
#include <string>
#include <support/fixtures.hpp>
#include <vector>

using namespace katachi;
namespace g = katachi::graph;
namespace nn = katachi::eager::nn;
using katachi::test::fixture;

namespace {

constexpr std::size_t steps = 40;        // the fixture's STEPS
constexpr std::size_t resume_at = 17;    // where the state dict is saved and loaded
constexpr double lr0 = 0.1, lr1 = 0.02;  // the fixture's GROUP_LRS

const io::safetensors_file& data() {
    static const io::safetensors_file f = test::load_fixture_file("schedulers.safetensors");
    return f;
}

using params = std::vector<optim::parameter<float>>;
using tiny_net = g::sequential<g::input<3>, g::linear<2>>;

// Calls f(make_optimiser, label) for every optimiser kind over the parameters of a graph model and
// of an eager model; make_optimiser() builds it with two groups (weight at lr0, bias at lr1).
template <class F>
void for_each_face_and_optimiser(F&& f) {
    g::model<tiny_net> graph_net(0);
    nn::linear eager_net({3, 2});
    const params faces[2] = {graph_net.parameters(), nn::optimiser_parameters(eager_net)};
    const char* face_names[2] = {"graph", "eager"};
    for (int face = 0; face < 2; ++face) {
        const params& p = faces[face];
        REQUIRE(p.size() == 2);
        const std::string in = std::string(" over the ") + face_names[face] + " model";
        f(
            [&] {
                optim::sgd<float> o({p[0]}, {.lr = lr0});
                o.add_param_group({p[1]}, {.lr = lr1});
                return o;
            },
            "sgd" + in);
        f(
            [&] {
                optim::sgd<float> o({p[0]}, {.lr = lr0, .momentum = 0.9, .nesterov = true});
                o.add_param_group({p[1]}, {.lr = lr1, .momentum = 0.9, .nesterov = true});
                return o;
            },
            "sgd with momentum" + in);
        f(
            [&] {
                optim::adam<float> o({p[0]}, {.lr = lr0});
                o.add_param_group({p[1]}, {.lr = lr1});
                return o;
            },
            "adam" + in);
        f(
            [&] {
                optim::adamw_options a, b;
                a.lr = lr0;
                b.lr = lr1;
                optim::adamw<float> o({p[0]}, a);
                o.add_param_group({p[1]}, b);
                return o;
            },
            "adamw" + in);
    }
}

bool close(double actual, double expected) {
    return std::abs(actual - expected) <= 1e-7 * std::abs(expected);
}

template <class Scheduler>
void check_row(const Scheduler& sched, const xt::xarray<double>& lr, const xt::xarray<double>* momentum,
               std::size_t row) {
    INFO("after step " << row);
    auto& groups = sched.optimizer().param_groups();
    for (std::size_t gi = 0; gi < 2; ++gi) {
        INFO("group " << gi << ": scheduler " << sched.get_last_lr()[gi] << ", optimiser "
                      << groups[gi].options.lr << ", PyTorch " << lr(row, gi));
        CHECK(close(sched.get_last_lr()[gi], lr(row, gi)));
        CHECK(close(groups[gi].options.lr, lr(row, gi)));
        if (momentum != nullptr) {
            const double m = optim::detail::cycled_momentum(groups[gi].options);
            INFO("momentum " << m << ", PyTorch " << (*momentum)(row, gi));
            CHECK(close(m, (*momentum)(row, gi)));
        }
    }
}

template <class Scheduler>
void step(Scheduler& sched, const xt::xarray<double>& metric, std::size_t i) {
    if constexpr (requires { sched.step(1.0); })
        sched.step(metric(i));
    else
        sched.step();
}

std::filesystem::path temp_file(const std::string& stem) {
    return std::filesystem::temp_directory_path() /
           ("katachi_lr_" + stem + "_" + std::to_string(::getpid()) + ".safetensors");
}

// Every step of the fixture's case `name`, for every optimiser in both faces; at resume_at the
// scheduler's and the optimiser's state dicts go through files into a fresh optimiser and scheduler,
// which then take the remaining steps beside the original.
template <class Make>
void check_case(const std::string& name, Make make) {
    const xt::xarray<double> lr = fixture<double>(data(), name + ".lr");
    REQUIRE(lr.shape()[0] == steps + 1);
    xt::xarray<double> momentum, metric;
    const bool cycles = data().tensors.count(name + ".momentum") != 0;
    if (cycles) momentum = fixture<double>(data(), name + ".momentum");
    if (data().tensors.count(name + ".metric")) metric = fixture<double>(data(), name + ".metric");
    const xt::xarray<double>* m = cycles ? &momentum : nullptr;

    for_each_face_and_optimiser([&](auto make_optimiser, const std::string& label) {
        INFO(name << ", " << label);
        auto opt = make_optimiser();
        auto sched = make(opt);
        check_row(sched, lr, m, 0);
        for (std::size_t k = 1; k <= resume_at; ++k) {
            opt.step();
            step(sched, metric, k - 1);
            check_row(sched, lr, m, k);
        }
        const auto sched_file = temp_file(name + "_scheduler"), opt_file = temp_file(name + "_optimiser");
        io::save_safetensors(sched_file, sched.state_dict());
        io::save_safetensors(opt_file, eager::optimiser_state_dict(opt));

        auto fresh_opt = make_optimiser();
        auto fresh = make(fresh_opt);
        eager::load_optimiser_state_dict(fresh_opt, io::load_safetensors(opt_file).tensors);
        fresh.load_state_dict(io::load_safetensors(sched_file).tensors);
        std::filesystem::remove(sched_file);
        std::filesystem::remove(opt_file);
        CHECK(fresh.last_epoch == sched.last_epoch);
        check_row(fresh, lr, m, resume_at);
        for (std::size_t k = resume_at + 1; k <= steps; ++k) {
            opt.step();
            step(sched, metric, k - 1);
            check_row(sched, lr, m, k);
            INFO("resumed from the state dict saved after step " << resume_at);
            fresh_opt.step();
            step(fresh, metric, k - 1);
            check_row(fresh, lr, m, k);
        }
    });
}

}  // namespace

TEST_CASE("step_lr multiplies the rate by gamma every step_size epochs as PyTorch does",
          "[optim][scheduler]") {
    check_case("step_lr", [](auto& o) { return optim::step_lr(o, {.step_size = 7, .gamma = 0.5}); });
    check_case("step_lr_default_gamma", [](auto& o) { return optim::step_lr(o, {.step_size = 3}); });
}

TEST_CASE("multi_step_lr multiplies the rate by gamma at each milestone, twice at a repeated one",
          "[optim][scheduler]") {
    check_case("multi_step_lr", [](auto& o) {
        return optim::multi_step_lr(o, {.milestones = {5, 12, 12, 30}, .gamma = 0.3});
    });
    check_case("multi_step_lr_default_gamma", [](auto& o) {
        return optim::multi_step_lr(o, {.milestones = {10, 20}});
    });
}

TEST_CASE("exponential_lr multiplies the rate by gamma every epoch as PyTorch does", "[optim][scheduler]") {
    check_case("exponential_lr", [](auto& o) { return optim::exponential_lr(o, {.gamma = 0.9}); });
}

TEST_CASE("cosine_annealing_lr follows PyTorch's recursive cosine down to eta_min and back up past T_max",
          "[optim][scheduler]") {
    check_case("cosine_annealing_lr", [](auto& o) { return optim::cosine_annealing_lr(o, {.T_max = 40}); });
    check_case("cosine_annealing_lr_restart",
               [](auto& o) { return optim::cosine_annealing_lr(o, {.T_max = 10, .eta_min = 0.001}); });
}

TEST_CASE("linear_lr warms the rate up from start_factor to end_factor over total_iters epochs",
          "[optim][scheduler]") {
    check_case("linear_lr", [](auto& o) { return optim::linear_lr(o); });
    check_case("linear_lr_partial", [](auto& o) {
        return optim::linear_lr(o, {.start_factor = 0.1, .end_factor = 0.5, .total_iters = 12});
    });
}

TEST_CASE("one_cycle_lr rises to max_lr and anneals down, cycling sgd's momentum and adam's beta1",
          "[optim][scheduler]") {
    check_case("one_cycle_lr",
               [](auto& o) { return optim::one_cycle_lr(o, {.max_lr = 0.5, .total_steps = 40}); });
    check_case("one_cycle_lr_linear_three_phase", [](auto& o) {
        return optim::one_cycle_lr(o, {.max_lr = 0.3,
                                       .total_steps = 45,
                                       .pct_start = 0.25,
                                       .anneal_strategy = optim::anneal::linear,
                                       .base_momentum = 0.8,
                                       .max_momentum = 0.9,
                                       .div_factor = 10,
                                       .final_div_factor = 100,
                                       .three_phase = true});
    });
    check_case("one_cycle_lr_per_group", [](auto& o) {
        return optim::one_cycle_lr(o, {.max_lrs = {0.4, 0.08}, .total_steps = 50, .pct_start = 0.2});
    });
    check_case("one_cycle_lr_epochs_no_momentum", [](auto& o) {
        return optim::one_cycle_lr(
            o,
            {.max_lr = 0.2, .epochs = 4, .steps_per_epoch = 10, .pct_start = 0.4, .cycle_momentum = false});
    });
}

TEST_CASE("one_cycle_lr leaves the momentum alone without cycle_momentum", "[optim][scheduler]") {
    std::vector<float> w{1, 2}, gw{0, 0};
    optim::adam<float> opt({optim::parameter<float>::fixed("w", w, gw)}, {.lr = 0.1, .beta1 = 0.7});
    optim::one_cycle_lr sched(opt, {.max_lr = 0.2, .total_steps = 10, .cycle_momentum = false});
    for (int i = 0; i < 5; ++i) sched.step();
    CHECK(opt.param_groups()[0].options.beta1 == 0.7);
}

TEST_CASE("reduce_lr_on_plateau cuts the rate after patience bad epochs, with cooldown, min_lr and eps",
          "[optim][scheduler]") {
    check_case("reduce_lr_on_plateau",
               [](auto& o) { return optim::reduce_lr_on_plateau(o, {.factor = 0.5, .patience = 2}); });
    check_case("reduce_lr_on_plateau_max_abs", [](auto& o) {
        return optim::reduce_lr_on_plateau(o, {.mode = optim::plateau_mode::max,
                                               .factor = 0.3,
                                               .patience = 1,
                                               .threshold = 0.01,
                                               .threshold_mode = optim::plateau_threshold::abs,
                                               .cooldown = 2,
                                               .min_lr = 0.004});
    });
    check_case("reduce_lr_on_plateau_min_abs_eps", [](auto& o) {
        return optim::reduce_lr_on_plateau(o, {.factor = 0.7,
                                               .patience = 0,
                                               .threshold = 0.001,
                                               .threshold_mode = optim::plateau_threshold::abs,
                                               .cooldown = 1,
                                               .min_lr = 0.0015,
                                               .eps = 1e-3});
    });
    check_case("reduce_lr_on_plateau_max_rel", [](auto& o) {
        return optim::reduce_lr_on_plateau(o, {.mode = optim::plateau_mode::max, .patience = 3});
    });
}

TEST_CASE("sequential_lr runs a warm-up then a cosine, starting each scheduler at its milestone",
          "[optim][scheduler]") {
    check_case("sequential_lr_warmup_cosine", [](auto& o) {
        return optim::sequential_lr(
            o,
            std::tuple{optim::linear_lr(o, {.start_factor = 0.1, .total_iters = 5}),
                       optim::cosine_annealing_lr(o, {.T_max = 35, .eta_min = 0.001})},
            {.milestones = {5}});
    });
    check_case("sequential_lr_three", [](auto& o) {
        return optim::sequential_lr(o,
                                    std::tuple{optim::linear_lr(o, {.start_factor = 0.5, .total_iters = 4}),
                                               optim::step_lr(o, {.step_size = 5, .gamma = 0.5}),
                                               optim::exponential_lr(o, {.gamma = 0.9})},
                                    {.milestones = {6, 20}});
    });
    check_case("sequential_lr_multi_step", [](auto& o) {
        return optim::sequential_lr(o,
                                    std::tuple{optim::linear_lr(o, {.start_factor = 0.25, .total_iters = 8}),
                                               optim::multi_step_lr(o, {.milestones = {3, 9}, .gamma = 0.5})},
                                    {.milestones = {10}});
    });
}

TEST_CASE("lr_at gives each epoch's rate in closed form, the rate the scheduler steps to",
          "[optim][scheduler]") {
    const auto check_closed_form = [](const std::string& name, const auto& options) {
        const xt::xarray<double> lr = fixture<double>(data(), name + ".lr");
        for (std::size_t e = 0; e <= steps; ++e) {
            INFO(name << " epoch " << e);
            CHECK(close(optim::lr_at(options, lr0, static_cast<std::int64_t>(e)), lr(e, 0)));
            CHECK(close(optim::lr_at(options, lr1, static_cast<std::int64_t>(e)), lr(e, 1)));
        }
    };
    check_closed_form("step_lr", optim::step_lr_options{.step_size = 7, .gamma = 0.5});
    check_closed_form("multi_step_lr",
                      optim::multi_step_lr_options{.milestones = {5, 12, 12, 30}, .gamma = 0.3});
    check_closed_form("exponential_lr", optim::exponential_lr_options{.gamma = 0.9});
    check_closed_form("cosine_annealing_lr", optim::cosine_annealing_lr_options{.T_max = 40});
    check_closed_form("cosine_annealing_lr_restart",
                      optim::cosine_annealing_lr_options{.T_max = 10, .eta_min = 0.001});
    check_closed_form("linear_lr_partial",
                      optim::linear_lr_options{.start_factor = 0.1, .end_factor = 0.5, .total_iters = 12});
    CHECK_THROWS_WITH(optim::lr_at(optim::cosine_annealing_lr_options{}, 0.1, 3),
                      "cosine_annealing_lr: T_max must be a positive number of epochs, got 0");
}

TEST_CASE("bad scheduler options are refused with a sentence naming the scheduler and the option",
          "[optim][scheduler]") {
    std::vector<float> w{1, 2}, gw{0, 0};
    optim::sgd<float> opt({optim::parameter<float>::fixed("w", w, gw)}, {.lr = 0.1});
    CHECK_THROWS_WITH(optim::step_lr(opt, {.step_size = 0}),
                      "step_lr: step_size must be a positive number of epochs, got 0");
    CHECK_THROWS_WITH(optim::step_lr(opt, {.step_size = 2, .gamma = -1}),
                      "step_lr: gamma must be a positive factor, got -1");
    CHECK_THROWS_WITH(optim::multi_step_lr(opt, {.milestones = {5, 3}}),
                      "multi_step_lr: milestones must be increasing, got 3 after 5");
    CHECK_THROWS_WITH(optim::exponential_lr(opt, {}),
                      "exponential_lr: gamma must be a positive factor, got 0");
    CHECK_THROWS_WITH(optim::cosine_annealing_lr(opt, {}),
                      "cosine_annealing_lr: T_max must be a positive number of epochs, got 0");
    CHECK_THROWS_WITH(optim::linear_lr(opt, {.start_factor = 0}),
                      "linear_lr: start_factor must lie in (0, 1], got 0");
    CHECK_THROWS_WITH(optim::linear_lr(opt, {.total_iters = 0}),
                      "linear_lr: total_iters must be a positive number of epochs, got 0");
    CHECK_THROWS_WITH(optim::one_cycle_lr(opt, {.total_steps = 10}),
                      "one_cycle_lr: max_lr must be a positive rate, got 0");
    CHECK_THROWS_WITH(
        optim::one_cycle_lr(opt, {.max_lr = 0.1, .epochs = 3}),
        "one_cycle_lr: give total_steps, or epochs and steps_per_epoch (positive), got epochs 3 and "
        "steps_per_epoch 0");
    CHECK_THROWS_WITH(optim::one_cycle_lr(opt, {.max_lr = 0.1, .total_steps = 10, .pct_start = 1.5}),
                      "one_cycle_lr: pct_start must lie in [0, 1], got 1.5");
    CHECK_THROWS_WITH(optim::one_cycle_lr(opt, {.max_lrs = {0.1, 0.2}, .total_steps = 10}),
                      "one_cycle_lr: max_lrs has 2 values but the optimiser has 1 parameter groups");
    CHECK_THROWS_WITH(optim::reduce_lr_on_plateau(opt, {.factor = 1}),
                      "reduce_lr_on_plateau: factor must lie in [0, 1), got 1");
    CHECK_THROWS_WITH(optim::reduce_lr_on_plateau(opt, {.min_lrs = {0.1, 0.2}}),
                      "reduce_lr_on_plateau: min_lrs has 2 values but the optimiser has 1 parameter groups");
    CHECK(opt.param_groups()[0].options.lr == 0.1);  // a refused scheduler changes no rate
    CHECK_THROWS_WITH(
        optim::sequential_lr(opt, std::tuple{optim::step_lr(opt, {.step_size = 2})}, {.milestones = {3}}),
        "sequential_lr: takes one milestone fewer than schedulers, got 1 schedulers and 1 milestones");
    optim::sgd<float> other({optim::parameter<float>::fixed("w", w, gw)}, {.lr = 0.1});
    CHECK_THROWS_WITH(optim::sequential_lr(opt,
                                           std::tuple{optim::step_lr(opt, {.step_size = 2}),
                                                      optim::exponential_lr(other, {.gamma = 0.5})},
                                           {.milestones = {3}}),
                      "sequential_lr: scheduler 1 drives another optimiser");
}

TEST_CASE("one_cycle_lr refuses a step past total_steps, as PyTorch does", "[optim][scheduler]") {
    std::vector<float> w{1, 2}, gw{0, 0};
    optim::sgd<float> opt({optim::parameter<float>::fixed("w", w, gw)}, {.lr = 0.1, .momentum = 0.9});
    optim::one_cycle_lr sched(opt, {.max_lr = 0.1, .total_steps = 5});
    for (int i = 0; i < 5; ++i) sched.step();
    CHECK_THROWS_WITH(sched.step(), "one_cycle_lr: step() called 6 times, past the schedule's total_steps 5");
    CHECK(sched.last_epoch == 5);
}

TEST_CASE("a scheduler refuses a state dict of another kind or group layout and a grown optimiser",
          "[optim][scheduler]") {
    std::vector<float> w{1, 2}, gw{0, 0};
    optim::sgd<float> opt({optim::parameter<float>::fixed("w", w, gw)}, {.lr = 0.1});
    optim::step_lr step(opt, {.step_size = 2});
    optim::cosine_annealing_lr cosine(opt, {.T_max = 5});
    cosine.step();
    CHECK_THROWS_WITH(cosine.load_state_dict(step.state_dict()),
                      "cosine_annealing_lr: load_state_dict: the state dict lacks \"T_max\"");
    CHECK(cosine.last_epoch == 1);  // a refused state dict changes nothing
    optim::reduce_lr_on_plateau plateau(opt, {.patience = 3});
    io::tensor_map partial = plateau.state_dict();
    partial.erase("_last_lr.0");
    plateau.step(1.0);
    CHECK_THROWS_WITH(plateau.load_state_dict(partial),
                      "reduce_lr_on_plateau: load_state_dict: the state dict lacks \"_last_lr.0\"");
    CHECK(plateau.last_epoch == 1);
    CHECK(plateau.best() == 1.0);
    optim::sgd<float> two({optim::parameter<float>::fixed("w", w, gw)}, {.lr = 0.1});
    two.add_param_group({});
    optim::step_lr step_two(two, {.step_size = 2});
    CHECK_THROWS_WITH(
        step_two.load_state_dict(step.state_dict()),
        "step_lr: load_state_dict: the state dict has 1 parameter groups but the optimiser has 2");
    opt.add_param_group({});
    CHECK_THROWS_WITH(step.step(),
                      "step_lr: the optimiser has 2 parameter groups but the scheduler was built over 1; "
                      "build the scheduler after the last add_param_group");
}
