// The elementwise activations as one list: each backward against central differences in float64,
// in-place forwards, write::accumulate, `none`, and shape errors. An activation joins by adding
// its case to `elementwise_activations`; per-op behaviour and PyTorch values are in test_<op>.cpp.
#include <catch2/catch.hpp>
#include <katachi/kernels/gelu.hpp>
#include <katachi/kernels/leaky_relu.hpp>
#include <katachi/kernels/relu.hpp>
#include <katachi/kernels/sigmoid.hpp>
#include <katachi/kernels/tanh.hpp>
#include <string>
#include <support/gradcheck.hpp>
#include <tuple>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xfixed.hpp>
#include <xtensor/xmath.hpp>

namespace k = katachi::kernels;
using katachi::test::random_array;
using katachi::test::random_away_from_zero;

namespace {

const std::vector<std::size_t> odd_shape{3, 17, 15};

// Each case: the op's name, an input away from its kinks, forward, and backward given x and y
// (the case forwards whichever one its kernel takes).
struct relu_case {
    static constexpr const char* name = "relu";
    static xt::xarray<double> input(std::uint32_t seed) { return random_away_from_zero(odd_shape, seed); }
    static void forward(const auto& x, auto&& y) { k::relu_forward(x, y); }
    static void backward(const auto&, const auto& y, const auto& dy, auto&& dx, k::write mode) {
        k::relu_backward(y, dy, dx, mode);
    }
};

struct leaky_relu_case {
    static constexpr const char* name = "leaky_relu";
    static xt::xarray<double> input(std::uint32_t seed) { return random_away_from_zero(odd_shape, seed); }
    static void forward(const auto& x, auto&& y) { k::leaky_relu_forward(x, y, 0.2); }
    static void backward(const auto& x, const auto&, const auto& dy, auto&& dx, k::write mode) {
        k::leaky_relu_backward(x, dy, dx, 0.2, mode);
    }
};

struct gelu_case {
    static constexpr const char* name = "gelu";
    static xt::xarray<double> input(std::uint32_t seed) { return random_array(odd_shape, seed, -4, 4); }
    static void forward(const auto& x, auto&& y) { k::gelu_forward(x, y); }
    static void backward(const auto& x, const auto&, const auto& dy, auto&& dx, k::write mode) {
        k::gelu_backward(x, dy, dx, k::gelu_approximate::none, mode);
    }
};

struct gelu_tanh_case {
    static constexpr const char* name = "gelu";
    static xt::xarray<double> input(std::uint32_t seed) { return random_array(odd_shape, seed, -4, 4); }
    static void forward(const auto& x, auto&& y) { k::gelu_forward(x, y, k::gelu_approximate::tanh); }
    static void backward(const auto& x, const auto&, const auto& dy, auto&& dx, k::write mode) {
        k::gelu_backward(x, dy, dx, k::gelu_approximate::tanh, mode);
    }
};

struct sigmoid_case {
    static constexpr const char* name = "sigmoid";
    static xt::xarray<double> input(std::uint32_t seed) { return random_array(odd_shape, seed, -6, 6); }
    static void forward(const auto& x, auto&& y) { k::sigmoid_forward(x, y); }
    static void backward(const auto&, const auto& y, const auto& dy, auto&& dx, k::write mode) {
        k::sigmoid_backward(y, dy, dx, mode);
    }
};

struct tanh_case {
    static constexpr const char* name = "tanh";
    static xt::xarray<double> input(std::uint32_t seed) { return random_array(odd_shape, seed, -3, 3); }
    static void forward(const auto& x, auto&& y) { k::tanh_forward(x, y); }
    static void backward(const auto&, const auto& y, const auto& dy, auto&& dx, k::write mode) {
        k::tanh_backward(y, dy, dx, mode);
    }
};

using elementwise_activations =
    std::tuple<relu_case, leaky_relu_case, gelu_case, gelu_tanh_case, sigmoid_case, tanh_case>;

template <class Op>
xt::xarray<double> forward_of(const xt::xarray<double>& x) {
    xt::xarray<double> y = xt::zeros<double>(x.shape());
    Op::forward(x, y);
    return y;
}

}  // namespace

TEMPLATE_LIST_TEST_CASE("elementwise activation backward matches finite differences on a 3x17x15 input",
                        "[activations][gradcheck]", elementwise_activations) {
    xt::xarray<double> x = TestType::input(11);
    const xt::xarray<double> r = random_array(odd_shape, 12);
    const xt::xarray<double> y = forward_of<TestType>(x);
    xt::xarray<double> dx = xt::zeros<double>(x.shape());
    TestType::backward(x, y, r, dx, k::write::overwrite);
    const auto numeric = katachi::test::numeric_gradient(
        [&] { return katachi::test::weighted_sum(forward_of<TestType>(x), r); }, x);
    KATACHI_CHECK_GRADIENT(dx, numeric);
}

TEMPLATE_LIST_TEST_CASE("elementwise activation forward may write over its own input", "[activations]",
                        elementwise_activations) {
    const xt::xarray<double> x = TestType::input(21);
    const xt::xarray<double> expected = forward_of<TestType>(x);
    xt::xarray<double> inplace = x;
    TestType::forward(inplace, inplace);
    CHECK((inplace == expected));
    CHECK_FALSE((inplace == x));
}

TEMPLATE_LIST_TEST_CASE("elementwise activation backward with write::accumulate adds to the gradient buffer",
                        "[activations]", elementwise_activations) {
    const xt::xarray<double> x = TestType::input(31);
    const xt::xarray<double> y = forward_of<TestType>(x);
    const xt::xarray<double> dy = random_array(odd_shape, 32);
    const xt::xarray<double> before = random_array(odd_shape, 33);
    xt::xarray<double> fresh = random_array(odd_shape, 34);
    TestType::backward(x, y, dy, fresh, k::write::overwrite);
    xt::xarray<double> summed = before;
    TestType::backward(x, y, dy, summed, k::write::accumulate);
    CHECK(xt::allclose(summed, xt::xarray<double>(before + fresh), 1e-15, 1e-15));
    CHECK_FALSE(xt::allclose(fresh, before));
}

TEMPLATE_LIST_TEST_CASE("elementwise activation backward into none leaves everything untouched",
                        "[activations]", elementwise_activations) {
    const xt::xarray<double> x = TestType::input(41);
    const xt::xarray<double> y = forward_of<TestType>(x);
    const xt::xarray<double> dy = random_array(odd_shape, 42);
    const xt::xarray<double> x_copy = x, y_copy = y, dy_copy = dy;
    TestType::backward(x, y, dy, k::none, k::write::overwrite);
    CHECK((x == x_copy));
    CHECK((y == y_copy));
    CHECK((dy == dy_copy));
}

TEMPLATE_LIST_TEST_CASE("elementwise activation with mismatched shapes names the op and both shapes",
                        "[activations][errors]", elementwise_activations) {
    const xt::xarray<float> x = xt::zeros<float>({3, 4});
    xt::xarray<float> y = xt::zeros<float>({4, 3});
    const std::string op = TestType::name;
    CHECK_THROWS_AS(TestType::forward(x, y), katachi::shape_mismatch);
    CHECK_THROWS_WITH(TestType::forward(x, y), Catch::Contains(op + "_forward") &&
                                                   Catch::Contains("[3, 4]") && Catch::Contains("[4, 3]"));
    const xt::xarray<float> dy = xt::zeros<float>({3, 4});
    xt::xarray<float> dx = xt::zeros<float>({3, 5});
    CHECK_THROWS_AS(TestType::backward(x, dy, dy, dx, k::write::overwrite), katachi::shape_mismatch);
    CHECK_THROWS_WITH(
        TestType::backward(x, dy, dy, dx, k::write::overwrite),
        Catch::Contains(op + "_backward") && Catch::Contains("[3, 4]") && Catch::Contains("[3, 5]"));
}

TEMPLATE_LIST_TEST_CASE(
    "elementwise activation runs in float on adaptors of caller memory and on fixed tensors", "[activations]",
    elementwise_activations) {
    const xt::xarray<double> x64 = TestType::input(51);
    const xt::xarray<float> x = xt::cast<float>(x64);
    xt::xarray<float> expected = xt::zeros<float>(x.shape());
    TestType::forward(x, expected);
    std::vector<float> storage(x.size());
    TestType::forward(x, xt::adapt(storage, x.shape()));
    CHECK((xt::adapt(storage, x.shape()) == expected));
    xt::xtensor_fixed<float, xt::xshape<2, 3>> fx = {{-1.5f, -0.5f, 0.25f}, {0.5f, 1.0f, 2.5f}};
    xt::xtensor_fixed<float, xt::xshape<2, 3>> fy;
    TestType::forward(fx, fy);
    const xt::xarray<float> dyn_x = fx;
    xt::xarray<float> dyn_y = xt::zeros<float>({2, 3});
    TestType::forward(dyn_x, dyn_y);
    CHECK((xt::xarray<float>(fy) == dyn_y));
}
