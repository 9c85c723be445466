// Suite `graph`: seeing a model: the summary table and the Graphviz DOT of forward and backward.
#include <catch2/catch.hpp>

#include "graph/models.hpp"

namespace {

using namespace katachi;
using namespace katachi::test::models;

// A relu before a max pooling that no convolution takes in (its windows are 3x3).
using relu_then_pooling =
    graph::sequential<graph::input<2, 9, 9>, graph::conv2d<4, 3>, graph::relu,
                      graph::max_pool2d<3, graph::stride<2>>, graph::flatten, graph::linear<3>>;

TEST_CASE("the summary lists every layer with its output shape and parameters, and the totals",
          "[graph][summary]") {
    const std::string s = graph::summary<lenet>();
    CHECK_THAT(s,
               Catch::Contains("linear<128>") && Catch::Contains("shape<128>") && Catch::Contains("401536"));
    CHECK_THAT(s, Catch::Contains("total parameters 421642"));
    // Each convolution takes in the relu and the max pooling after it, and its node says so.
    CHECK_THAT(s, Catch::Contains(
                      "0      conv2d<32, 3, padding<1>> (takes in relu, max_pool2d<2>)  shape<32, 14, 14>"));
    CHECK_THAT(s, Catch::Contains(
                      "3      conv2d<64, 3, padding<1>> (takes in relu, max_pool2d<2>)  shape<64, 7, 7>"));
    CHECK(std::count(s.begin(), s.end(), '\n') == 1 + 7 + 1);
    // A max pooling that no convolution takes in (3x3 windows) takes in the relu before it.
    const std::string p = graph::summary<relu_then_pooling>();
    CHECK_THAT(p, Catch::Contains("2      max_pool2d<3, stride<2>> (takes in relu)"));
}

TEST_CASE("the forward DOT has a box per node and an arrow per consumed output", "[graph][dot]") {
    const std::string d = graph::forward_dot<resblock>();
    CHECK_THAT(d, Catch::StartsWith("digraph forward {"));
    CHECK_THAT(d, Catch::Contains("n6 [label=\"sum\\nadd\\nshape<8, 9, 7>\"]"));
    CHECK_THAT(d,
               Catch::Contains("n5 -> n6;") && Catch::Contains("n0 -> n6;") && Catch::Contains("n0 -> n1;"));
    CHECK(std::count(d.begin(), d.end(), '>') >= 11);
}

TEST_CASE("the backward DOT shows the generated schedule and the gradient sums", "[graph][dot]") {
    const std::string d = graph::backward_dot<resblock>();
    CHECK_THAT(d, Catch::Contains("g10 [label=\"1: d fc\\nlinear<3> backward\"]"));
    CHECK_THAT(d, Catch::Contains("g6 -> g0;"));                               // the add writes d input
    CHECK_THAT(d, Catch::Contains("g1 -> g0 [style=dashed, label=\"+=\"];"));  // conv1 adds to it
    CHECK_THAT(d, Catch::Contains("g1 -> \"conv1.weight\";"));
    CHECK(d.find("conv1.bias") == std::string::npos);
}

TEST_CASE("the backward DOT leaves out a relu taken in by its pooling and goes through it", "[graph][dot]") {
    const std::string d = graph::backward_dot<lenet>();
    CHECK_THAT(d, Catch::Contains("d 0\\nconv2d<32, 3, padding<1>> (takes in relu, max_pool2d<2>) backward"));
    CHECK_THAT(d, Catch::Contains("d 3\\nconv2d<64, 3, padding<1>> (takes in relu, max_pool2d<2>) backward"));
    CHECK_THAT(d, Catch::Contains("g2 -> g1;") && Catch::Contains("g3 -> g2;"));
    // The relus "1" and "4" and the poolings "2" and "5" have no gradient node.
    for (const char* gone : {"d 1\\n", "d 2\\n", "d 4\\n", "d 5\\n"})
        CHECK(d.find(gone) == std::string::npos);
    // The relu before a linear layer keeps its node.
    CHECK_THAT(d, Catch::Contains("g5 [label=") && Catch::Contains("d 8\\nrelu backward"));
    const std::string p = graph::backward_dot<relu_then_pooling>();
    CHECK_THAT(p, Catch::Contains("d 2\\nmax_pool2d<3, stride<2>> (takes in relu) backward"));
    CHECK_THAT(p, Catch::Contains("g2 -> g1;"));
    CHECK(p.find("d 1\\n") == std::string::npos);
}

}  // namespace

namespace {

// The plan's invariants: buckets tile the gradient array from its end to its start, each one
// contiguous, and each starts after the backward of its lowest node.
template <class Net>
void check_plan_covers_every_gradient(const graph::bucket_plan_of<Net::node_count>& p) {
    std::size_t end = Net::parameter_count;
    for (std::size_t k = 0; k < p.count; ++k) {
        const graph::gradient_bucket& b = p.buckets[k];
        CHECK(b.offset + b.size == end);
        CHECK(b.offset == Net::param_offsets[b.first_node]);
        CHECK(p.starts_after[b.first_node] == static_cast<std::ptrdiff_t>(k));
        CHECK(b.first_node <= b.last_node);
        end = b.offset;
    }
    CHECK(end == 0);
    std::size_t starts = 0;
    for (std::ptrdiff_t s : p.starts_after) starts += s >= 0;
    CHECK(starts == p.count);
}

}  // namespace

TEST_CASE("the all-reduce plan is a constant that packs the backward's gradients into buckets",
          "[graph][summary][distributed]") {
    // Caps of 25 MiB (1 MiB first): the last linear's 1290 gradients, then everything else.
    constexpr auto defaults = graph::bucket_plan<lenet>();
    static_assert(defaults.count == 2);
    STATIC_REQUIRE(defaults.buckets[0].size == 1290);
    STATIC_REQUIRE(defaults.buckets[1].size == 421642 - 1290);
    check_plan_covers_every_gradient<lenet>(defaults);

    // 1 MiB caps: fc1's 1.6 MB of gradients is a bucket of its own, started before the
    // convolutions' backward runs; the convolutions share the last one.
    constexpr auto small = graph::bucket_plan<lenet>({.bucket_cap_mb = 1, .first_bucket_cap_mb = 1});
    STATIC_REQUIRE(small.count == 3);
    CHECK(small.buckets[1].size == 401536);
    CHECK(small.buckets[2].size == 320 + 18496);
    check_plan_covers_every_gradient<lenet>(small);

    // A DAG: the residual block's plan covers its gradients too, whatever their order.
    check_plan_covers_every_gradient<resblock>(
        graph::bucket_plan<resblock>({.bucket_cap_mb = 0, .first_bucket_cap_mb = 0}));
    // In double, the same caps hold half as many gradients.
    CHECK(graph::bucket_plan<lenet, double>({.bucket_cap_mb = 1, .first_bucket_cap_mb = 1}).count == 3);
}

TEST_CASE("summary with bucket options shows the all-reduce plan", "[graph][summary][distributed]") {
    const std::string s =
        graph::summary<lenet>(graph::bucket_options{.bucket_cap_mb = 1, .first_bucket_cap_mb = 1});
    CHECK_THAT(s, Catch::StartsWith(graph::summary<lenet>()));
    CHECK_THAT(s,
               Catch::Contains(
                   "all-reduce buckets, in the order the backward finishes them (caps 1 MiB, first 1 MiB)"));
    CHECK_THAT(s, Catch::Contains("bucket 1") && Catch::Contains("401536 gradients (1568.5 KiB)"));
    CHECK_THAT(s, Catch::Contains("bucket 2"));
    CHECK(s.find("bucket 3") == std::string::npos);
}
