// Suite `data`: katachi::data's data sets, transforms, loader and metrics, with a graph-face model.
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <katachi/data.hpp>
#include <katachi/graph.hpp>
#include <katachi/optim/sgd.hpp>
#include <katachi/parallel.hpp>

#include "clusters.hpp"
#include <limits>
#include <set>
#include <type_traits>
#include <xtensor/xarray.hpp>

namespace {

using namespace katachi;

// n samples of shape [2, 3] whose values encode (sample, position), and targets sample % 3.
data::tensor_dataset<float> numbered(std::size_t n) {
    std::vector<float> values(n * 6);
    std::vector<std::int64_t> targets(n);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t k = 0; k < 6; ++k) values[i * 6 + k] = static_cast<float>(i * 10 + k);
        targets[i] = static_cast<std::int64_t>(i % 3);
    }
    return data::tensor_dataset<float>(std::move(values), {2, 3}, std::move(targets));
}

// The samples one epoch of the loader visits, in order, checked against their targets and values.
std::vector<std::size_t> one_epoch(data::data_loader<float>& loader, std::vector<std::size_t>* sizes = nullptr) {
    std::vector<std::size_t> seen;
    for (const auto& b : loader) {
        if (sizes) sizes->push_back(b.size());
        const float* x = b.input_data();
        for (std::size_t i = 0; i < b.size(); ++i) {
            const std::size_t k = b.indices()[i];
            CHECK(b.target_span()[i] == static_cast<std::int64_t>(k % 3));
            CHECK(x[i * 6 + 5] == static_cast<float>(k * 10 + 5));
            seen.push_back(k);
        }
    }
    return seen;
}

TEST_CASE("a tensor dataset keeps each sample with its target and refuses counts that disagree", "[data]") {
    const auto set = numbered(4);
    CHECK(set.size() == 4);
    CHECK(set.sample_shape() == std::vector<std::size_t>{2, 3});
    CHECK(set.sample(2)[1] == 21.0f);
    CHECK(set.target(2) == 2);
    CHECK_THROWS_WITH(set.sample(4), "tensor_dataset: sample 4 of a data set of 4");
    CHECK_THROWS_WITH(data::tensor_dataset<float>(std::vector<float>(7), {2, 3}, {0}),
                      "tensor_dataset: 7 feature values for 1 targets of 6 values each; the counts must agree");

    const xt::xarray<double> x = {{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}};
    const xt::xarray<int> y = {2, 0, 1};
    const auto from = data::tensor_dataset<float>::from(x, y);
    CHECK(from.sample(1)[1] == 4.0f);
    CHECK(from.target(0) == 2);
    CHECK_THROWS_WITH(data::tensor_dataset<float>::from(x, xt::xarray<int>{1, 2}),
                      "tensor_dataset::from: 3 samples of features but 2 targets; the counts must agree");
    auto cut = numbered(10);
    cut.truncate(4);
    CHECK(cut.size() == 4);
    CHECK(cut.features().size() == 24);
}

TEST_CASE("the loader yields every sample once per epoch, the last batch smaller unless drop_last", "[data]") {
    const auto set = numbered(10);
    data::data_loader plain(set, {.batch_size = 4});
    std::vector<std::size_t> sizes;
    const auto seen = one_epoch(plain, &sizes);
    CHECK(plain.size() == 3);
    CHECK(sizes == std::vector<std::size_t>{4, 4, 2});
    CHECK(seen == std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});

    data::data_loader dropping(set, {.batch_size = 4, .shuffle = true, .drop_last = true, .seed = 3});
    sizes.clear();
    const auto kept = one_epoch(dropping, &sizes);
    CHECK(dropping.size() == 2);
    CHECK(sizes == std::vector<std::size_t>{4, 4});
    CHECK(std::set<std::size_t>(kept.begin(), kept.end()).size() == 8);

    data::data_loader shuffled(set, {.batch_size = 3, .shuffle = true, .seed = 3});
    auto all = one_epoch(shuffled);
    CHECK(all != seen);  // 10! orders: the identity has a chance of 1 in 3,628,800
    std::sort(all.begin(), all.end());
    CHECK(all == seen);
    CHECK_THROWS_WITH(data::data_loader(set, {.batch_size = 0}), "data_loader: batch_size must be at least 1, got 0");
    // It reads the data set in place, so it refuses a temporary one.
    static_assert(!std::is_constructible_v<data::data_loader<float>, data::tensor_dataset<float>&&, data::loader_options>);
    static_assert(std::is_constructible_v<data::data_loader<float>, const data::tensor_dataset<float>&, data::loader_options>);
}

TEST_CASE("the order is a function of the seed and the epoch, so set_epoch resumes a run", "[data]") {
    const auto set = numbered(50);
    data::data_loader a(set, {.batch_size = 8, .shuffle = true, .seed = 11});
    data::data_loader b(set, {.batch_size = 8, .shuffle = true, .seed = 11});
    data::data_loader other(set, {.batch_size = 8, .shuffle = true, .seed = 12});
    const auto a0 = one_epoch(a), a1 = one_epoch(a), a2 = one_epoch(a);
    CHECK(a.epoch() == 3);
    CHECK(one_epoch(b) == a0);
    CHECK(a1 != a0);
    CHECK(one_epoch(other) != a0);
    data::data_loader resumed(set, {.batch_size = 8, .shuffle = true, .seed = 11});
    resumed.set_epoch(2);
    CHECK(one_epoch(resumed) == a2);
    CHECK(data::shuffled_order(50, 11, 1) == a1);

    // One thread or two: the same orders (the shuffle is one sequence of draws).
    const int threads = katachi::get_num_threads();
    katachi::set_num_threads(1);
    data::data_loader one(set, {.batch_size = 8, .shuffle = true, .seed = 11});
    const auto with_one = one_epoch(one);
    katachi::set_num_threads(2);
    data::data_loader two(set, {.batch_size = 8, .shuffle = true, .seed = 11});
    CHECK(one_epoch(two) == with_one);
    CHECK(with_one == a0);
    katachi::set_num_threads(threads);
}

TEST_CASE("ranks' shards are disjoint, cover the epoch, and pad or drop as DistributedSampler does", "[data]") {
    const auto set = numbered(10);
    for (bool shuffle : {false, true}) {
        std::vector<std::size_t> all;
        for (std::size_t rank = 0; rank < 3; ++rank) {
            data::data_loader loader(set, {.batch_size = 2, .shuffle = shuffle, .seed = 4, .num_replicas = 3, .rank = rank});
            CHECK(loader.samples_per_epoch() == 4);  // ceil(10 / 3): two samples repeated as padding
            CHECK(loader.size() == 2);
            const auto mine = one_epoch(loader);
            CHECK(mine.size() == 4);
            all.insert(all.end(), mine.begin(), mine.end());
        }
        // The 12 places hold the epoch's order, then its first two samples again.
        const auto order = shuffle ? data::shuffled_order(10, 4, 0) : std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
        std::vector<std::size_t> expected;
        for (std::size_t rank = 0; rank < 3; ++rank)
            for (std::size_t i = 0; i < 4; ++i) expected.push_back(order[(i * 3 + rank) % 10]);
        CHECK(all == expected);
        std::set<std::size_t> distinct(all.begin(), all.end());
        CHECK(distinct.size() == 10);  // every sample, and only the padding twice
    }
    std::set<std::size_t> kept;
    for (std::size_t rank = 0; rank < 3; ++rank) {
        data::data_loader loader(set, {.batch_size = 8, .shuffle = true, .seed = 4, .num_replicas = 3, .rank = rank,
                                       .drop_uneven = true});
        const auto mine = one_epoch(loader);
        CHECK(mine.size() == 3);
        for (std::size_t k : mine) CHECK(kept.insert(k).second);  // disjoint
    }
    CHECK(kept.size() == 9);
    CHECK_THROWS_WITH(data::data_loader(set, {.num_replicas = 2, .rank = 2}),
                      "data_loader: rank 2 of num_replicas 2: the rank must lie in [0, num_replicas)");
}

TEST_CASE("an unshuffled batch points into the data set and a shuffled one is gathered once", "[data]") {
    const auto set = numbered(6);
    data::data_loader plain(set, {.batch_size = 4});
    auto it = plain.begin();
    CHECK(it->input_data() == set.sample(0));
    ++it;
    CHECK(it->input_data() == set.sample(4));
    CHECK(it->target_span().data() == set.targets().data() + 4);  // the targets in place too

    data::data_loader shuffled(set, {.batch_size = 4, .shuffle = true, .seed = 1});
    const auto it2 = shuffled.begin();
    const auto& b = *it2;
    const float* x = b.input_data();
    CHECK(x == b.input_data());  // not gathered again
    std::vector<float> copy(b.size() * 6);
    b.copy_input_to(copy.data());
    CHECK(std::equal(copy.begin(), copy.end(), x));
    const auto input = b.input();
    CHECK(input.shape() == std::vector<std::size_t>{4, 2, 3});
    CHECK(input(1, 1, 2) == set.sample(b.indices()[1])[5]);
    CHECK(b.targets()(3) == set.target(b.indices()[3]));
}

TEST_CASE("normalize fits the training set's mean and deviation, overall or per channel", "[data]") {
    auto set = numbered(5);
    const auto n = data::normalize::fit(set);
    double sum = 0, squares = 0;
    for (float v : set.features()) sum += v;
    const double mean = sum / 30;
    for (float v : set.features()) squares += (v - mean) * (v - mean);
    CHECK(n.mean[0] == Approx(mean));
    CHECK(n.std[0] == Approx(std::sqrt(squares / 30)));
    auto other = numbered(5);
    other.map(n);
    double m = 0, s = 0;
    for (float v : other.features()) m += v;
    m /= 30;
    for (float v : other.features()) s += (v - m) * (v - m);
    CHECK(m == Approx(0).margin(1e-6));
    CHECK(std::sqrt(s / 30) == Approx(1).epsilon(1e-6));

    const auto per = data::normalize::fit(set, true);  // channel 0 holds positions 0..2, channel 1 3..5
    REQUIRE(per.mean.size() == 2);
    CHECK(per.mean[1] - per.mean[0] == Approx(3));
    CHECK_THROWS_WITH(numbered(1).map(data::normalize{{0.5, 0.5, 0.5}, {1, 1, 1}}),
                      "normalize: 3 channel means for samples of 2 channels");
    CHECK_THROWS_WITH(numbered(1).map(data::normalize{{0.5}, {0.0}}), "normalize: a std must be above 0, got 0.000000");
}

TEST_CASE("argmax, accuracy and the confusion matrix follow PyTorch's argmax", "[data]") {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const xt::xarray<float> logits = {{0.1f, 0.7f, 0.2f}, {0.5f, 0.5f, 0.0f}, {0.0f, nan, 1.0f}, {3.0f, 2.0f, 1.0f}};
    CHECK(data::argmax(logits) == std::vector<std::int64_t>{1, 0, 1, 0});  // first of ties; NaN is largest
    const std::vector<std::int64_t> targets{1, 1, 2, 0};
    CHECK(data::accuracy(logits, targets) == 0.5);
    data::confusion_matrix cm(3);
    cm.add_logits(logits, targets);
    CHECK(cm.total() == 4);
    CHECK(cm.correct() == 2);
    CHECK(cm.count(1, 0) == 1);
    CHECK(cm.count(2, 1) == 1);
    CHECK(cm.recall(1) == 0.5);
    CHECK(cm.precision(0) == 0.5);
    CHECK(cm.precision(2) == 0.0);  // never predicted
    CHECK_THROWS_WITH(cm.add(3, 0), "confusion_matrix::add: label 3 is not a class (0 to 2)");
    CHECK_THROWS_WITH(data::accuracy(logits, std::vector<std::int64_t>{1}),
                      "accuracy: 4 rows of logits for 1 targets");
    CHECK_THROWS_WITH(data::argmax(xt::xarray<float>{1.0f, 2.0f}),
                      "argmax: takes contiguous logits [N, classes], got 1 dimensions");
}

TEST_CASE("a graph model trains on the loader's batches and its accuracy rises", "[data][graph]") {
    auto set = test::two_clusters();
    set.map(data::normalize::fit(set));
    using net = graph::sequential<graph::input<4>, graph::linear<8>, graph::relu, graph::linear<2>>;
    graph::model<net> m(1);
    optim::sgd<float> opt(m.parameters(), {.lr = 0.1});
    data::data_loader loader(set, {.batch_size = 32, .shuffle = true, .seed = 2});
    data::confusion_matrix before(2), after(2);
    for (const auto& b : data::data_loader(set, {.batch_size = 64})) before.add_logits(m.forward(b.input()), b.target_span());
    for (int epoch = 0; epoch < 5; ++epoch)
        for (const auto& b : loader) {
            m.forward(b.input());
            m.cross_entropy(b.targets());
            m.backward();
            opt.step();
        }
    for (const auto& b : data::data_loader(set, {.batch_size = 64})) after.add_logits(m.forward(b.input()), b.target_span());
    CHECK(after.total() == 256);
    CHECK(after.accuracy() > 0.95);
    CHECK(after.accuracy() > before.accuracy());
}

TEST_CASE("an IDX pair becomes a data set of images in [0, 1] and their labels", "[data][idx]") {
    const auto dir = std::filesystem::temp_directory_path() / "katachi-data-idx";
    std::filesystem::create_directories(dir);
    const auto put = [](const std::filesystem::path& p, std::vector<unsigned char> header, std::size_t count, int mod) {
        std::ofstream f(p, std::ios::binary);
        for (std::size_t i = 0; i < count; ++i) header.push_back(static_cast<unsigned char>(i % mod));
        f.write(reinterpret_cast<const char*>(header.data()), static_cast<std::streamsize>(header.size()));
    };
    put(dir / "images", {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2}, 12, 256);
    put(dir / "labels", {0, 0, 8, 1, 0, 0, 0, 3}, 3, 4);
    put(dir / "labels4", {0, 0, 8, 1, 0, 0, 0, 4}, 4, 4);
    const auto set = data::idx_dataset(dir / "images", dir / "labels");
    CHECK(set.size() == 3);
    CHECK(set.sample_shape() == std::vector<std::size_t>{1, 2, 2});
    CHECK(set.sample(2)[3] == Approx(11.0f / 255.0f));
    CHECK(set.target(2) == 2);
    CHECK_THROWS_WITH(data::idx_dataset(dir / "images", dir / "labels4"),
                      Catch::Contains("4 labels for 3 images") && Catch::Contains("labels4"));
    std::filesystem::remove_all(dir);
}

}  // namespace
