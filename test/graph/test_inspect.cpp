// Suite `graph`: seeing a model: the summary table and the Graphviz DOT of forward and backward.
#include <catch2/catch.hpp>

#include "graph/models.hpp"

namespace {

using namespace katachi;
using namespace katachi::test::models;

TEST_CASE("the summary lists every layer with its output shape and parameters, and the totals",
          "[graph][summary]") {
    const std::string s = graph::summary<lenet>();
    CHECK_THAT(s, Catch::Contains("conv2d<32, 3, padding<1>>") && Catch::Contains("shape<32, 28, 28>"));
    CHECK_THAT(s,
               Catch::Contains("linear<128>") && Catch::Contains("shape<128>") && Catch::Contains("401536"));
    CHECK_THAT(s, Catch::Contains("max_pool2d<2>") && Catch::Contains("shape<64, 7, 7>"));
    CHECK_THAT(s, Catch::Contains("total parameters 421642"));
    // The two relus before max pooling run in the pooling's node, which says so.
    CHECK_THAT(s, Catch::Contains("max_pool2d<2> (takes in relu)"));
    CHECK(std::count(s.begin(), s.end(), '\n') == 1 + 9 + 1);
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

TEST_CASE("the backward DOT leaves out a relu taken in by its pooling and goes through it",
          "[graph][dot]") {
    const std::string d = graph::backward_dot<lenet>();
    CHECK_THAT(d, Catch::Contains("d 2\\nmax_pool2d<2> (takes in relu) backward"));
    CHECK_THAT(d, Catch::Contains("d 5\\nmax_pool2d<2> (takes in relu) backward"));
    CHECK_THAT(d, Catch::Contains("g2 -> g1;") && Catch::Contains("g4 -> g3;"));
    CHECK(d.find("d 1\\n") == std::string::npos);  // the relus "1" and "4" have no gradient node
    CHECK(d.find("d 4\\n") == std::string::npos);
    // The relu before a linear layer keeps its node.
    CHECK_THAT(d, Catch::Contains("g7 [label=") && Catch::Contains("d 8\\nrelu backward"));
}

}  // namespace
