// katachi/eager/modules/pooling.hpp: max, average and adaptive average pooling layers.
#pragma once

#include <array>
#include <cstddef>
#include <string>

#include "katachi/eager/modules/conv.hpp"  // size2
#include "katachi/eager/modules/module.hpp"

namespace katachi::eager::nn {

struct max_pool2d_options {
    size2 kernel_size = 2;
    size2 stride = 0;  // 0 means the kernel size (PyTorch's default)
    size2 padding = 0;
    size2 dilation = 1;
    bool ceil_mode = false;
};

struct avg_pool2d_options {
    size2 kernel_size = 2;
    size2 stride = 0;  // 0 means the kernel size
    size2 padding = 0;
    bool ceil_mode = false;
    bool count_include_pad = true;
};

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
