// Suite `graph`: synchronised batch norm (sync_batch_norm1d/2d, .sync = true) in one process. With
// no cross-rank sum installed it is plain batch norm, bit for bit; with a sum standing for a second
// rank (the same batch again, or a second thread holding other samples) it is plain batch norm on
// the ranks' batches together; and its gradients match finite differences in float64 across two
// threads as ranks. Two real ranks: test/distributed/test_sync_batch_norm.cpp.
#include <catch2/catch.hpp>
#include <katachi/graph.hpp>
#include <katachi/optim/sgd.hpp>
#include <xtensor/xadapt.hpp>
#include <xtensor/xview.hpp>

#include "support/gradcheck.hpp"
#include "support/two_ranks.hpp"

namespace {

using namespace katachi;
using namespace katachi::graph;

// A bias right before batch norm has a gradient of exactly 0 (the batch mean absorbs it): left out.
template <class Norm2d, class Norm1d>
using net_with = sequential<input<2, 5, 4>, conv2d<3, 3, padding<1>, bias<false>>, Norm2d, relu, flatten,
                            linear<6, bias<false>>, Norm1d, graph::tanh, linear<3>>;
using sync_net = net_with<sync_batch_norm2d, sync_batch_norm1d>;
using plain_net = net_with<batch_norm2d, batch_norm1d>;

static_assert(sync_batch_norm2d::spelling().view() == "sync_batch_norm2d");
static_assert(ops::batch_norm2d::spelling({.sync = true}).view() == "layer<ops::batch_norm2d, {.sync = true}>");
static_assert(ops::batch_norm1d::spelling({.eps = 1e-3, .sync = true}).view() ==
              "layer<ops::batch_norm1d, {.eps = 0.001, .sync = true}>");
static_assert(std::is_same_v<layer<ops::batch_norm2d, ops::batch_norm_options{.sync = true}>::op, ops::batch_norm2d>);

template <class Net>
xt::xarray<double> batch_of(std::size_t batch, std::uint32_t seed) {
    std::vector<std::size_t> dims{batch};
    for (std::size_t d : Net::input_shape::dims) dims.push_back(d);
    return test::random_array(dims, seed, -1.0, 2.0);
}

xt::xarray<double> flat(std::span<const double> s) {
    return xt::adapt(s.data(), s.size(), xt::no_ownership(), std::vector<std::size_t>{s.size()});
}

void require_close(const xt::xarray<double>& a, const xt::xarray<double>& b, double tol = 1e-10) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        INFO("element " << i);
        REQUIRE(a.data()[i] == Approx(b.data()[i]).margin(tol).epsilon(tol));
    }
}

template <class A, class B>
void copy_parameters(A& from, B& to) {
    std::ranges::copy(from.all_parameters(), to.all_parameters().begin());
    std::ranges::copy(from.all_buffers(), to.all_buffers().begin());
}

TEST_CASE("sync batch norm with no cross-rank sum installed is plain batch norm exactly", "[graph][sync]") {
    REQUIRE(ops::installed_cross_rank_sum() == nullptr);
    model<sync_net> a(3);
    model<plain_net> b(3);
    optim::sgd<float> oa(a.parameters(), {.lr = 0.1, .momentum = 0.9});
    optim::sgd<float> ob(b.parameters(), {.lr = 0.1, .momentum = 0.9});
    const xt::xarray<std::int64_t> targets{0, 2, 1, 1, 0};
    for (std::uint32_t step = 0; step < 3; ++step) {
        const xt::xarray<float> x = batch_of<sync_net>(5, 20 + step);
        a.forward(x);
        b.forward(x);
        CHECK(a.cross_entropy(targets) == b.cross_entropy(targets));
        a.backward();
        b.backward();
        oa.step();
        ob.step();
    }
    CHECK(std::ranges::equal(a.all_parameters(), b.all_parameters()));
    CHECK(std::ranges::equal(a.all_buffers(), b.all_buffers()));
}

TEST_CASE("with a second rank holding the same batch, sync batch norm is plain batch norm on the batch twice",
          "[graph][sync]") {
    model<sync_net, double> s(5);
    model<plain_net, double> p(5), alone(5);
    const xt::xarray<double> x = batch_of<sync_net>(4, 31);
    const xt::xarray<double> xx = xt::concatenate(xt::xtuple(x, x), 0);
    const xt::xarray<double> r = test::random_array({4, 3}, 32);
    const xt::xarray<double> rr = xt::concatenate(xt::xtuple(r, r), 0);

    test::sum_calls = 0;
    {
        const test::installed_sum guard(&test::twice);
        const xt::xarray<double> y = s.forward(x);
        std::ranges::copy(r, s.output_grad().begin());
        s.backward(kernels::write::overwrite, true);
        const xt::xarray<double> yy = p.forward(xx);
        require_close(y, xt::view(yy, xt::range(0, 4)));
    }
    // Two layers: two sums in each forward, one in each backward that wants dx.
    CHECK(test::sum_calls == 6);
    std::ranges::copy(rr, p.output_grad().begin());
    p.backward(kernels::write::overwrite, true);
    require_close(s.input_grad(), xt::view(xt::xarray<double>(p.input_grad()), xt::range(0, 4)));
    require_close(flat(s.all_buffers()), flat(p.all_buffers()));
    // The parameters' gradients are this rank's: half of the two ranks' together.
    require_close(2.0 * flat(s.all_gradients()), flat(p.all_gradients()));
    // The running variance counts 8 samples, not 4 (unbiased by 8 / 7): the sums were taken.
    alone.forward(x);
    CHECK_FALSE(std::ranges::equal(s.all_buffers(), alone.all_buffers()));
}

TEST_CASE("two threads as two ranks with other samples: sync batch norm is plain batch norm on both batches",
          "[graph][sync]") {
    model<sync_net, double> r0(9), r1(9);
    model<plain_net, double> whole(9), apart(9);
    const xt::xarray<double> x0 = batch_of<sync_net>(3, 41), x1 = batch_of<sync_net>(5, 42);
    const xt::xarray<double> g0 = test::random_array({3, 3}, 43), g1 = test::random_array({5, 3}, 44);
    xt::xarray<double> y0, y1, dx0, dx1;
    const auto rank = [](auto& m, const xt::xarray<double>& x, const xt::xarray<double>& g, auto& y, auto& dx) {
        return [&] {
            y = m.forward(x);
            std::ranges::copy(g, m.output_grad().begin());
            m.backward(kernels::write::overwrite, true);
            dx = m.input_grad();
        };
    };
    {
        const test::installed_sum guard(&test::two_threads_sum);
        test::run_as_two_ranks(rank(r0, x0, g0, y0, dx0), rank(r1, x1, g1, y1, dx1));
    }
    const xt::xarray<double> x01 = xt::concatenate(xt::xtuple(x0, x1), 0);
    const xt::xarray<double> g01 = xt::concatenate(xt::xtuple(g0, g1), 0);
    const xt::xarray<double> y = whole.forward(x01);
    std::ranges::copy(g01, whole.output_grad().begin());
    whole.backward(kernels::write::overwrite, true);
    const xt::xarray<double> dx = whole.input_grad();
    require_close(y0, xt::view(y, xt::range(0, 3)));
    require_close(y1, xt::view(y, xt::range(3, 8)));
    require_close(dx0, xt::view(dx, xt::range(0, 3)));
    require_close(dx1, xt::view(dx, xt::range(3, 8)));
    require_close(flat(r0.all_buffers()), flat(whole.all_buffers()));
    require_close(flat(r1.all_buffers()), flat(whole.all_buffers()));
    require_close(flat(r0.all_gradients()) + flat(r1.all_gradients()), flat(whole.all_gradients()));
    // Plain batch norm on the first batch alone normalises by other statistics.
    const xt::xarray<double> own = apart.forward(x0);
    CHECK(xt::amax(xt::abs(own - y0))() > 1e-3);
}

TEST_CASE("sync batch norm's gradients over two threads as ranks match finite differences in float64",
          "[graph][sync][gradcheck]") {
    // Rank 0 holds x, rank 1 a fixed z; the loss is the sum of the two ranks' weighted sums. The
    // sync backward's dx on rank 0 is d loss / d x (rank 1's loss reads x through the statistics);
    // a parameter's gradient is the sum of the ranks' gradients.
    model<sync_net, double> m0(7), m1(7);
    for (auto& p : m0.parameters())
        if (p.name.ends_with("bias"))
            for (auto& v : p.value()) v += 0.1;  // keeps relu's kink out of the differences
    copy_parameters(m0, m1);
    xt::xarray<double> x = batch_of<sync_net>(3, 51);
    const xt::xarray<double> z = batch_of<sync_net>(2, 52);
    const xt::xarray<double> r0 = test::random_array({3, 3}, 53), r1 = test::random_array({2, 3}, 54);
    const test::installed_sum guard(&test::two_threads_sum);
    const auto loss = [&] {
        double l0 = 0, l1 = 0;
        test::run_as_two_ranks([&] { l0 = test::weighted_sum(m0.forward(x), r0); },
                               [&] { l1 = test::weighted_sum(m1.forward(z), r1); });
        return l0 + l1;
    };
    loss();
    test::run_as_two_ranks(
        [&] {
            std::ranges::copy(r0, m0.output_grad().begin());
            m0.backward(kernels::write::overwrite, true);
        },
        [&] {
            std::ranges::copy(r1, m1.output_grad().begin());
            m1.backward(kernels::write::overwrite, true);
        });
    const xt::xarray<double> dx = m0.input_grad();
    const xt::xarray<double> dparams = flat(m0.all_gradients()) + flat(m1.all_gradients());

    KATACHI_CHECK_GRADIENT(dx, test::numeric_gradient(loss, x));
    xt::xarray<double> params = flat(m0.all_parameters());
    const auto param_loss = [&] {
        std::ranges::copy(params, m0.all_parameters().begin());
        std::ranges::copy(params, m1.all_parameters().begin());
        return loss();
    };
    KATACHI_CHECK_GRADIENT(dparams, test::numeric_gradient(param_loss, params));
}

}  // namespace
