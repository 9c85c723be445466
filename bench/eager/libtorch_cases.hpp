// bench/eager/libtorch_cases.hpp: the eager benchmark's work in libtorch, for the ratios.
#pragma once

#include "timing.hpp"

namespace katachi::bench {

struct libtorch_results {
    stats training_step, inference_batch1, per_op;
};

libtorch_results libtorch_cases();

}  // namespace katachi::bench
