// katachi/eager/modules/pooling.hpp: max, average and adaptive average pooling layers; max and
// average pooling are the eager adaptors of katachi/ops/max_pool2d.hpp and avg_pool2d.hpp.
#pragma once

#include <array>
#include <cstddef>
#include <string>

#include "katachi/eager/modules/conv.hpp"  // size2
#include "katachi/eager/modules/module.hpp"
#include "katachi/ops/adaptive_avg_pool2d.hpp"
#include "katachi/ops/avg_pool2d.hpp"
#include "katachi/ops/max_pool2d.hpp"

namespace katachi::eager::nn {

// PyTorch's options (katachi/ops/max_pool2d.hpp, avg_pool2d.hpp); a stride of 0 means the kernel size.
using max_pool2d_options = ops::max_pool2d_options;
using avg_pool2d_options = ops::avg_pool2d_options;

class max_pool2d : public module {
public:
    explicit max_pool2d(const max_pool2d_options& o = {}) : options(o) {}
    std::string type_name() const override { return "max_pool2d"; }
    tensor forward(const tensor& x) override;
    sizes output_shape(const sizes& input) const override;
    std::string extra_repr() const override;
    max_pool2d_options options;
};

class avg_pool2d : public module {
public:
    explicit avg_pool2d(const avg_pool2d_options& o = {}) : options(o) {}
    std::string type_name() const override { return "avg_pool2d"; }
    tensor forward(const tensor& x) override;
    sizes output_shape(const sizes& input) const override;
    std::string extra_repr() const override;
    avg_pool2d_options options;
};

class adaptive_avg_pool2d : public module {
public:
    explicit adaptive_avg_pool2d(size2 output_size) : output_size(output_size) {}
    std::string type_name() const override { return "adaptive_avg_pool2d"; }
    tensor forward(const tensor& x) override;
    sizes output_shape(const sizes& input) const override;
    std::string extra_repr() const override;
    size2 output_size;
};

}  // namespace katachi::eager::nn
