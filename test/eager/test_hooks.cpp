// Gradient hooks: post-accumulate-grad hooks on leaves (once per backward, with the final
// gradient), their removal, and the callbacks queued to run when a backward ends.
#include <catch2/catch.hpp>
#include <cmath>
#include <katachi/eager.hpp>
#include <stdexcept>
#include <string>
#include <vector>

using namespace katachi;
using eager::tensor;

TEST_CASE("a leaf used twice fires its post-accumulate-grad hook once, with the summed gradient",
          "[eager][autograd][hooks]") {
    tensor a = eager::from_values<float>({1, 2}).requires_grad_();
    tensor b = eager::from_values<float>({5, 7}).requires_grad_();
    std::vector<std::vector<float>> seen;
    a.register_post_accumulate_grad_hook([&](const tensor& leaf) {
        CHECK(leaf.is_same(a));
        seen.push_back(leaf.grad().to_vector());
    });
    // a reaches the loss along a long path (exp of a * b) and a short one (3 * a): the short one's
    // gradient arrives first, and the hook must wait for the other.
    const tensor loss = eager::sum(eager::exp(a * b * 0.1f)) + eager::sum(3.0f * a);
    loss.backward();
    REQUIRE(seen.size() == 1);
    const std::vector<float> av{1, 2}, bv{5, 7};
    for (std::size_t i = 0; i < 2; ++i)
        CHECK(seen[0][i] == Approx(0.1f * bv[i] * std::exp(0.1f * av[i] * bv[i]) + 3));

    // Another backward fires it once more, with the gradient accumulated over both.
    (eager::sum(a * a)).backward();  // one node with two edges into a
    REQUIRE(seen.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) CHECK(seen[1][i] == Approx(seen[0][i] + 2 * av[i]));
}

TEST_CASE("a leaf that the backward does not reach does not fire its hook", "[eager][autograd][hooks]") {
    tensor a = eager::from_values<float>({1, 2}).requires_grad_();
    tensor unused = eager::from_values<float>({3}).requires_grad_();
    int a_calls = 0, unused_calls = 0;
    a.register_post_accumulate_grad_hook([&](const tensor&) { ++a_calls; });
    unused.register_post_accumulate_grad_hook([&](const tensor&) { ++unused_calls; });
    eager::sum(a * 2.0f).backward();
    CHECK(a_calls == 1);
    CHECK(unused_calls == 0);
    CHECK_FALSE(unused.grad().defined());
}

TEST_CASE("hooks run in registration order and a removed hook is not called again",
          "[eager][autograd][hooks]") {
    tensor a = eager::from_values<float>({1}).requires_grad_();
    std::string order;
    eager::hook_handle first = a.register_post_accumulate_grad_hook([&](const tensor&) { order += "1"; });
    eager::hook_handle second = a.register_post_accumulate_grad_hook([&](const tensor&) { order += "2"; });
    eager::sum(a * a).backward();
    CHECK(order == "12");
    first.remove();
    first.remove();  // twice: nothing more happens
    eager::sum(a * a).backward();
    CHECK(order == "122");
    second.remove();
    eager::sum(a * a).backward();
    CHECK(order == "122");
    CHECK(a.grad().to_vector() == std::vector<float>{6});
}

TEST_CASE("a hook may remove itself while it runs", "[eager][autograd][hooks]") {
    tensor a = eager::from_values<float>({1}).requires_grad_();
    int calls = 0;
    eager::hook_handle self;
    self = a.register_post_accumulate_grad_hook([&](const tensor&) {
        ++calls;
        self.remove();
    });
    eager::sum(a * a).backward();
    eager::sum(a * a).backward();
    CHECK(calls == 1);
}

TEST_CASE("removing a hook after its tensor is gone does nothing", "[eager][autograd][hooks]") {
    eager::hook_handle h;
    {
        tensor a = eager::from_values<float>({1}).requires_grad_();
        h = a.register_post_accumulate_grad_hook([](const tensor&) {});
    }
    h.remove();
    SUCCEED();
}

TEST_CASE("a backward from a leaf itself fires the leaf's hook", "[eager][autograd][hooks]") {
    tensor a = eager::from_values<float>({1, 2}).requires_grad_();
    std::vector<float> seen;
    a.register_post_accumulate_grad_hook([&](const tensor& leaf) { seen = leaf.grad().to_vector(); });
    a.backward(eager::from_values<float>({4, 5}));
    CHECK(seen == std::vector<float>{4, 5});
}

TEST_CASE("hooks are refused on non-leaves and on tensors that do not require grad",
          "[eager][autograd][hooks]") {
    tensor a = eager::from_values<float>({1}).requires_grad_();
    CHECK_THROWS_AS((a * 2.0f).register_post_accumulate_grad_hook([](const tensor&) {}),
                    eager::autograd_error);
    CHECK_THROWS_WITH((a * 2.0f).register_post_accumulate_grad_hook([](const tensor&) {}),
                      Catch::Contains("non-leaf"));
    CHECK_THROWS_WITH(eager::ones({1}).register_post_accumulate_grad_hook([](const tensor&) {}),
                      Catch::Contains("doesn't require gradient"));
}

TEST_CASE("a queued callback runs once, when the backward ends, after every hook",
          "[eager][autograd][hooks]") {
    tensor a = eager::from_values<float>({1}).requires_grad_();
    tensor b = eager::from_values<float>({2}).requires_grad_();
    std::string log;
    a.register_post_accumulate_grad_hook([&](const tensor&) {
        log += "a";
        eager::queue_callback([&] {
            log += "end";
            eager::queue_callback([&] { log += "+more"; });  // a callback may queue another
        });
    });
    b.register_post_accumulate_grad_hook([&](const tensor&) { log += "b"; });
    // a's gradient is final before b's: b is reached only through a longer chain.
    eager::sum(a * 3.0f + eager::exp(eager::exp(b))).backward();
    CHECK((log == "abend+more" || log == "baend+more"));
    CHECK(log.find("end") == 2);
    eager::sum(b * 1.0f).backward();  // no callback queued this time
    CHECK(log.substr(log.size() - 1) == "b");
}

TEST_CASE("queue_callback outside a backward is refused", "[eager][autograd][hooks]") {
    CHECK_THROWS_AS(eager::queue_callback([] {}), eager::autograd_error);
}

TEST_CASE("a hook that throws ends the backward and drops the queued callbacks", "[eager][autograd][hooks]") {
    tensor a = eager::from_values<float>({1}).requires_grad_();
    bool ran = false;
    eager::hook_handle h = a.register_post_accumulate_grad_hook([&](const tensor&) {
        eager::queue_callback([&] { ran = true; });
        throw std::runtime_error("hook failed");
    });
    CHECK_THROWS_WITH(eager::sum(a * a).backward(), "hook failed");
    CHECK_FALSE(ran);
    h.remove();
    eager::sum(a * a).backward();  // the next backward runs normally
    CHECK_FALSE(ran);
    CHECK_THROWS_AS(eager::queue_callback([] {}), eager::autograd_error);  // no queue left behind
}
