// batch_norm: finite-difference checks in float64 of both backward passes (train: through the batch
// statistics; eval: with the running statistics fixed) for [N, C], [N, C, L] and [N, C, H, W];
// PyTorch fixtures for one training step (output, saved statistics, running statistics,
// gradients) and the evaluation that follows; and the errors.
#include <catch2/catch.hpp>
#include <katachi/kernels/batch_norm.hpp>
#include <optional>
#include <string>
#include <vector>
#include <xtensor/xarray.hpp>

#include "support/fixtures.hpp"
#include "support/gradcheck.hpp"

using namespace katachi;
using namespace katachi::kernels;

namespace {

using array = xt::xarray<double>;

void check_train_gradients(const std::vector<std::size_t>& shape, bool affine, std::uint32_t seed) {
    const std::size_t C = shape[1];
    array x = test::random_array(shape, seed, -2.0, 3.0);
    array weight = test::random_array({C}, seed + 1, 0.5, 1.5);
    array bias = test::random_array({C}, seed + 2);
    const array r = test::random_array(shape, seed + 3);
    array y = xt::zeros<double>(shape), mean = xt::zeros<double>({C}), invstd = xt::zeros<double>({C});
    auto forward = [&] {
        if (affine)
            batch_norm_forward_train(x, weight, bias, none, none, y, mean, invstd);
        else
            batch_norm_forward_train(x, none, none, none, none, y, mean, invstd);
    };
    auto loss = [&] {
        forward();
        return test::weighted_sum(y, r);
    };
    const array numeric_dx = test::numeric_gradient(loss, x);
    forward();
    array dx = xt::zeros<double>(shape);
    if (affine) {
        const array numeric_dw = test::numeric_gradient(loss, weight);
        const array numeric_db = test::numeric_gradient(loss, bias);
        forward();
        array dw = xt::zeros<double>({C}), db = xt::zeros<double>({C});
        batch_norm_backward_train(x, weight, mean, invstd, r, dx, dw, db);
        KATACHI_CHECK_GRADIENT(dw, numeric_dw);
        KATACHI_CHECK_GRADIENT(db, numeric_db);
    } else {
        batch_norm_backward_train(x, none, mean, invstd, r, dx, none, none);
    }
    KATACHI_CHECK_GRADIENT(dx, numeric_dx);
}

void check_eval_gradients(const std::vector<std::size_t>& shape, std::uint32_t seed) {
    const std::size_t C = shape[1];
    array x = test::random_array(shape, seed, -2.0, 3.0);
    array weight = test::random_array({C}, seed + 1, 0.5, 1.5);
    array bias = test::random_array({C}, seed + 2);
    const array rm = test::random_array({C}, seed + 3);
    const array rv = test::random_array({C}, seed + 4, 0.5, 2.0);
    const array r = test::random_array(shape, seed + 5);
    array y = xt::zeros<double>(shape);
    auto loss = [&] {
        batch_norm_forward_eval(x, weight, bias, rm, rv, y);
        return test::weighted_sum(y, r);
    };
    const array numeric_dx = test::numeric_gradient(loss, x);
    const array numeric_dw = test::numeric_gradient(loss, weight);
    const array numeric_db = test::numeric_gradient(loss, bias);
    array dx = xt::zeros<double>(shape), dw = xt::zeros<double>({C}), db = xt::zeros<double>({C});
    batch_norm_backward_eval(x, weight, rm, rv, r, dx, dw, db);
    KATACHI_CHECK_GRADIENT(dx, numeric_dx);
    KATACHI_CHECK_GRADIENT(dw, numeric_dw);
    KATACHI_CHECK_GRADIENT(db, numeric_db);
}

// One training step and the evaluation after it, against PyTorch.
void check_against_pytorch(const std::string& name, bool affine) {
    using farray = xt::xarray<float>;
    const auto file = test::load_fixture_file("pool.safetensors");
    auto get = [&](const std::string& key) { return test::fixture<float>(file, name + "." + key); };
    const farray x = get("x"), dy = get("dy");
    const std::size_t C = x.shape()[1];
    farray rm = get("running_mean"), rv = get("running_var");
    farray y = xt::zeros<float>(x.shape()), mean = xt::zeros<float>({C}), invstd = xt::zeros<float>({C});
    farray dx = xt::zeros<float>(x.shape()), dw = xt::zeros<float>({C}), db = xt::zeros<float>({C});
    std::optional<farray> weight, bias;
    if (affine) {
        weight = get("weight");
        bias = get("bias");
        batch_norm_forward_train(x, *weight, *bias, rm, rv, y, mean, invstd);
        batch_norm_backward_train(x, *weight, mean, invstd, dy, dx, dw, db);
        test::require_allclose(dw, get("train.dweight"));
        test::require_allclose(db, get("train.dbias"));
    } else {
        batch_norm_forward_train(x, none, none, rm, rv, y, mean, invstd);
        batch_norm_backward_train(x, none, mean, invstd, dy, dx, none, none);
    }
    test::require_allclose(y, get("train.y"));
    test::require_allclose(mean, get("train.save_mean"));
    test::require_allclose(invstd, get("train.save_invstd"));
    test::require_allclose(rm, get("train.running_mean"));
    test::require_allclose(rv, get("train.running_var"));
    test::require_allclose(dx, get("train.dx"));

    if (affine) {
        batch_norm_forward_eval(x, *weight, *bias, rm, rv, y);
        batch_norm_backward_eval(x, *weight, rm, rv, dy, dx, dw, db);
        test::require_allclose(dw, get("eval.dweight"));
        test::require_allclose(db, get("eval.dbias"));
    } else {
        batch_norm_forward_eval(x, none, none, rm, rv, y);
        batch_norm_backward_eval(x, none, rm, rv, dy, dx, none, none);
    }
    test::require_allclose(y, get("eval.y"));
    test::require_allclose(dx, get("eval.dx"));
}

}  // namespace

TEST_CASE("batch_norm train backward matches finite differences through the batch statistics for [N, C]",
          "[batch_norm]") {
    check_train_gradients({6, 3}, true, 101);
    check_train_gradients({5, 4}, false, 102);
}

TEST_CASE("batch_norm train backward matches finite differences for [N, C, L] and [N, C, H, W]",
          "[batch_norm]") {
    check_train_gradients({4, 3, 5}, true, 103);
    check_train_gradients({3, 2, 5, 7}, true, 104);
    check_train_gradients({2, 3, 3, 4}, false, 105);
}

TEST_CASE("batch_norm eval backward matches finite differences for [N, C] and [N, C, H, W]", "[batch_norm]") {
    check_eval_gradients({6, 3}, 111);
    check_eval_gradients({3, 2, 5, 7}, 112);
}

TEST_CASE("batch_norm matches PyTorch for one training step and the evaluation after it on [N, C]",
          "[batch_norm]") {
    check_against_pytorch("bn_nc", true);
}

TEST_CASE("batch_norm matches PyTorch on [N, C, L] and [N, C, H, W], with and without affine parameters",
          "[batch_norm]") {
    check_against_pytorch("bn_ncl", true);
    check_against_pytorch("bn_nchw", true);
    check_against_pytorch("bn_nchw_no_affine", false);
}

TEST_CASE("batch_norm training output has zero mean and unit biased variance per channel", "[batch_norm]") {
    const array x = test::random_array({4, 3, 6}, 121, -5.0, 9.0);
    array y = xt::zeros<double>(x.shape()), mean = xt::zeros<double>({3}), invstd = xt::zeros<double>({3});
    batch_norm_forward_train(x, none, none, none, none, y, mean, invstd, {.eps = 0.0});
    for (std::size_t c = 0; c < 3; ++c) {
        double s = 0, s2 = 0;
        for (std::size_t n = 0; n < 4; ++n)
            for (std::size_t l = 0; l < 6; ++l) s += y(n, c, l), s2 += y(n, c, l) * y(n, c, l);
        CHECK(std::abs(s / 24) < 1e-14);
        CHECK(s2 / 24 == Approx(1.0).epsilon(1e-13));
    }
}

TEST_CASE("batch_norm training may write its output over its input", "[batch_norm]") {
    const array x = test::random_array({3, 2, 5, 7}, 131);
    const array w = test::random_array({2}, 132, 0.5, 1.5), b = test::random_array({2}, 133);
    array y = xt::zeros<double>(x.shape()), mean = xt::zeros<double>({2}), invstd = xt::zeros<double>({2});
    batch_norm_forward_train(x, w, b, none, none, y, mean, invstd);
    array inplace = x;
    batch_norm_forward_train(inplace, w, b, none, none, inplace, mean, invstd);
    CHECK(xt::allclose(inplace, y, 0.0, 0.0));
}

TEST_CASE("batch_norm backward in accumulate mode adds to existing gradients", "[batch_norm]") {
    const array x = test::random_array({4, 3, 5}, 141), dy = test::random_array({4, 3, 5}, 142);
    const array w = test::random_array({3}, 143, 0.5, 1.5), b = test::random_array({3}, 144);
    array y = xt::zeros<double>(x.shape()), mean = xt::zeros<double>({3}), invstd = xt::zeros<double>({3});
    batch_norm_forward_train(x, w, b, none, none, y, mean, invstd);
    array dx = xt::zeros<double>(x.shape()), dw = xt::zeros<double>({3}), db = xt::zeros<double>({3});
    batch_norm_backward_train(x, w, mean, invstd, dy, dx, dw, db);
    const array dx0 = test::random_array({4, 3, 5}, 145), dw0 = test::random_array({3}, 146),
                db0 = test::random_array({3}, 147);
    array dx_acc = dx0, dw_acc = dw0, db_acc = db0;
    batch_norm_backward_train(x, w, mean, invstd, dy, dx_acc, dw_acc, db_acc, write::accumulate);
    CHECK(xt::allclose(dx_acc, dx0 + dx, 0.0, 1e-14));
    CHECK(xt::allclose(dw_acc, dw0 + dw, 0.0, 1e-14));
    CHECK(xt::allclose(db_acc, db0 + db, 0.0, 1e-14));
}

TEST_CASE("batch_norm rejects rank-1 inputs, one value per channel in training, and wrong buffers",
          "[batch_norm][errors]") {
    array mean = xt::zeros<double>({3}), invstd = xt::zeros<double>({3});
    const array rank1 = xt::zeros<double>({3});
    array y1 = xt::zeros<double>({3});
    CHECK_THROWS_WITH(batch_norm_forward_train(rank1, none, none, none, none, y1, mean, invstd),
                      Catch::Contains("batch_norm_forward_train") && Catch::Contains("[3]") &&
                          Catch::Contains("rank 2 or more"));
    const array single = xt::ones<double>({1, 3});
    array y = xt::zeros<double>({1, 3});
    CHECK_THROWS_WITH(batch_norm_forward_train(single, none, none, none, none, y, mean, invstd),
                      Catch::Contains("more than one value per channel"));
    const array x = test::random_array({4, 3, 2}, 151);
    array y_bad = xt::zeros<double>({4, 3, 3});
    CHECK_THROWS_WITH(batch_norm_forward_train(x, none, none, none, none, y_bad, mean, invstd),
                      Catch::Contains("y has shape [4, 3, 3]"));
    const array w_bad = xt::ones<double>({4});
    array y_ok = xt::zeros<double>({4, 3, 2});
    CHECK_THROWS_WITH(batch_norm_forward_eval(x, w_bad, none, mean, invstd, y_ok),
                      Catch::Contains("batch_norm_forward_eval: weight has shape [4], expected [3]"));
    array mean_bad = xt::zeros<double>({2});
    CHECK_THROWS_WITH(batch_norm_backward_train(x, none, mean_bad, invstd, x, y_ok, none, none),
                      Catch::Contains("save_mean has shape [2], expected [3]"));
}
