// The eager op set against PyTorch (test/data/fixtures_eager_ops.py): broadcasting arithmetic,
// pointwise maps, reductions along a dimension, cat and stack, narrow/select/slice/index_select,
// each output, index and gradient to 1e-6 in float64; how tensors print; and PyTorch's error
// sentences for what the ops refuse.
#include <catch2/catch.hpp>
#include <functional>
#include <katachi/eager.hpp>
#include <optional>
#include <sstream>
#include <support/fixtures.hpp>

#include "eager_support.hpp"

using namespace katachi;
using eager::index_tensor;
using eager::tensor;
using eager::tensor64;
using test::fixture;
using test::require_allclose;

namespace {

const io::safetensors_file& ops_file() {
    static const io::safetensors_file f = test::load_fixture_file("eager_ops.safetensors");
    return f;
}

bool has(const std::string& key) {
    return ops_file().tensors.count(key) == 1;
}

struct result {
    tensor64 values;
    std::optional<index_tensor> indices;
};
using inputs = std::vector<tensor64>;
using op = std::function<result(const inputs&, const tensor64& cond)>;

// The shape and the values of PyTorch's indices under `key`.
void require_indices(const index_tensor& got, const std::string& key) {
    const auto expected = fixture<std::int64_t>(ops_file(), key);
    const std::vector<std::size_t> shape(expected.shape().begin(), expected.shape().end());
    REQUIRE(std::vector<std::size_t>(got.shape().begin(), got.shape().end()) == shape);
    REQUIRE(got.to_vector() == std::vector<std::int64_t>(expected.begin(), expected.end()));
}

// Runs `f` on the case's inputs and compares the output, the indices and every input's gradient
// of (out * cot).sum() with PyTorch's.
void check_case(const std::string& name, const op& f) {
    INFO("case " << name);
    REQUIRE(has(name + ".in0"));
    inputs leaves;
    for (int i = 0; has(name + ".in" + std::to_string(i)); ++i)
        leaves.push_back(test::from_xarray(fixture<double>(ops_file(), name + ".in" + std::to_string(i))).requires_grad_());
    const tensor64 cond = has(name + ".cond") ? test::from_xarray(fixture<double>(ops_file(), name + ".cond")) : tensor64();
    const result r = f(leaves, cond);
    require_allclose(test::to_xarray(r.values), fixture<double>(ops_file(), name + ".out"), 1e-6, 1e-6);
    REQUIRE(r.indices.has_value() == has(name + ".indices"));
    if (r.indices) require_indices(*r.indices, name + ".indices");
    r.values.backward(test::from_xarray(fixture<double>(ops_file(), name + ".cot")));
    for (std::size_t i = 0; i < leaves.size(); ++i) {
        INFO("gradient of input " << i);
        REQUIRE(leaves[i].grad().defined());
        require_allclose(test::to_xarray(leaves[i].grad()),
                         fixture<double>(ops_file(), name + ".grad" + std::to_string(i)), 1e-6, 1e-6);
    }
}

op values(std::function<tensor64(const inputs&)> f) {
    return [f](const inputs& x, const tensor64&) { return result{f(x), std::nullopt}; };
}

template <class F>
op with_indices(F f) {
    return [f](const inputs& x, const tensor64&) {
        auto [v, i] = f(x);
        return result{v, i};
    };
}

void check_indices(const std::string& name, const std::function<index_tensor(const tensor64&)>& f) {
    INFO("case " << name);
    const index_tensor got = f(test::from_xarray(fixture<double>(ops_file(), name + ".in0")));
    require_indices(got, name + ".indices");
}

}  // namespace

TEST_CASE("broadcasting arithmetic matches PyTorch's outputs and summed gradients", "[eager][ops]") {
    check_case("add_row", values([](const inputs& x) { return x[0] + x[1]; }));
    check_case("add_scalar_tensor", values([](const inputs& x) { return x[0] + x[1]; }));
    check_case("sub_both", values([](const inputs& x) { return x[0] - x[1]; }));
    check_case("mul_middle", values([](const inputs& x) { return x[0] * x[1]; }));
    check_case("div_column", values([](const inputs& x) { return x[0] / x[1]; }));
    check_case("div_same", values([](const inputs& x) { return x[0] / x[1]; }));
    check_case("pow_tensor", values([](const inputs& x) { return eager::pow(x[0], x[1]); }));
    check_case("where", [](const inputs& x, const tensor64& c) { return result{eager::where(c, x[0], x[1]), {}}; });
}

TEST_CASE("pointwise maps match PyTorch's outputs and gradients", "[eager][ops]") {
    check_case("sqrt", values([](const inputs& x) { return eager::sqrt(x[0]); }));
    check_case("abs", values([](const inputs& x) { return eager::abs(x[0]); }));
    check_case("exp", values([](const inputs& x) { return eager::exp(x[0]); }));
    check_case("log", values([](const inputs& x) { return eager::log(x[0]); }));
    check_case("pow_scalar", values([](const inputs& x) { return eager::pow(x[0], 3.0); }));
    check_case("pow_fraction", values([](const inputs& x) { return eager::pow(x[0], 2.5); }));
    check_case("clamp_both", values([](const inputs& x) { return eager::clamp(x[0], -0.5, 0.5); }));
    check_case("clamp_min", values([](const inputs& x) { return eager::clamp(x[0], -0.25); }));
    check_case("clamp_max", values([](const inputs& x) { return eager::clamp(x[0], std::nullopt, 0.25); }));
}

TEST_CASE("reductions along a dimension match PyTorch, indices and gradients included", "[eager][ops]") {
    check_case("sum_dim1", values([](const inputs& x) { return eager::sum(x[0], 1); }));
    check_case("sum_dim0_keepdim", values([](const inputs& x) { return eager::sum(x[0], 0, true); }));
    check_case("mean_last_keepdim", values([](const inputs& x) { return eager::mean(x[0], -1, true); }));
    check_case("mean_dim0", values([](const inputs& x) { return eager::mean(x[0], 0); }));
    check_case("max_dim0", with_indices([](const inputs& x) { return eager::max(x[0], 0); }));
    check_case("max_dim1_keepdim", with_indices([](const inputs& x) { return eager::max(x[0], 1, true); }));
    check_case("min_last", with_indices([](const inputs& x) { return eager::min(x[0], -1); }));
    check_case("min_dim0_keepdim", with_indices([](const inputs& x) { return eager::min(x[0], 0, true); }));
    check_case("max_ties", with_indices([](const inputs& x) { return eager::max(x[0], 1); }));
    check_case("min_ties_keepdim", with_indices([](const inputs& x) { return eager::min(x[0], 1, true); }));
    check_case("max_with_nan", with_indices([](const inputs& x) { return eager::max(x[0], 1); }));
    check_indices("argmin_ties", [](const tensor64& x) { return eager::argmin(x, 0); });
    check_indices("argmax_dim1", [](const tensor64& x) { return eager::argmax(x, 1); });
    check_indices("argmax_dim0_keepdim", [](const tensor64& x) { return eager::argmax(x, 0, true); });
    check_indices("argmin_last", [](const tensor64& x) { return eager::argmin(x, -1); });
}

TEST_CASE("cat and stack match PyTorch's outputs and gradients", "[eager][ops]") {
    check_case("cat_dim1", values([](const inputs& x) { return eager::cat(x, 1); }));
    check_case("cat_dim0", values([](const inputs& x) { return eager::cat(x, 0); }));
    check_case("stack_dim1", values([](const inputs& x) { return eager::stack(x, 1); }));
    check_case("stack_last", values([](const inputs& x) { return eager::stack(x, -1); }));
}

TEST_CASE("narrow, select, slice and index_select match PyTorch's outputs and gradients", "[eager][ops]") {
    check_case("narrow", values([](const inputs& x) { return eager::narrow(x[0], 1, 1, 2); }));
    check_case("narrow_negative_start", values([](const inputs& x) { return x[0].narrow(-1, -3, 2); }));
    check_case("select_last_row", values([](const inputs& x) { return x[0].select(0, -1); }));
    check_case("select_dim1", values([](const inputs& x) { return eager::select(x[0], 1, 2); }));
    check_case("slice_step2", values([](const inputs& x) { return x[0].slice(1, 0, std::nullopt, 2); }));
    check_case("slice_negative", values([](const inputs& x) { return x[0].slice(0, -3, -1); }));
    check_case("slice_past_end", values([](const inputs& x) { return eager::slice(x[0], 1, 1, 100, 3); }));
    check_case("index_select_dim1", values([](const inputs& x) { return eager::index_select(x[0], 1, {2, 0, 2}); }));
    check_case("index_select_dim0", values([](const inputs& x) {
                   return eager::index_select(x[0], 0, index_tensor({1, 1, 0, 3}));
               }));
}

TEST_CASE("narrow, select and slice are views that share the tensor's storage", "[eager][ops]") {
    tensor x = eager::from_values<float>({0, 1, 2, 3, 4, 5}, {2, 3});
    const tensor column = x.select(1, 1), tail = x.narrow(1, 1, 2), every_other = x.slice(1, 0, std::nullopt, 2);
    x.fill_(7);
    CHECK(column.to_vector() == std::vector<float>{7, 7});
    CHECK(tail.to_vector() == std::vector<float>(4, 7));
    CHECK(every_other.to_vector() == std::vector<float>(4, 7));
}

TEST_CASE("argmax's indices serve as the targets of a loss", "[eager][ops]") {
    const tensor logits = eager::from_values<float>({0.1f, 2.0f, -1.0f, 3.0f, 0.0f, 0.5f}, {2, 3});
    const index_tensor predicted = eager::argmax(logits, 1);
    CHECK(predicted.to_vector() == std::vector<std::int64_t>{1, 0});
    const tensor loss = eager::cross_entropy(logits, predicted);
    CHECK(loss.item() == Approx(eager::mean(-eager::max(eager::log_softmax(logits, 1), 1).values).item()));
}

TEST_CASE("tensors print as PyTorch prints them", "[eager][ops][print]") {
    std::vector<std::string> cases;
    for (const auto& [key, t] : ops_file().tensors)
        if (key.rfind("print.", 0) == 0 && key.size() > 5 && key.substr(key.size() - 5) == ".repr")
            cases.push_back(key.substr(6, key.size() - 11));
    REQUIRE(cases.size() >= 15);
    for (const std::string& name : cases) {
        INFO("case " << name);
        const std::string p = "print." + name + ".";
        std::string expected;
        for (const std::int64_t c : fixture<std::int64_t>(ops_file(), p + "repr")) expected += static_cast<char>(c);
        const bool requires_grad = fixture<std::int64_t>(ops_file(), p + "requires_grad")(0) == 1;
        std::ostringstream os;
        switch (ops_file().at(p + "input").type) {
        case io::dtype::f32:
            os << test::from_xarray(fixture<float>(ops_file(), p + "input")).requires_grad_(requires_grad);
            break;
        case io::dtype::f64:
            os << test::from_xarray(fixture<double>(ops_file(), p + "input")).requires_grad_(requires_grad);
            break;
        default: {
            const auto v = fixture<std::int64_t>(ops_file(), p + "input");
            os << index_tensor(std::vector<std::int64_t>(v.begin(), v.end()), eager::sizes(v.shape()));
        }
        }
        CHECK(os.str() == expected);
    }
}

TEST_CASE("shapes that do not broadcast throw PyTorch's sentence after the operation's name", "[eager][ops]") {
    const tensor a = eager::ones({4, 10}), b = eager::ones({4, 3}), c = eager::ones({3});
    CHECK_THROWS_WITH(a + b, Catch::StartsWith("add: The size of tensor a (10) must match the size of tensor b (3) "
                                               "at non-singleton dimension 1"));
    CHECK_THROWS_WITH(a - c, Catch::StartsWith("sub: The size of tensor a (10) must match the size of tensor b (3) "
                                               "at non-singleton dimension 1"));
    CHECK_THROWS_WITH(eager::ones({5, 2, 3}) * eager::ones({4, 1, 2}),
                      Catch::StartsWith("mul: The size of tensor a (3) must match the size of tensor b (2) at "
                                        "non-singleton dimension 2"));
    CHECK_THROWS_WITH(eager::pow(a, c), Catch::StartsWith("pow: The size of tensor a (10)"));
    CHECK_THROWS_WITH(eager::where(eager::ones({4, 1}), c, eager::ones({2})),
                      Catch::StartsWith("where: The size of tensor a (3) must match the size of tensor b (2) at "
                                        "non-singleton dimension 1"));
    CHECK_THROWS_AS(a / b, shape_mismatch);
}

TEST_CASE("dimensions and indices out of range throw PyTorch's sentences", "[eager][ops]") {
    const tensor x = eager::ones({3, 4});
    CHECK_THROWS_WITH(eager::sum(x, 2),
                      "sum: Dimension out of range (expected to be in range of [-2, 1], but got 2)");
    CHECK_THROWS_WITH(eager::mean(x, -3),
                      "mean: Dimension out of range (expected to be in range of [-2, 1], but got -3)");
    CHECK_THROWS_WITH(eager::max(x, 2), "max: Dimension out of range (expected to be in range of [-2, 1], but got 2)");
    CHECK_THROWS_WITH(eager::argmin(x, -3),
                      "argmin: Dimension out of range (expected to be in range of [-2, 1], but got -3)");
    CHECK_THROWS_WITH(x.select(0, 5), "select(): index 5 out of range for tensor of size [3, 4] at dimension 0");
    CHECK_THROWS_WITH(x.select(0, -4), "select(): index -4 out of range for tensor of size [3, 4] at dimension 0");
    CHECK_THROWS_WITH(x.narrow(0, 2, 2), "narrow: start (2) + length (2) exceeds dimension size (3).");
    CHECK_THROWS_WITH(x.narrow(0, -4, 2),
                      "narrow: Dimension out of range (expected to be in range of [-3, 2], but got -4)");
    CHECK_THROWS_WITH(x.slice(2, 0, 1), "slice: Dimension out of range (expected to be in range of [-2, 1], but got 2)");
    CHECK_THROWS_WITH(x.slice(1, 0, 4, 0), Catch::StartsWith("slice: step must be greater than zero"));
    CHECK_THROWS_WITH(eager::index_select(x, 0, {0, 5}),
                      "index_select(): index 5 is out of bounds for dimension 0 with size 3");
    CHECK_THROWS_WITH(eager::index_select(x, 1, {-1}),
                      "index_select(): index -1 is out of bounds for dimension 1 with size 4");
    CHECK_THROWS_WITH(eager::index_select(x, 0, index_tensor({0}, {1, 1})),
                      "index_select(): Index is supposed to be a vector");
    CHECK_THROWS_WITH(eager::stack(std::vector<tensor>{x}, 3),
                      "stack: Dimension out of range (expected to be in range of [-3, 2], but got 3)");
    CHECK_THROWS_WITH(tensor::scalar(1).select(0, 0), "select() cannot be applied to a 0-dim tensor.");
    CHECK_THROWS_AS(x.select(0, 5), std::out_of_range);
}

TEST_CASE("cat, stack, clamp and max refuse what PyTorch refuses, in its words", "[eager][ops]") {
    const tensor a = eager::ones({3, 4}), b = eager::ones({3, 5});
    CHECK_THROWS_WITH(eager::cat(std::vector<tensor>{a, b}, 0),
                      "cat: Sizes of tensors must match except in dimension 0. Expected size 4 but got size 5 for "
                      "tensor number 1 in the list.");
    CHECK_THROWS_WITH(eager::cat(std::vector<tensor>{a, eager::ones({3})}, 0),
                      "cat: Tensors must have same number of dimensions: got 2 and 1");
    CHECK_THROWS_WITH(eager::cat(std::vector<tensor>{}, 0), "cat: expected a non-empty list of Tensors");
    CHECK_THROWS_WITH(eager::stack(std::vector<tensor>{a, b}, 0),
                      "stack: stack expects each tensor to be equal size, but got [3, 4] at entry 0 and [3, 5] at "
                      "entry 1");
    CHECK_THROWS_WITH(eager::stack(std::vector<tensor>{}, 0), "stack: stack expects a non-empty TensorList");
    CHECK_THROWS_WITH(eager::clamp(a, std::nullopt, std::nullopt),
                      "clamp: At least one of 'min' or 'max' must not be None");
    CHECK_THROWS_WITH(eager::max(eager::ones({3, 0}), 1), "max(): Expected reduction dim 1 to have non-zero size.");
    CHECK_THROWS_WITH(eager::argmax(eager::ones({3, 0}), -1),
                      "argmax(): Expected reduction dim 1 to have non-zero size.");
}

TEST_CASE("the whole-tensor sum and mean still reduce everything to a scalar", "[eager][ops]") {
    const tensor x = eager::from_values<float>({1, 2, 3, 4, 5, 6}, {2, 3});
    CHECK(eager::sum(x).dim() == 0);
    CHECK(eager::sum(x).item() == eager::sum(eager::sum(x, 1), 0).item());
    CHECK(eager::mean(x).item() == Approx(eager::mean(eager::mean(x, 0), 0).item()));
}
