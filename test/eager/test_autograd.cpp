// Autograd: requires_grad propagation, backward with and without a gradient, accumulation,
// zero_grad, retain_graph and the freed-tape error, detach, no_grad, the live-node count, and the
// tape's Graphviz output.
#include <catch2/catch.hpp>
#include <katachi/eager.hpp>
#include <katachi/eager/autograd.hpp>
#include <katachi/eager/dot.hpp>
#include <katachi/eager/functional.hpp>
#include <map>
#include <set>
#include <sstream>
#include <support/checks.hpp>

using namespace katachi;
using eager::sizes;
using eager::tensor;

TEST_CASE("Q = 3a^3 - b^2 with an external gradient gives 9a^2 and -2b", "[eager][autograd][seed]") {
    tensor a = eager::from_values<float>({2, 3}).requires_grad_();
    tensor b = eager::from_values<float>({6, 4}).requires_grad_();
    tensor q = 3.0f * eager::pow(a, 3.0f) - eager::pow(b, 2.0f);
    CHECK(q.requires_grad());
    CHECK(q.grad_fn_name() == std::string("sub"));
    q.backward(eager::from_values<float>({1, 1}));
    const std::vector<float> av = a.to_vector(), bv = b.to_vector();
    const std::vector<float> ga = a.grad().to_vector(), gb = b.grad().to_vector();
    for (std::size_t i = 0; i < 2; ++i) {
        CHECK(ga[i] == Approx(9 * av[i] * av[i]));
        CHECK(gb[i] == Approx(-2 * bv[i]));
    }
    CHECK(ga == std::vector<float>{36, 81});
    CHECK(gb == std::vector<float>{-12, -8});
}

TEST_CASE("requires_grad propagates to results only from inputs that require it", "[eager][autograd]") {
    tensor x = eager::ones({3});
    tensor w = eager::ones({3}).requires_grad_();
    CHECK_FALSE((x * x).requires_grad());
    CHECK((x * w).requires_grad());
    CHECK((x * w).grad_fn_name() == std::string("mul"));
    CHECK((x * w).is_leaf() == false);
    CHECK(w.is_leaf());
    CHECK(w.grad_fn_name() == nullptr);
}

TEST_CASE("backward on a non-scalar without a gradient is refused", "[eager][autograd]") {
    tensor a = eager::ones({2}).requires_grad_();
    CHECK_THROWS_WITH((a * 2.0f).backward(), Catch::Contains("one-element") && Catch::Contains("[2]"));
    CHECK_THROWS_AS((a * 2.0f).backward(eager::ones({3})), shape_mismatch);
    CHECK_THROWS_WITH(eager::ones({1}).backward(), Catch::Contains("does not require grad"));
}

TEST_CASE("gradients accumulate across backward calls until zero_grad", "[eager][autograd]") {
    tensor a = eager::from_values<float>({1, 2}).requires_grad_();
    eager::sum(a * a).backward();
    CHECK(a.grad().to_vector() == std::vector<float>{2, 4});
    eager::sum(a * a).backward();
    CHECK(a.grad().to_vector() == std::vector<float>{4, 8});
    a.zero_grad();
    CHECK(a.grad().to_vector() == std::vector<float>{0, 0});
    eager::sum(3.0f * a).backward();
    CHECK(a.grad().to_vector() == std::vector<float>{3, 3});
    a.zero_grad(true);
    CHECK_FALSE(a.grad().defined());
}

TEST_CASE("a tensor used twice receives the sum of both gradients", "[eager][autograd]") {
    tensor a = eager::from_values<float>({1, 2, 3}).requires_grad_();
    tensor y = a + a;              // both edges lead to the same leaf
    tensor z = eager::sum(y * a);  // 2 a^2: gradient 4 a
    z.backward();
    CHECK(a.grad().to_vector() == std::vector<float>{4, 8, 12});
}

TEST_CASE("a second backward through a freed tape mentions retain_graph", "[eager][autograd]") {
    tensor a = eager::from_values<float>({1, 2}).requires_grad_();
    tensor loss = eager::sum(eager::exp(a));
    loss.backward();
    CHECK_THROWS_AS(loss.backward(), eager::autograd_error);
    CHECK_THROWS_WITH(loss.backward(), Catch::Contains("retain_graph"));
}

TEST_CASE("retain_graph keeps the tape for another backward", "[eager][autograd]") {
    tensor a = eager::from_values<float>({1, 2}).requires_grad_();
    tensor loss = eager::sum(a * a);
    loss.backward(true);
    loss.backward();
    CHECK(a.grad().to_vector() == std::vector<float>{4, 8});
}

TEST_CASE("detach cuts a tensor from the tape but shares its storage", "[eager][autograd]") {
    tensor a = eager::from_values<float>({1, 2}).requires_grad_();
    tensor y = a * 2.0f;
    tensor d = y.detach();
    CHECK_FALSE(d.requires_grad());
    CHECK(d.grad_fn_name() == nullptr);
    CHECK(d.data() == y.data());
    CHECK_THROWS_AS(y.requires_grad_(false), eager::autograd_error);
    eager::sum(d * a).backward();  // only through a: gradient d
    CHECK(a.grad().to_vector() == std::vector<float>{2, 4});
}

TEST_CASE("nothing is recorded inside a no_grad scope, and the scope restores the mode",
          "[eager][autograd]") {
    tensor w = eager::ones({2}).requires_grad_();
    CHECK(eager::grad_mode::enabled());
    {
        eager::no_grad guard;
        CHECK_FALSE(eager::grad_mode::enabled());
        tensor y = w * 2.0f;
        CHECK_FALSE(y.requires_grad());
        CHECK(y.grad_fn_name() == nullptr);
        w.fill_(3);  // allowed: not recorded
        { eager::no_grad nested; }
        CHECK_FALSE(eager::grad_mode::enabled());
    }
    CHECK(eager::grad_mode::enabled());
    CHECK_THROWS_WITH(w.fill_(1), Catch::Contains("no_grad"));
    CHECK(w.to_vector() == std::vector<float>{3, 3});
}

TEST_CASE("the tape's nodes are freed after backward and when results go out of scope", "[eager][autograd]") {
    const std::size_t before = eager::live_nodes();
    tensor w = eager::ones({4, 3}).requires_grad_();
    {
        tensor x = eager::ones({2, 3});
        tensor loss = eager::sum(eager::relu(eager::linear(x, w)));
        CHECK(eager::live_nodes() == before + 3);
        loss.backward();
        CHECK(eager::live_nodes() == before + 1);  // only the root, held by loss, is left
    }
    CHECK(eager::live_nodes() == before);
    {
        tensor y = eager::tanh(w * 2.0f);  // never differentiated
        CHECK(eager::live_nodes() == before + 2);
    }
    CHECK(eager::live_nodes() == before);
}

TEST_CASE("gradients flow back through views, transposes and reshapes", "[eager][autograd]") {
    tensor a = eager::from_values<float>({1, 2, 3, 4, 5, 6}, {2, 3}).requires_grad_();
    tensor w = eager::from_values<float>({1, 10, 100, 1000, 10000, 100000}, {3, 2});
    tensor y = eager::sum(a.transpose(0, 1) * w);
    y.backward();
    CHECK(a.grad().to_vector() == std::vector<float>{1, 100, 10000, 10, 1000, 100000});
    a.zero_grad();
    eager::sum(a.view({3, 2}) * w).backward();
    CHECK(a.grad().to_vector() == std::vector<float>{1, 10, 100, 1000, 10000, 100000});
}

namespace {
std::string autograd_error_of(auto&& f) {
    return test::message_of<eager::autograd_error>(f);
}
}  // namespace

TEST_CASE("backward refuses a saved tensor that was changed in place, with PyTorch's sentence",
          "[eager][autograd][version]") {
    tensor w = eager::from_values<float>({1, 1}).requires_grad_();
    tensor x = eager::from_values<float>({3, 4});
    const tensor y = eager::sum(w * x);
    CHECK(x.version() == 0);
    x.copy_(eager::from_values<float>({100, 200}));  // once gave w.grad = [100, 200]; it is [3, 4]
    CHECK(x.version() == 1);
    CHECK(autograd_error_of([&] { y.backward(); }) ==
          "one of the variables needed for gradient computation has been modified by an inplace operation: "
          "[float [2]], saved by 'mul', is at version 1; expected version 0 instead. It was changed in place "
          "(copy_, fill_, zero_, an optimiser step) after the operation saved it for backward: change a "
          "clone() of it, or change it after backward()");
    CHECK_FALSE(w.grad().defined());  // refused before any gradient was accumulated
}

TEST_CASE("a write through a view, or to an operation's own saved output, is seen too",
          "[eager][autograd][version]") {
    SECTION("a view shares its storage's version") {
        tensor w = eager::from_values<float>({1, 2, 3, 4}).requires_grad_();
        tensor x = eager::from_values<float>({1, 2, 3, 4});
        const tensor y = eager::sum(w * x);
        tensor v = x.view({2, 2});
        v.fill_(0);
        CHECK(x.version() == 1);
        CHECK_THAT(autograd_error_of([&] { y.backward(); }), Catch::Contains("saved by 'mul'"));
    }
    SECTION("exp saves its output") {
        tensor a = eager::from_values<float>({0, 1}).requires_grad_();
        tensor e = eager::exp(a);
        const tensor total = eager::sum(e);
        {
            eager::no_grad guard;
            e.zero_();
        }
        CHECK_THAT(autograd_error_of([&] { total.backward(); }), Catch::Contains("saved by 'exp'"));
    }
    SECTION("a change after backward, or to a clone, is fine") {
        tensor w = eager::from_values<float>({1, 1}).requires_grad_();
        tensor x = eager::from_values<float>({3, 4});
        const tensor y = eager::sum(w * x.clone());
        x.copy_(eager::from_values<float>({100, 200}));
        y.backward();
        CHECK(w.grad().to_vector() == std::vector<float>{3, 4});
        x.fill_(1);
    }
}

namespace {

// A DOT text read back: node ids with their labels, and edges.
struct dot_graph {
    std::map<std::string, std::string> label;  // id -> label ("linear\\n0.0" as written)
    std::multiset<std::pair<std::string, std::string>> edges;
    // The id of the node with this label ("" when there is none).
    std::string id_of(const std::string& l) const {
        for (const auto& [id, text] : label)
            if (text == l) return id;
        return "";
    }
};

dot_graph read_dot(const std::string& text) {
    dot_graph g;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        line.erase(0, line.find_first_not_of(' '));
        if (const auto arrow = line.find(" -> "); arrow != std::string::npos) {
            g.edges.emplace(line.substr(0, arrow), line.substr(arrow + 4, line.size() - arrow - 5));
        } else if (const auto at = line.find("label=\""); at != std::string::npos && line.rfind("node", 0) != 0) {
            const auto end = line.find('"', at + 7);
            g.label[line.substr(0, line.find(' '))] = line.substr(at + 7, end - at - 7);
        }
    }
    return g;
}

}  // namespace

TEST_CASE("the tape's DOT has a box per op named by its module, parameters by their paths, and edges",
          "[eager][autograd][dot]") {
    namespace nn = eager::nn;
    eager::manual_seed(1);
    nn::sequential model(std::make_shared<nn::sequential>(nn::linear({3, 4}), nn::relu()), nn::linear({4, 2}));
    const tensor x = eager::rand({5, 3});
    const std::vector<std::int64_t> y{0, 1, 0, 1, 1};
    const tensor loss = eager::cross_entropy(model(x), y);
    const std::string text = eager::to_dot(loss, model);
    INFO(text);
    CHECK(text.rfind("digraph tape {\n", 0) == 0);
    CHECK(text.substr(text.size() - 2) == "}\n");
    const dot_graph g = read_dot(text);
    // Four ops, each named by the module that ran it (the loss by none), four parameters.
    CHECK(g.label.size() == 8);
    const std::string fc1 = g.id_of("linear\\n0.0"), act = g.id_of("relu\\n0.1"), fc2 = g.id_of("linear\\n1"),
                      ce = g.id_of("cross_entropy");
    CHECK(ce == "op0");  // the root's
    for (const std::string& id : {fc1, act, fc2}) CHECK_THAT(id, Catch::StartsWith("op"));
    CHECK(g.label.at("\"0.0.weight\"") == "0.0.weight\\n[4, 3]");
    CHECK(g.label.at("\"1.bias\"") == "1.bias\\n[2]");
    // Edges in the direction the forward ran; x needs no gradient, so it is not drawn.
    const std::multiset<std::pair<std::string, std::string>> edges{
        {"\"0.0.weight\"", fc1}, {"\"0.0.bias\"", fc1}, {fc1, act},          {act, fc2},
        {"\"1.weight\"", fc2},   {"\"1.bias\"", fc2},   {fc2, ce}};
    CHECK(g.edges == edges);
    // Without the model: the same graph, ops by their names only, leaves numbered.
    const dot_graph bare = read_dot(eager::to_dot(loss));
    CHECK(bare.edges.size() == 7);
    CHECK(bare.id_of("relu") != "");
    CHECK(bare.label.count("leaf3") == 1);
    // A tensor with no tape: an empty graph.
    CHECK(eager::to_dot(x) == "digraph tape {\n  rankdir=TB;\n  node [shape=box];\n}\n");
}

namespace {

std::vector<std::vector<float>> grads_of(const std::vector<tensor>& params) {
    std::vector<std::vector<float>> out;
    for (const tensor& p : params) out.push_back(p.grad().to_vector());
    return out;
}

void check_scaled(const std::vector<std::vector<float>>& got, const std::vector<std::vector<float>>& want,
                  float scale) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        REQUIRE(got[i].size() == want[i].size());
        for (std::size_t k = 0; k < got[i].size(); ++k)
            CHECK(got[i][k] == Approx(scale * want[i][k]).margin(1e-5));
    }
}

// A layer's parameter gradients added by its backward straight into grads that exist (after
// zero_grad, or from an earlier backward) against the same gradients made fresh and moved in.
void check_in_place_accumulation(eager::nn::module& m, const tensor& x) {
    const std::vector<tensor> params = m.parameters();
    const tensor r = eager::randn(m(x).shape());
    const auto step = [&] { eager::sum(m(x) * r).backward(); };
    for (tensor p : params) p.zero_grad(true);
    step();  // no grads yet: the general path
    const auto fresh = grads_of(params);
    step();  // added into the grads of the first
    check_scaled(grads_of(params), fresh, 2);
    for (tensor p : params) p.zero_grad();
    step();  // added into zeros
    check_scaled(grads_of(params), fresh, 1);
}

}  // namespace

TEST_CASE("parameter gradients added in place into existing grads match fresh ones", "[eager][autograd]") {
    namespace nn = eager::nn;
    eager::manual_seed(3);
    SECTION("linear") {
        nn::linear m({5, 4});
        check_in_place_accumulation(m, eager::randn({3, 5}));
    }
    SECTION("conv1d") {
        nn::conv1d m({.in_channels = 2, .out_channels = 3, .kernel_size = 3, .padding = 1});
        check_in_place_accumulation(m, eager::randn({2, 2, 7}));
    }
    SECTION("conv2d") {
        nn::conv2d m({.in_channels = 2, .out_channels = 4, .kernel_size = 3, .padding = 1});
        check_in_place_accumulation(m, eager::randn({2, 2, 6, 6}));
    }
    SECTION("conv_transpose2d") {
        nn::conv_transpose2d m({.in_channels = 2, .out_channels = 3, .kernel_size = 3, .stride = 2});
        check_in_place_accumulation(m, eager::randn({2, 2, 4, 4}));
    }
    SECTION("batch_norm2d") {
        nn::batch_norm2d m({.num_features = 3});
        check_in_place_accumulation(m, eager::randn({4, 3, 3, 3}));
    }
    SECTION("layer_norm") {
        nn::layer_norm m({.normalized_shape = {5}});
        check_in_place_accumulation(m, eager::randn({3, 5}));
    }
}

TEST_CASE("a weight used twice, or read by its own backward through its grad, gets the right gradient",
          "[eager][autograd]") {
    eager::manual_seed(4);
    const tensor x = eager::randn({3, 4});
    const tensor w0 = eager::randn({4, 4}), b0 = eager::randn({4});
    // Twice in one tape: the second node to run adds into the grad the first one made.
    tensor w = w0.clone().requires_grad_(), b = b0.clone().requires_grad_();
    tensor w1 = w0.clone().requires_grad_(), w2 = w0.clone().requires_grad_();
    eager::sum(eager::linear(eager::linear(x, w, b), w, b)).backward();
    eager::sum(eager::linear(eager::linear(x, w1, b0), w2, b0)).backward();
    const std::vector<float> got = w.grad().to_vector(), a = w1.grad().to_vector(), c = w2.grad().to_vector();
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(a[i] + c[i]).margin(1e-5));

    // The input is the weight's own grad: its gradient may not be added there while it is read.
    const tensor g_before = w.grad().clone();
    const tensor input = w.grad();
    eager::sum(eager::linear(input, w)).backward();
    tensor v = w0.clone().requires_grad_();
    eager::sum(eager::linear(g_before, v)).backward();
    const std::vector<float> after = w.grad().to_vector(), before = g_before.to_vector(),
                             add = v.grad().to_vector();
    for (std::size_t i = 0; i < after.size(); ++i) CHECK(after[i] == Approx(before[i] + add[i]).margin(1e-4));
}

TEST_CASE("a post-accumulate hook sees a gradient that was added in place", "[eager][autograd]") {
    eager::nn::linear m({3, 2});
    const tensor x = eager::randn({4, 3});
    std::vector<float> seen;
    m.weight.register_post_accumulate_grad_hook([&](const tensor& t) { seen = t.grad().to_vector(); });
    eager::sum(m(x)).backward();
    const std::vector<float> once = m.weight.grad().to_vector();
    CHECK(seen == once);
    seen.clear();
    eager::sum(m(x)).backward();  // the grad exists: added in place
    REQUIRE(seen.size() == once.size());
    for (std::size_t i = 0; i < once.size(); ++i) CHECK(seen[i] == Approx(2 * once[i]));
}
