// Every differentiable eager operation against central finite differences in float64.
//
// Each case is a function of some input tensors; the loss is the sum of its output weighted by fixed
// random cotangents r. backward(r) gives the analytic gradient of every input, numeric_gradient the
// finite-difference one; their relative error must stay below 1e-6.
#include <catch2/catch.hpp>
#include <functional>
#include <katachi/eager/autograd.hpp>
#include <katachi/eager/functional.hpp>
#include <katachi/kernels/avg_pool2d.hpp>
#include <katachi/kernels/conv1d.hpp>
#include <katachi/kernels/conv2d.hpp>
#include <katachi/kernels/conv_transpose2d.hpp>
#include <katachi/kernels/max_pool2d.hpp>
#include <support/gradcheck.hpp>

#include "eager_support.hpp"

using namespace katachi;
using eager::tensor64;
using test::random_array;
using inputs = std::vector<tensor64>;
using op = std::function<tensor64(const inputs&)>;

namespace {

double weighted(const tensor64& y, const xt::xarray<double>& r) {
    const std::vector<double> v = y.to_vector();
    REQUIRE(v.size() == r.size());
    double s = 0;
    for (std::size_t i = 0; i < v.size(); ++i) s += v[i] * r.data()[i];
    return s;
}

// Checks the gradient of every input of f at the values xs.
void check(const char* name, const op& f, std::vector<xt::xarray<double>> xs) {
    INFO("operation " << name);
    inputs leaves;
    for (const auto& x : xs) leaves.push_back(test::from_xarray(x).requires_grad_());
    const tensor64 y = f(leaves);
    REQUIRE(y.requires_grad());
    const xt::xarray<double> r =
        random_array(std::vector<std::size_t>(y.shape().begin(), y.shape().end()), 99);
    y.backward(test::from_xarray(r));
    for (std::size_t i = 0; i < xs.size(); ++i) {
        INFO("input " << i);
        const auto loss = [&] {
            eager::no_grad guard;
            inputs ins;
            for (const auto& x : xs) ins.push_back(test::from_xarray(x));
            return weighted(f(ins), r);
        };
        const xt::xarray<double> numeric = test::numeric_gradient(loss, xs[i]);
        REQUIRE(leaves[i].grad().defined());
        const xt::xarray<double> analytic = test::to_xarray(leaves[i].grad());
        KATACHI_CHECK_GRADIENT(analytic, numeric);
    }
}

xt::xarray<double> rnd(std::vector<std::size_t> shape, std::uint32_t seed, double lo = -1, double hi = 1) {
    return random_array(std::move(shape), seed, lo, hi);
}

}  // namespace

TEST_CASE("arithmetic operations pass the finite-difference check", "[eager][gradcheck]") {
    const auto a = rnd({2, 3}, 1), b = rnd({2, 3}, 2, 0.5, 2.0);
    check("add", [](const inputs& x) { return x[0] + x[1]; }, {a, b});
    check("sub", [](const inputs& x) { return x[0] - x[1]; }, {a, b});
    check("mul", [](const inputs& x) { return x[0] * x[1]; }, {a, b});
    check("div", [](const inputs& x) { return x[0] / x[1]; }, {a, b});
    check("neg", [](const inputs& x) { return -x[0]; }, {a});
    check("add scalar", [](const inputs& x) { return x[0] + 2.5; }, {a});
    check("mul scalar", [](const inputs& x) { return x[0] * -1.5; }, {a});
    check("rsub", [](const inputs& x) { return 2.0 - x[0]; }, {a});
    check("rdiv", [](const inputs& x) { return 2.0 / x[0]; }, {b});
    check("pow", [](const inputs& x) { return eager::pow(x[0], 3.0); }, {a});
    check("exp", [](const inputs& x) { return eager::exp(x[0]); }, {a});
    check("log", [](const inputs& x) { return eager::log(x[0]); }, {b});
    check("sum", [](const inputs& x) { return eager::sum(x[0]); }, {a});
    check("mean", [](const inputs& x) { return eager::mean(x[0]); }, {a});
    check("matmul", [](const inputs& x) { return eager::matmul(x[0], x[1]); },
          {rnd({2, 3}, 3), rnd({3, 4}, 4)});
}

TEST_CASE("broadcasting arithmetic passes the finite-difference check, summed gradients included",
          "[eager][gradcheck]") {
    const auto a = rnd({4, 3}, 21), row = rnd({3}, 22), col = rnd({4, 1}, 23, 0.5, 2.0), s = rnd({}, 24);
    check("add [4, 3] + [3]", [](const inputs& x) { return x[0] + x[1]; }, {a, row});
    check("add [] + [4, 3]", [](const inputs& x) { return x[0] + x[1]; }, {s, a});
    check("sub [4, 1] - [3]", [](const inputs& x) { return x[0] - x[1]; }, {col, row});
    check("mul [2, 1, 3] * [4, 1]", [](const inputs& x) { return x[0] * x[1]; }, {rnd({2, 1, 3}, 25), col});
    check("mul [4, 3] * [4, 1]", [](const inputs& x) { return x[0] * x[1]; }, {a, col});
    check("div [4, 3] / [4, 1]", [](const inputs& x) { return x[0] / x[1]; }, {a, col});
    check("div [3] / [4, 1]", [](const inputs& x) { return x[0] / x[1]; }, {row, col});
    check("pow [4, 1] ^ [3]", [](const inputs& x) { return eager::pow(x[0], x[1]); }, {col, rnd({3}, 26, -2, 2)});
    check("pow [4, 3] ^ [4, 3]", [](const inputs& x) { return eager::pow(x[0], x[1]); },
          {rnd({4, 3}, 27, 0.5, 2.0), rnd({4, 3}, 28)});
    const tensor64 cond = eager::from_values<double>({1, 0, 0, 1}, {4, 1});
    check("where [4, 1] ? [3] : [4, 3]", [&](const inputs& x) { return eager::where(cond, x[0], x[1]); }, {row, a});
}

TEST_CASE("pointwise maps pass the finite-difference check", "[eager][gradcheck]") {
    const auto pos = rnd({3, 4}, 31, 0.2, 2.0), any = test::random_away_from_zero({3, 4}, 32);
    check("sqrt", [](const inputs& x) { return eager::sqrt(x[0]); }, {pos});
    check("abs", [](const inputs& x) { return eager::abs(x[0]); }, {any});
    check("exp", [](const inputs& x) { return eager::exp(x[0]); }, {any});
    check("log", [](const inputs& x) { return eager::log(x[0]); }, {pos});
    check("pow 2.5", [](const inputs& x) { return eager::pow(x[0], 2.5); }, {pos});
    check("pow -1", [](const inputs& x) { return eager::pow(x[0], -1.0); }, {pos});
    // Clamp bounds between the inputs, away from every value, where the derivative is defined.
    check("clamp", [](const inputs& x) { return eager::clamp(x[0], -0.5, 0.5); }, {any});
    check("clamp min", [](const inputs& x) { return eager::clamp(x[0], 0.0); }, {any});
    check("clamp max", [](const inputs& x) { return eager::clamp(x[0], std::nullopt, 0.0); }, {any});
}

TEST_CASE("reductions along a dimension pass the finite-difference check", "[eager][gradcheck]") {
    const auto a = rnd({3, 4, 5}, 41);
    check("sum dim 1", [](const inputs& x) { return eager::sum(x[0], 1); }, {a});
    check("sum dim -1 keepdim", [](const inputs& x) { return eager::sum(x[0], -1, true); }, {a});
    check("mean dim 0", [](const inputs& x) { return eager::mean(x[0], 0); }, {a});
    check("mean dim 2 keepdim", [](const inputs& x) { return eager::mean(x[0], 2, true); }, {a});
    // Random values have no ties, so the chosen element stays put under the finite differences.
    check("max dim 1", [](const inputs& x) { return eager::max(x[0], 1).values; }, {a});
    check("max dim 0 keepdim", [](const inputs& x) { return eager::max(x[0], 0, true).values; }, {a});
    check("min dim -1", [](const inputs& x) { return eager::min(x[0], -1).values; }, {a});
    check("min dim 2 keepdim", [](const inputs& x) { return eager::min(x[0], 2, true).values; }, {a});
}

TEST_CASE("cat, stack and the parts of a tensor pass the finite-difference check", "[eager][gradcheck]") {
    const auto a = rnd({3, 4}, 51), b = rnd({3, 2}, 52), c = rnd({3, 4}, 53);
    check("cat dim 1", [](const inputs& x) { return eager::cat(x, 1); }, {a, b});
    check("cat dim 0", [](const inputs& x) { return eager::cat(x, 0); }, {a, c});
    check("stack dim 0", [](const inputs& x) { return eager::stack(x, 0); }, {a, c});
    check("stack dim -1", [](const inputs& x) { return eager::stack(x, -1); }, {a, c});
    check("narrow", [](const inputs& x) { return x[0].narrow(1, 1, 2); }, {a});
    check("select", [](const inputs& x) { return x[0].select(0, -1); }, {a});
    check("slice with a step", [](const inputs& x) { return x[0].slice(1, 1, std::nullopt, 2); }, {a});
    check("slice of a transpose", [](const inputs& x) { return x[0].transpose(0, 1).slice(0, 0, 3) * 2.0; }, {a});
    check("index_select with a repeat", [](const inputs& x) { return eager::index_select(x[0], 1, {3, 0, 3}); }, {a});
}

TEST_CASE("views and copies pass the finite-difference check", "[eager][gradcheck]") {
    const auto a = rnd({2, 3, 4}, 5);
    const auto w = test::from_xarray(rnd({4, 3, 2}, 6));
    check("transpose", [&](const inputs& x) { return x[0].transpose(0, 2) * w; }, {a});
    check("permute", [](const inputs& x) { return x[0].permute({2, 0, 1}); }, {a});
    check("view", [](const inputs& x) { return x[0].view({-1, 6}); }, {a});
    check("reshape of a transpose",
          [](const inputs& x) {
              return x[0].transpose(1, 2).reshape({4, 6});
          },
          {a});
    check("contiguous", [](const inputs& x) { return x[0].transpose(0, 1).contiguous(); }, {a});
    check("clone", [](const inputs& x) { return x[0].clone() * x[0]; }, {a});
    check("flatten", [](const inputs& x) { return x[0].flatten(1); }, {a});
}

TEST_CASE("activations pass the finite-difference check", "[eager][gradcheck]") {
    const auto a = test::random_away_from_zero({3, 4}, 7);
    check("relu", [](const inputs& x) { return eager::relu(x[0]); }, {a});
    check("leaky_relu", [](const inputs& x) { return eager::leaky_relu(x[0], 0.2); }, {a});
    check("gelu", [](const inputs& x) { return eager::gelu(x[0]); }, {a});
    check("gelu tanh", [](const inputs& x) { return eager::gelu(x[0], eager::gelu_approximate::tanh); }, {a});
    check("sigmoid", [](const inputs& x) { return eager::sigmoid(x[0]); }, {a});
    check("tanh", [](const inputs& x) { return eager::tanh(x[0]); }, {a});
    check("softmax", [](const inputs& x) { return eager::softmax(x[0], 0); }, {a});
    check("log_softmax", [](const inputs& x) { return eager::log_softmax(x[0], -1); }, {a});
}

TEST_CASE("linear and the convolutions pass the finite-difference check", "[eager][gradcheck]") {
    check("linear", [](const inputs& x) { return eager::linear(x[0], x[1], x[2]); },
          {rnd({3, 4}, 8), rnd({5, 4}, 9), rnd({5}, 10)});
    check("linear without bias on [2, 3, 4]", [](const inputs& x) { return eager::linear(x[0], x[1]); },
          {rnd({2, 3, 4}, 11), rnd({5, 4}, 12)});
    check("conv1d",
          [](const inputs& x) {
              return eager::conv1d(x[0], x[1], x[2], {.stride = 2, .padding = 1, .dilation = 1, .groups = 2});
          },
          {rnd({2, 4, 9}, 13), rnd({6, 2, 3}, 14), rnd({6}, 15)});
    check(
        "conv2d",
        [](const inputs& x) {
            return eager::conv2d(x[0], x[1], x[2], {.stride = {2, 1}, .padding = {1, 1}, .dilation = {1, 2}});
        },
        {rnd({2, 3, 7, 6}, 16), rnd({4, 3, 3, 2}, 17), rnd({4}, 18)});
    check("conv2d without bias, grouped",
          [](const inputs& x) {
              return eager::conv2d(x[0], x[1], {}, {.padding = {1, 1}, .groups = 2});
          },
          {rnd({1, 4, 5, 5}, 19), rnd({2, 2, 3, 3}, 20)});
    check("conv_transpose2d",
          [](const inputs& x) {
              return eager::conv_transpose2d(x[0], x[1], x[2],
                                             {.stride = {2, 2}, .padding = {1, 0}, .output_padding = {1, 1}});
          },
          {rnd({2, 3, 4, 3}, 21), rnd({3, 2, 3, 3}, 22), rnd({2}, 23)});
}

TEST_CASE("pooling passes the finite-difference check", "[eager][gradcheck]") {
    // Distinct values, so that a small step never changes which element is the maximum.
    xt::xarray<double> distinct = rnd({2, 2, 6, 5}, 24);
    for (std::size_t i = 0; i < distinct.size(); ++i)
        distinct.data()[i] = static_cast<double>((i * 37) % 60) / 10.0;
    check("max_pool2d",
          [](const inputs& x) {
              return eager::max_pool2d(x[0], {.kernel_size = {2, 2}});
          },
          {distinct});
    check("max_pool2d strided and padded",
          [](const inputs& x) {
              return eager::max_pool2d(x[0], {.kernel_size = {3, 3}, .stride = {2, 2}, .padding = {1, 1}});
          },
          {distinct});
    check("avg_pool2d",
          [](const inputs& x) {
              return eager::avg_pool2d(
                  x[0], {.kernel_size = {3, 2}, .stride = {2, 1}, .padding = {1, 0}, .ceil_mode = true});
          },
          {rnd({2, 2, 6, 5}, 25)});
    check("adaptive_avg_pool2d",
          [](const inputs& x) {
              return eager::adaptive_avg_pool2d(x[0], {4, 3});
          },
          {rnd({2, 2, 7, 5}, 26)});
}

TEST_CASE("batch norm passes the finite-difference check in training and evaluation", "[eager][gradcheck]") {
    const auto x = rnd({4, 3, 2, 2}, 27), w = rnd({3}, 28), b = rnd({3}, 29);
    check("batch_norm train",
          [](const inputs& in) { return eager::batch_norm(in[0], {}, {}, in[1], in[2], true); }, {x, w, b});
    check("batch_norm train without affine",
          [](const inputs& in) { return eager::batch_norm(in[0], {}, {}, {}, {}, true); }, {rnd({5, 3}, 30)});
    const tensor64 rm = test::from_xarray(rnd({3}, 31)), rv = test::from_xarray(rnd({3}, 32, 0.5, 1.5));
    check("batch_norm eval",
          [&](const inputs& in) { return eager::batch_norm(in[0], rm, rv, in[1], in[2], false); }, {x, w, b});
}

TEST_CASE("layer norm passes the finite-difference check, with and without its affine parameters",
          "[eager][gradcheck]") {
    check("layer_norm over the last size",
          [](const inputs& in) { return eager::layer_norm(in[0], {5}, in[1], in[2]); },
          {rnd({3, 5}, 40), rnd({5}, 41, 0.5, 1.5), rnd({5}, 42)});
    check("layer_norm over a plane",
          [](const inputs& in) { return eager::layer_norm(in[0], {3, 4}, in[1], in[2], 1e-3); },
          {rnd({2, 2, 3, 4}, 43), rnd({3, 4}, 44, 0.5, 1.5), rnd({3, 4}, 45)});
    check("layer_norm without affine",
          [](const inputs& in) { return eager::layer_norm(in[0], {2, 3, 4}); }, {rnd({2, 2, 3, 4}, 46)});
}

TEST_CASE("pooling with ceil_mode and without count_include_pad passes the finite-difference check",
          "[eager][gradcheck]") {
    xt::xarray<double> distinct = rnd({2, 2, 6, 5}, 47);
    for (std::size_t i = 0; i < distinct.size(); ++i)
        distinct.data()[i] = static_cast<double>((i * 41) % 60) / 10.0;
    check("max_pool2d ceil_mode",
          [](const inputs& x) {
              return eager::max_pool2d(x[0], {.kernel_size = {3, 3}, .stride = {2, 2}, .ceil_mode = true});
          },
          {distinct});
    check("avg_pool2d without count_include_pad",
          [](const inputs& x) {
              return eager::avg_pool2d(x[0], {.kernel_size = {2, 2},
                                              .stride = {1, 1},
                                              .padding = {1, 1},
                                              .ceil_mode = true,
                                              .count_include_pad = false});
          },
          {rnd({2, 2, 4, 3}, 48)});
}

TEST_CASE("dropout and the losses pass the finite-difference check", "[eager][gradcheck]") {
    check("dropout",
          [](const inputs& x) {
              generator gen(5);  // the same mask at every evaluation
              return eager::dropout(x[0], 0.4, true, &gen);
          },
          {rnd({4, 5}, 33)});
    const std::vector<std::int64_t> target{2, 0, 3};
    check("cross_entropy", [&](const inputs& x) { return eager::cross_entropy(x[0], target); },
          {rnd({3, 4}, 34)});
    check("cross_entropy with label smoothing",
          [&](const inputs& x) { return eager::cross_entropy(x[0], target, {.label_smoothing = 0.2}); },
          {rnd({3, 4}, 35)});
    check("nll_loss", [&](const inputs& x) { return eager::nll_loss(eager::log_softmax(x[0]), target); },
          {rnd({3, 4}, 36)});
    check("mse_loss", [](const inputs& x) { return eager::mse_loss(x[0], x[1]); },
          {rnd({2, 3}, 37), rnd({2, 3}, 38)});
}
