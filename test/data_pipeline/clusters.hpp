// test/data_pipeline/clusters.hpp: a data set both faces' training tests learn: two clusters of 128
// points each in 4 dimensions, around -1 and +1, spread +-0.8; the class is the cluster.
#pragma once

#include <cstdint>
#include <katachi/data/dataset.hpp>
#include <katachi/random.hpp>
#include <vector>

namespace katachi::test {

inline data::tensor_dataset<float> two_clusters() {
    std::vector<float> values;
    std::vector<std::int64_t> targets;
    generator gen(5);
    for (std::size_t i = 0; i < 256; ++i) {
        const std::int64_t c = static_cast<std::int64_t>(i % 2);
        for (std::size_t k = 0; k < 4; ++k) values.push_back((c ? 1.0f : -1.0f) + gen.uniform<float>(-0.8f, 0.8f));
        targets.push_back(c);
    }
    return data::tensor_dataset<float>(std::move(values), {4}, std::move(targets));
}

}  // namespace katachi::test
