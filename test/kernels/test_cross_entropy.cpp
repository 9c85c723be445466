// cross_entropy on logits: finite differences in float64 with and without label smoothing and with
// ignored samples, PyTorch's loss and gradient, NaN when every sample is ignored, and the errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <katachi/kernels/cross_entropy.hpp>
#include <random>
#include <string>
#include <support/fixtures.hpp>
#include <support/gradcheck.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xmath.hpp>

namespace k = katachi::kernels;
using katachi::test::fixture;
using katachi::test::random_array;
using katachi::test::require_allclose;

namespace {

constexpr std::size_t samples = 17, classes = 15;

xt::xarray<std::int64_t> random_targets(std::uint32_t seed) {
    std::mt19937 gen(seed);
    std::uniform_int_distribution<std::int64_t> dist(0, classes - 1);
    xt::xarray<std::int64_t> t = xt::zeros<std::int64_t>({samples});
    for (auto& v : t) v = dist(gen);
    return t;
}

double loss_of(const xt::xarray<double>& logits, const xt::xarray<std::int64_t>& target,
               const k::cross_entropy_options& opts) {
    xt::xarray<double> log_probs = xt::zeros<double>(logits.shape());
    return k::cross_entropy_forward(logits, target, log_probs, opts);
}

}  // namespace

TEST_CASE(
    "cross_entropy backward matches finite differences without and with label smoothing and ignored samples",
    "[cross_entropy][gradcheck]") {
    xt::xarray<std::int64_t> with_ignored = random_targets(5);
    with_ignored(3) = -100;
    with_ignored(10) = -100;
    xt::xarray<std::int64_t> with_custom_ignore = random_targets(6);
    with_custom_ignore(0) = 4;
    struct variant {
        const char* name;
        xt::xarray<std::int64_t> target;
        k::cross_entropy_options opts;
    };
    for (const auto& v : {variant{"plain", random_targets(4), {}},
                          variant{"label smoothing 0.1", random_targets(4), {.label_smoothing = 0.1}},
                          variant{"smoothing 0.3, two ignored", with_ignored, {.label_smoothing = 0.3}},
                          variant{"ignore_index 4", with_custom_ignore, {.ignore_index = 4}}}) {
        INFO(v.name);
        xt::xarray<double> logits = random_array({samples, classes}, 7, -3, 3);
        xt::xarray<double> log_probs = xt::zeros<double>(logits.shape());
        k::cross_entropy_forward(logits, v.target, log_probs, v.opts);
        const double dloss = 0.75;
        xt::xarray<double> dlogits = xt::zeros<double>(logits.shape());
        k::cross_entropy_backward(log_probs, v.target, dloss, dlogits, v.opts);
        const auto numeric = katachi::test::numeric_gradient(
            [&] { return dloss * loss_of(logits, v.target, v.opts); }, logits);
        KATACHI_CHECK_GRADIENT(dlogits, numeric);
    }
}

TEST_CASE(
    "cross_entropy loss and gradient match PyTorch with label smoothing, ignore_index and logits of +-100",
    "[cross_entropy][pytorch]") {
    const auto f = katachi::test::load_fixture_file("act.safetensors");
    for (const auto& [key, opts] : {std::pair<std::string, k::cross_entropy_options>{"cross_entropy", {}},
                                    {"cross_entropy_smooth", {.label_smoothing = 0.1}},
                                    {"cross_entropy_ignore", {.label_smoothing = 0.1}},
                                    {"cross_entropy_ignore3", {.ignore_index = 3}}}) {
        INFO(key);
        const xt::xarray<float> logits = fixture(f, key + ".logits");
        const xt::xarray<std::int64_t> target = fixture<std::int64_t>(f, key + ".target");
        xt::xarray<float> log_probs = xt::zeros<float>(logits.shape());
        const float loss = k::cross_entropy_forward(logits, target, log_probs, opts);
        require_allclose(xt::xarray<float>{loss}, fixture(f, key + ".loss"));
        const float dloss = fixture(f, key + ".dloss")(0);
        xt::xarray<float> dlogits = xt::zeros<float>(logits.shape());
        k::cross_entropy_backward(log_probs, target, dloss, dlogits, opts);
        require_allclose(dlogits, fixture(f, key + ".dlogits"));
    }
}

TEST_CASE("cross_entropy with every sample ignored is NaN with zero gradients, as PyTorch",
          "[cross_entropy]") {
    const xt::xarray<float> logits = xt::cast<float>(random_array({4, 3}, 8));
    const xt::xarray<std::int64_t> target = {-100, -100, -100, -100};
    xt::xarray<float> log_probs = xt::zeros<float>({4, 3});
    CHECK(std::isnan(k::cross_entropy_forward(logits, target, log_probs, {.label_smoothing = 0.2})));
    xt::xarray<float> dlogits = xt::ones<float>({4, 3});
    k::cross_entropy_backward(log_probs, target, 1.0f, dlogits, {.label_smoothing = 0.2});
    CHECK((dlogits == xt::zeros<float>({4, 3})));
}

TEST_CASE("cross_entropy backward into none leaves its inputs untouched", "[cross_entropy]") {
    const xt::xarray<double> log_probs = random_array({samples, classes}, 12);
    const xt::xarray<double> copy = log_probs;
    CHECK_NOTHROW(k::cross_entropy_backward(log_probs, random_targets(13), 1.0, k::none));
    CHECK((log_probs == copy));
}

TEST_CASE("cross_entropy with write::accumulate adds to the gradient buffer", "[cross_entropy]") {
    const xt::xarray<double> logits = random_array({samples, classes}, 9);
    xt::xarray<std::int64_t> target = random_targets(10);
    target(2) = -100;
    const k::cross_entropy_options opts{.label_smoothing = 0.1};
    xt::xarray<double> log_probs = xt::zeros<double>(logits.shape());
    k::cross_entropy_forward(logits, target, log_probs, opts);
    xt::xarray<double> fresh = xt::zeros<double>(logits.shape());
    k::cross_entropy_backward(log_probs, target, 0.5, fresh, opts);
    const xt::xarray<double> before = random_array({samples, classes}, 11);
    xt::xarray<double> summed = before;
    k::cross_entropy_backward(log_probs, target, 0.5, summed, opts, k::write::accumulate);
    CHECK(xt::allclose(summed, xt::xarray<double>(before + fresh), 1e-15, 1e-15));
    CHECK(xt::amax(xt::abs(fresh))() > 0.0);
}

TEST_CASE("cross_entropy rejects a target outside [0, C), naming the sample and its value",
          "[cross_entropy][errors]") {
    const xt::xarray<float> logits = xt::zeros<float>({6, 5});
    xt::xarray<float> log_probs = xt::zeros<float>({6, 5});
    const xt::xarray<std::int64_t> too_large = {0, 1, 2, 3, 4, 5};
    CHECK_THROWS_AS(k::cross_entropy_forward(logits, too_large, log_probs), std::out_of_range);
    CHECK_THROWS_WITH(k::cross_entropy_forward(logits, too_large, log_probs),
                      Catch::Contains("cross_entropy_forward") && Catch::Contains("target[5] = 5") &&
                          Catch::Contains("[0, 5)"));
    const xt::xarray<std::int64_t> negative = {0, 1, -1, 3, -100, 4};
    CHECK_THROWS_WITH(k::cross_entropy_forward(logits, negative, log_probs),
                      Catch::Contains("target[2] = -1"));
    CHECK_THROWS_WITH(k::cross_entropy_forward(logits, negative, log_probs, {.ignore_index = -1}),
                      Catch::Contains("target[4] = -100"));
    xt::xarray<float> dlogits = xt::zeros<float>({6, 5});
    CHECK_THROWS_WITH(k::cross_entropy_backward(log_probs, too_large, 1.0f, dlogits),
                      Catch::Contains("cross_entropy_backward") && Catch::Contains("target[5] = 5"));
}

TEST_CASE("cross_entropy rejects mismatched shapes and label smoothing outside [0, 1]",
          "[cross_entropy][errors]") {
    const xt::xarray<float> logits = xt::zeros<float>({4, 5});
    xt::xarray<float> log_probs = xt::zeros<float>({4, 5});
    xt::xarray<float> wrong = xt::zeros<float>({4, 6});
    const xt::xarray<std::int64_t> target = {0, 1, 2, 3};
    CHECK_THROWS_AS(k::cross_entropy_forward(logits, target, wrong), katachi::shape_mismatch);
    CHECK_THROWS_WITH(
        k::cross_entropy_forward(logits, target, wrong),
        Catch::Contains("cross_entropy_forward") && Catch::Contains("[4, 5]") && Catch::Contains("[4, 6]"));
    CHECK_THROWS_WITH(k::cross_entropy_forward(logits, xt::xarray<std::int64_t>{0, 1, 2}, log_probs),
                      Catch::Contains("target has shape [3], expected [4]"));
    const xt::xarray<float> rank3 = xt::zeros<float>({4, 5, 1});
    xt::xarray<float> rank3_out = xt::zeros<float>({4, 5, 1});
    CHECK_THROWS_WITH(k::cross_entropy_forward(rank3, target, rank3_out), Catch::Contains("expected rank 2"));
    CHECK_THROWS_WITH(k::cross_entropy_backward(log_probs, target, 1.0f, wrong),
                      Catch::Contains("cross_entropy_backward") && Catch::Contains("[4, 6]"));
    CHECK_THROWS_AS(k::cross_entropy_forward(logits, target, log_probs, {.label_smoothing = 1.5}),
                    std::invalid_argument);
    CHECK_THROWS_WITH(k::cross_entropy_forward(logits, target, log_probs, {.label_smoothing = -0.1}),
                      Catch::Contains("label_smoothing"));
}
