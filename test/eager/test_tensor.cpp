// Tensors: storage shared between views, shapes and strides, the view rules and their errors.
#include <catch2/catch.hpp>
#include <katachi/eager/autograd.hpp>
#include <katachi/eager/functional.hpp>
#include <sstream>
#include <support/checks.hpp>

using namespace katachi;
using eager::sizes;
using eager::tensor;

TEST_CASE("a tensor is float32 by default and holds its values row-major", "[eager][tensor]") {
    const tensor t = eager::from_values<float>({1, 2, 3, 4, 5, 6}, {2, 3});
    STATIC_REQUIRE(std::is_same_v<tensor::value_type, float>);
    CHECK(t.shape() == sizes{2, 3});
    CHECK(t.strides() == sizes{3, 1});
    CHECK(t.numel() == 6);
    CHECK(t.at({1, 2}) == 6);
    CHECK(t.size(-1) == 3);
    CHECK(t.is_contiguous());
    CHECK_THROWS_AS(eager::from_values<float>({1, 2, 3}, {2, 2}), shape_mismatch);
}

TEST_CASE("views share storage with the tensor they view", "[eager][tensor]") {
    tensor t = eager::zeros({2, 3});
    tensor v = t.view({3, 2});
    tensor tr = t.transpose(0, 1);
    tensor d = t.detach();
    t.fill_(7);
    CHECK(v.at({2, 1}) == 7);
    CHECK(tr.at({2, 1}) == 7);
    CHECK(d.at({0, 0}) == 7);
    v.copy_(eager::from_values<float>({0, 1, 2, 3, 4, 5}, {3, 2}));
    CHECK(t.at({1, 0}) == 3);
    CHECK(tr.at({0, 1}) == 3);
}

TEST_CASE("view infers one -1 size and refuses two", "[eager][tensor]") {
    const tensor t = eager::zeros({4, 6});
    CHECK(t.view({-1, 3}).shape() == sizes{8, 3});
    CHECK(t.view({2, -1, 4}).shape() == sizes{2, 3, 4});
    CHECK_THROWS_WITH(t.view({-1, -1}), Catch::Contains("only one size may be -1"));
    CHECK_THROWS_WITH(t.view({5, -1}), Catch::Contains("view") && Catch::Contains("[4, 6]"));
    CHECK_THROWS_WITH(t.view({5, 5}), Catch::Contains("the element counts differ"));
}

TEST_CASE("transpose and permute give non-contiguous views", "[eager][tensor]") {
    const tensor t = eager::from_values<float>({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {2, 3, 2});
    const tensor tr = t.transpose(0, 2);
    CHECK(tr.shape() == sizes{2, 3, 2});
    CHECK(tr.strides() == sizes{1, 2, 6});
    CHECK_FALSE(tr.is_contiguous());
    CHECK(tr.at({1, 2, 0}) == t.at({0, 2, 1}));
    const tensor p = t.permute({1, 2, 0});
    CHECK(p.shape() == sizes{3, 2, 2});
    CHECK(p.at({2, 1, 1}) == t.at({1, 2, 1}));
    CHECK_FALSE(p.is_contiguous());
    CHECK_THROWS_WITH(t.permute({0, 0, 1}), Catch::Contains("repeats dimension 0"));
    CHECK_THROWS_AS(t.transpose(0, 3), std::out_of_range);
}

TEST_CASE("view on a non-contiguous tensor says to call contiguous() or use reshape", "[eager][tensor]") {
    const tensor t = eager::zeros({2, 3}).transpose(0, 1);
    CHECK_THROWS_AS(t.view({6}), shape_mismatch);
    CHECK_THROWS_WITH(t.view({6}), Catch::Contains("contiguous()") && Catch::Contains("reshape()"));
    const tensor r = t.reshape({6});
    CHECK(r.shape() == sizes{6});
    CHECK(r.is_contiguous());
}

TEST_CASE("contiguous copies only when the layout is not row-major", "[eager][tensor]") {
    const tensor t = eager::from_values<float>({1, 2, 3, 4, 5, 6}, {2, 3});
    CHECK(t.contiguous().is_same(t));
    CHECK(t.contiguous().data() == t.data());
    const tensor c = t.transpose(0, 1).contiguous();
    CHECK(c.data() != t.data());
    CHECK(c.is_contiguous());
    CHECK(c.to_vector() == std::vector<float>{1, 4, 2, 5, 3, 6});
    // reshape is a view when the tensor is contiguous, a copy otherwise
    CHECK(t.reshape({3, 2}).data() == t.data());
    CHECK(t.transpose(0, 1).reshape({6}).data() != t.data());
}

TEST_CASE("item reads a one-element tensor and refuses larger ones", "[eager][tensor]") {
    CHECK(tensor::scalar(2.5f).item() == 2.5f);
    CHECK(eager::full({1, 1}, 3.0f).item() == 3.0f);
    CHECK_THROWS_WITH(eager::zeros({2}).item(), Catch::Contains("exactly one element"));
}

TEST_CASE("flatten merges the dimensions from start_dim to end_dim", "[eager][tensor]") {
    const tensor t = eager::zeros({2, 3, 4, 5});
    CHECK(t.flatten().shape() == sizes{120});
    CHECK(t.flatten(1).shape() == sizes{2, 60});
    CHECK(t.flatten(1, 2).shape() == sizes{2, 12, 5});
    CHECK_THROWS_AS(t.flatten(2, 1), std::invalid_argument);
}

TEST_CASE("operations name themselves and both shapes when the shapes do not fit", "[eager][tensor]") {
    const tensor a = eager::zeros({2, 3}), b = eager::zeros({3, 2});
    CHECK_THROWS_WITH(a + b,
                      Catch::Contains("add") && Catch::Contains("[2, 3]") && Catch::Contains("[3, 2]"));
    CHECK_THROWS_WITH(a * b,
                      Catch::Contains("mul") && Catch::Contains("[2, 3]") && Catch::Contains("[3, 2]"));
    CHECK_THROWS_WITH(eager::matmul(a, a),
                      Catch::Contains("matmul") && Catch::Contains("[2, 3]") && Catch::Contains("[2, 3]"));
    CHECK_THROWS_WITH(eager::linear(a, b),
                      Catch::Contains("linear") && Catch::Contains("[2, 3]") && Catch::Contains("[3, 2]"));
}

TEST_CASE("a tensor prints as PyTorch does, with requires_grad or the operation that made it",
          "[eager][tensor]") {
    // The layout of the values is checked against PyTorch in test_ops.cpp; here the suffixes.
    const tensor a = eager::from_values<float>({1, 2}, {2}).requires_grad_();
    std::ostringstream os;
    os << a << ' ' << a * 2.0f << ' ' << eager::log_softmax(a, 0).detach() << ' ' << eager::log_softmax(a, 0)
       << ' ' << tensor();
    CHECK(os.str() ==
          "tensor([1., 2.], requires_grad=True) tensor([2., 4.], grad_fn=<MulBackward>) "
          "tensor([-1.3133, -0.3133]) tensor([-1.3133, -0.3133], grad_fn=<LogSoftmaxBackward>) tensor(undefined)");
}

TEST_CASE("an uninitialized tensor names itself when touched and has empty spans", "[eager][tensor]") {
    const tensor p = tensor::uninitialized("lazy_linear.weight");
    CHECK(p.is_uninitialized());
    CHECK(p.value_span().empty());
    CHECK(p.grad_span().empty());
    CHECK_THROWS_AS(p.shape(), eager::uninitialized_parameter_error);
    CHECK_THROWS_WITH(p.numel(), Catch::Contains("lazy_linear.weight") && Catch::Contains("uninitialized"));
}

namespace {
std::string length_error_of(auto&& f) {
    return test::message_of<std::length_error>(f);
}
}  // namespace

TEST_CASE("a shape whose element count overflows is refused by the factory that was given it",
          "[eager][tensor]") {
    constexpr std::size_t huge = std::size_t{1} << 62, big = std::size_t{1} << 32;
    // Once 2 * 2^62 wrapped to 0 elements and zeros() wrote past its storage.
    CHECK(length_error_of([&] { (void)tensor::zeros({2, huge}); }) ==
          "zeros: shape [2, 4611686018427387904] has too many elements: with 4-byte elements it needs "
          "more than 2^63 bytes (the product of its sizes overflows)");
    // Once 2^62 * 16 wrapped to 0 elements and max_pool2d read past the storage.
    CHECK(length_error_of([&] { (void)tensor::zeros({huge, 16}); }).starts_with("zeros: shape [4611686018427387904, 16]"));
    // Once accepted: 2^64 wrapped to the 0 values given.
    CHECK(length_error_of([&] { (void)tensor::from({}, {big, big}); }).starts_with("tensor: shape [4294967296, 4294967296]"));
    CHECK(length_error_of([&] { (void)eager::ones<double>({huge / 4, 3}); }).starts_with("ones: shape"));
    CHECK(length_error_of([&] { (void)tensor::empty({big, big, 0, big}); }).starts_with("empty: shape"));
    CHECK(length_error_of([&] { (void)tensor::full({huge}, 1.0f); }).starts_with("full: shape [4611686018427387904]"));
    // Zero extents are allowed when the other extents fit: the tensor is empty.
    CHECK(tensor::zeros({0, big}).numel() == 0);
}

TEST_CASE("view refuses a shape whose product overflows even when it wraps to the element count",
          "[eager][tensor]") {
    const tensor empty = tensor::zeros({0});
    // 2^32 * 2^32 * 0 once wrapped to the 0 elements of the tensor and was accepted.
    CHECK(length_error_of([&] {
              (void)empty.view({std::ptrdiff_t{1} << 32, std::ptrdiff_t{1} << 32, 0});
          }).starts_with("view: shape [4294967296, 4294967296, 0] has too many elements"));
    const tensor t = tensor::zeros({4});
    CHECK(length_error_of([&] { (void)t.reshape({std::ptrdiff_t{1} << 62, 4, -1}); }).starts_with("view: shape"));
    CHECK(t.view({2, -1}).shape() == sizes{2, 2});
}

TEST_CASE("copy_ from a view of the same storage reads every value before writing any", "[eager][tensor]") {
    tensor t = eager::from_values<float>({1, 2, 3, 4}, {2, 2});
    t.copy_(t.transpose(0, 1));
    CHECK(t.to_vector() == std::vector<float>{1, 3, 2, 4});
    tensor row = eager::from_values<float>({1, 2, 3, 4});
    row.view({2, 2}).copy_(eager::from_values<float>({5, 6, 7, 8}, {2, 2}));  // contiguous, distinct storage
    CHECK(row.to_vector() == std::vector<float>{5, 6, 7, 8});
    CHECK(row.version() == 1);
}
