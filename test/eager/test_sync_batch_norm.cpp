// Suite `eager`: synchronised batch norm in the eager face (the option .sync of nn::batch_norm1d/2d,
// and nn::convert_sync_batch_norm) in one process: with no cross-rank sum it is plain batch norm;
// with two threads as two ranks it is plain batch norm on both batches; graph_source writes it.
// Two real ranks: test/distributed/test_sync_batch_norm.cpp.
#include <catch2/catch.hpp>
#include <katachi/eager.hpp>
#include <support/gradcheck.hpp>
#include <support/two_ranks.hpp>

#include "eager_support.hpp"

using namespace katachi;
namespace nn = katachi::eager::nn;
using eager::tensor;

namespace {

// Conv, batch norm 2d, relu, flatten, linear, batch norm 1d, tanh, linear on [N, 2, 5, 4].
std::shared_ptr<nn::sequential> make_net(bool sync) {
    auto net = std::make_shared<nn::sequential>(
        nn::conv2d({.in_channels = 2, .out_channels = 3, .kernel_size = 3, .padding = 1, .bias = false}),
        nn::batch_norm2d({.num_features = 3, .sync = sync}), nn::relu(), nn::flatten(),
        nn::linear({.in_features = 60, .out_features = 6, .bias = false}),
        nn::batch_norm1d({.num_features = 6, .sync = sync}), nn::tanh(), nn::linear({.in_features = 6, .out_features = 3}));
    return net;
}

// b takes a's parameters and buffers.
void copy_state(const nn::module& a, nn::module& b) {
    const auto pa = a.parameters(), pb = b.parameters();
    const auto ba = a.buffers(), bb = b.buffers();
    REQUIRE(pa.size() == pb.size());
    for (std::size_t i = 0; i < pa.size(); ++i) std::copy_n(pa[i].data(), pa[i].numel(), pb[i].data());
    for (std::size_t i = 0; i < ba.size(); ++i) std::copy_n(ba[i].data(), ba[i].numel(), bb[i].data());
}

tensor batch(std::size_t n, std::uint32_t seed) {
    const xt::xarray<double> v = test::random_array({n, 2, 5, 4}, seed, -1.0, 2.0);
    return test::from_xarray(xt::xarray<float>(v));
}

tensor cotangent(std::size_t n, std::uint32_t seed) {
    return test::from_xarray(xt::xarray<float>(test::random_array({n, 3}, seed)));
}

std::vector<float> values(const std::vector<tensor>& ts) {
    std::vector<float> out;
    for (const auto& t : ts) {
        const auto v = t.to_vector();
        out.insert(out.end(), v.begin(), v.end());
    }
    return out;
}

std::vector<float> gradients(const nn::module& m) {
    std::vector<tensor> g;
    for (const auto& p : m.parameters()) g.push_back(p.grad());
    return values(g);
}

void require_close(const std::vector<float>& a, const std::vector<float>& b, double tol = 2e-5) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        INFO("element " << i);
        REQUIRE(a[i] == Approx(b[i]).margin(tol).epsilon(tol));
    }
}

std::vector<float> rows(const tensor& t, std::size_t from, std::size_t to) {
    const auto v = t.to_vector();
    const std::size_t per = t.numel() / t.size(0);
    return std::vector<float>(v.begin() + static_cast<std::ptrdiff_t>(from * per),
                              v.begin() + static_cast<std::ptrdiff_t>(to * per));
}

}  // namespace

TEST_CASE("an eager sync batch norm with no cross-rank sum installed is plain batch norm exactly", "[eager][sync]") {
    REQUIRE(ops::installed_cross_rank_sum() == nullptr);
    auto s = make_net(true), p = make_net(false);
    copy_state(*s, *p);
    const tensor x = batch(5, 1), r = cotangent(5, 2);
    const tensor xs = x.clone().requires_grad_(), xp = x.clone().requires_grad_();
    const tensor ys = (*s)(xs), yp = (*p)(xp);
    ys.backward(r);
    yp.backward(r);
    CHECK(ys.to_vector() == yp.to_vector());
    CHECK(xs.grad().to_vector() == xp.grad().to_vector());
    CHECK(gradients(*s) == gradients(*p));
    CHECK(values(s->buffers()) == values(p->buffers()));
}

TEST_CASE("two threads as two ranks with other samples: eager sync batch norm is plain batch norm on both",
          "[eager][sync]") {
    auto r0 = make_net(true), r1 = make_net(true), whole = make_net(false), apart = make_net(false);
    copy_state(*r0, *r1);
    copy_state(*r0, *whole);
    copy_state(*r0, *apart);
    const tensor x0 = batch(3, 11), x1 = batch(5, 12), g0 = cotangent(3, 13), g1 = cotangent(5, 14);
    tensor y0, y1, dx0, dx1;
    const auto rank = [](nn::module& m, const tensor& x, const tensor& g, tensor& y, tensor& dx) {
        return [&m, &x, &g, &y, &dx] {
            const tensor leaf = x.clone().requires_grad_();
            y = m(leaf);
            y.backward(g);
            dx = leaf.grad();
        };
    };
    {
        const test::installed_sum guard(&test::two_threads_sum);
        test::run_as_two_ranks(rank(*r0, x0, g0, y0, dx0), rank(*r1, x1, g1, y1, dx1));
    }
    const tensor x = eager::cat(std::vector<tensor>{x0, x1}, 0).requires_grad_();
    const tensor y = (*whole)(x);
    y.backward(eager::cat(std::vector<tensor>{g0, g1}, 0));
    require_close(y0.to_vector(), rows(y, 0, 3));
    require_close(y1.to_vector(), rows(y, 3, 8));
    require_close(dx0.to_vector(), rows(x.grad(), 0, 3));
    require_close(dx1.to_vector(), rows(x.grad(), 3, 8));
    require_close(values(r0->buffers()), values(whole->buffers()));
    require_close(values(r1->buffers()), values(whole->buffers()));
    std::vector<float> summed = gradients(*r0);
    const std::vector<float> other = gradients(*r1);
    for (std::size_t i = 0; i < summed.size(); ++i) summed[i] += other[i];
    require_close(summed, gradients(*whole));
    // Without sync the first rank's batch is normalised by its own statistics: other outputs.
    const auto own = (*apart)(x0).to_vector(), synced = y0.to_vector();
    double worst = 0;
    for (std::size_t i = 0; i < own.size(); ++i) worst = std::max(worst, std::abs(double(own[i]) - synced[i]));
    CHECK(worst > 1e-3);
}

TEST_CASE("convert_sync_batch_norm makes every batch norm of a tree sync, in place", "[eager][sync]") {
    nn::sequential inner{nn::lazy_batch_norm2d(), nn::relu()};
    auto net = std::make_shared<nn::sequential>(make_net(false), std::move(inner));
    nn::module* found = nullptr;
    for (auto& [path, m] : net->named_modules())
        if (path == "0.1") found = m;
    REQUIRE(found != nullptr);
    auto& first = dynamic_cast<nn::batch_norm_base&>(*found);
    const float* weight = first.weight.data();
    CHECK_FALSE(first.options.sync);
    nn::module& same = nn::convert_sync_batch_norm(*net);
    CHECK(&same == net.get());
    std::size_t converted = 0;
    for (auto& [path, m] : net->named_modules())
        if (auto* bn = dynamic_cast<nn::batch_norm_base*>(m)) {
            INFO(path);
            CHECK(bn->options.sync);
            CHECK(bn->extra_repr().ends_with(", sync=true"));
            ++converted;
        }
    CHECK(converted == 3);
    CHECK(first.weight.data() == weight);  // the same parameters, not copies
}

TEST_CASE("graph_source writes a sync batch norm as the graph face's sync spelling", "[eager][sync][bridge]") {
    auto net = make_net(true);
    const std::string plain = nn::graph_source(*make_net(false), {2, 5, 4});
    const std::string synced = nn::graph_source(*net, {2, 5, 4});
    CHECK(plain.find("sync_") == std::string::npos);
    CHECK(synced.find("katachi::graph::sync_batch_norm2d") != std::string::npos);
    CHECK(synced.find("katachi::graph::sync_batch_norm1d") != std::string::npos);
    nn::sequential other(nn::batch_norm1d({.num_features = 4, .eps = 1e-3, .sync = true}));
    CHECK(nn::graph_source(other, {4}).find(
              "katachi::graph::layer<katachi::ops::batch_norm1d, katachi::ops::batch_norm_options{.eps = "
              "0.001, .sync = true}>") != std::string::npos);
}
