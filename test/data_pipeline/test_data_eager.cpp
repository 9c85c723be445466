// Suite `data`: katachi::data with the eager face: batches as tensors, metrics over tensors, and a
// training loop over the loader.
#include <catch2/catch.hpp>
#include <katachi/data.hpp>
#include <katachi/data/eager.hpp>
#include <katachi/eager.hpp>

#include "clusters.hpp"

namespace {

using namespace katachi;
using eager::tensor;

TEST_CASE("a batch becomes an eager tensor of its samples, shuffled or not", "[data][eager]") {
    std::vector<float> values(5 * 4);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
    const data::tensor_dataset<float> set(values, {2, 2}, {0, 1, 0, 1, 0});
    for (bool shuffle : {false, true}) {
        data::data_loader loader(set, {.batch_size = 2, .shuffle = shuffle, .seed = 9});
        for (const auto& b : loader) {
            const tensor x = data::input_tensor(b);
            CHECK(x.shape() == eager::sizes{b.size(), 2, 2});
            const auto v = x.to_vector();
            for (std::size_t i = 0; i < b.size(); ++i)
                for (std::size_t k = 0; k < 4; ++k) CHECK(v[i * 4 + k] == set.sample(b.indices()[i])[k]);
        }
    }
}

TEST_CASE("argmax and the confusion matrix read eager logits, transposed ones included", "[data][eager]") {
    const tensor logits = eager::from_values<float>({0.1f, 0.9f, 0.8f, 0.2f, 0.3f, 0.3f}, {3, 2});
    CHECK(data::argmax(logits) == std::vector<std::int64_t>{1, 0, 0});
    const tensor t = logits.transpose(0, 1);  // [2, 3], not contiguous
    CHECK(data::argmax(t) == std::vector<std::int64_t>{1, 0});
    data::confusion_matrix cm(2);
    cm.add_logits(logits, std::vector<std::int64_t>{1, 1, 0});
    CHECK(cm.correct() == 2);
    CHECK(data::accuracy(logits, std::vector<std::int64_t>{1, 0, 1}) == Approx(2.0 / 3.0));
    CHECK_THROWS_WITH(data::argmax(eager::zeros({4})), "argmax: takes logits [N, classes], got shape [4]");
}

TEST_CASE("an eager model trains on the loader's batches and its accuracy rises", "[data][eager]") {
    const data::tensor_dataset<float> set = test::two_clusters();
    eager::nn::sequential model(eager::nn::linear({4, 8}), eager::nn::relu(), eager::nn::linear({8, 2}));
    optim::sgd<float> opt(eager::nn::optimiser_parameters(model), {.lr = 0.1});
    data::data_loader loader(set, {.batch_size = 32, .shuffle = true, .seed = 2});
    for (int epoch = 0; epoch < 5; ++epoch)
        for (const auto& b : loader) {
            opt.zero_grad();
            eager::cross_entropy(model(data::input_tensor(b)), b.target_span()).backward();
            opt.step();
        }
    data::confusion_matrix cm(2);
    const eager::no_grad guard;
    for (const auto& b : data::data_loader(set, {.batch_size = 100})) cm.add_logits(model(data::input_tensor(b)), b.target_span());
    CHECK(cm.total() == 256);
    CHECK(cm.accuracy() > 0.95);
}

}  // namespace
