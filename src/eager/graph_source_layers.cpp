// nn::graph_source's layer spellings: each of katachi's layers as the graph face writes it, in
// its short form (conv2d<32, 3, padding<1>>) or, for options without one, the general form
// layer<ops::op, ops::op_options{...}>.
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <optional>
#include <sstream>
#include <vector>

#include "graph_source_layers.hpp"
#include "katachi/eager/modules/activation.hpp"
#include "katachi/eager/modules/batch_norm.hpp"
#include "katachi/eager/modules/container.hpp"
#include "katachi/eager/modules/conv.hpp"
#include "katachi/eager/modules/layer_norm.hpp"
#include "katachi/eager/modules/linear.hpp"
#include "katachi/eager/modules/pooling.hpp"

namespace katachi::eager::nn::detail {

namespace {

const std::string& ns = graph_ns;


// p as Num / Den with Den up to a million, when that quotient is p exactly.
std::optional<std::pair<std::uint64_t, std::uint64_t>> ratio(double p) {
    if (!(p >= 0) || !std::isfinite(p)) return std::nullopt;
    for (std::uint64_t den = 1; den <= 1'000'000; ++den) {
        const double num = std::round(p * static_cast<double>(den));
        if (num / static_cast<double>(den) == p) return std::pair{static_cast<std::uint64_t>(num), den};
    }
    return std::nullopt;
}

std::string pair_option(const char* name, size2 v, size2 dflt) {
    if (v == dflt) return "";
    return ", " + ns + name + "<" + std::to_string(v.h) + (v.w == v.h ? "" : ", " + std::to_string(v.w)) +
           ">";
}
std::string one_option(const char* name, std::size_t v, std::size_t dflt) {
    return v == dflt ? "" : ", " + ns + name + "<" + std::to_string(v) + ">";
}
std::string bias_option(bool bias) {
    return bias ? "" : ", " + ns + "bias<false>";
}

// A double written so that reading it back gives the same double.
std::string exact(double v) {
    std::ostringstream os;
    os << std::setprecision(17) << v;
    return os.str();
}

// Built with a stream: g++ 12 warns (-Wrestrict, falsely) on this chain of string + at -O3.
std::string pair(size2 v) {
    std::ostringstream os;
    os << '{' << v.h << ", " << v.w << '}';
    return os.str();
}

// The general form of a layer: katachi::graph::layer<katachi::ops::op, katachi::ops::options{...}>.
std::string general(const std::string& options, const std::string& op, const std::vector<std::string>& fields) {
    std::string text = ns + "layer<katachi::ops::" + op + ", katachi::ops::" + options + "{";
    for (std::size_t i = 0; i < fields.size(); ++i) text += (i ? ", " : "") + fields[i];
    return text + "}>";
}

std::size_t square(const std::string& path, const module& m, const char* what, size2 k) {
    if (k.h != k.w)
        fail(path, m,
             std::string("has ") + what + " (" + std::to_string(k.h) + ", " + std::to_string(k.w) +
                 "); the graph face's " + m.type_name() + " takes one square " + what);
    return k.h;
}

}  // namespace

std::string layer_text(const std::string& path, const module& m, const sizes& in) {
    if (is_layer<linear>(m) || is<lazy_linear>(m)) {
        const auto& o = dynamic_cast<const linear&>(m).options;
        if (in.size() != 2)
            fail(path, m,
                 "gets " + in.str() +
                     "; the graph face's linear takes a flat input (add a flatten before it)");
        return ns + "linear<" + std::to_string(o.out_features) + bias_option(o.bias) + ">";
    }
    if (is_layer<conv2d>(m) || is<lazy_conv2d>(m)) {
        const auto& o = dynamic_cast<const conv2d&>(m).options;
        if (o.kernel_size.h != o.kernel_size.w)
            return general("conv2d_options", "conv2d",
                           {".out_channels = " + std::to_string(o.out_channels),
                            ".kernel_size = " + pair(o.kernel_size), ".stride = " + pair(o.stride),
                            ".padding = " + pair(o.padding), ".dilation = " + pair(o.dilation),
                            ".groups = " + std::to_string(o.groups),
                            std::string(".bias = ") + (o.bias ? "true" : "false")});
        return ns + "conv2d<" + std::to_string(o.out_channels) + ", " +
               std::to_string(square(path, m, "kernel_size", o.kernel_size)) +
               pair_option("stride", o.stride, 1) + pair_option("padding", o.padding, 0) +
               pair_option("dilation", o.dilation, 1) + one_option("groups", o.groups, 1) +
               bias_option(o.bias) + ">";
    }
    if (is_layer<conv1d>(m) || is<lazy_conv1d>(m)) {
        const auto& o = dynamic_cast<const conv1d&>(m).options;
        return ns + "conv1d<" + std::to_string(o.out_channels) + ", " + std::to_string(o.kernel_size) +
               one_option("stride", o.stride, 1) + one_option("padding", o.padding, 0) +
               one_option("dilation", o.dilation, 1) + one_option("groups", o.groups, 1) +
               bias_option(o.bias) + ">";
    }
    if (is_layer<conv_transpose2d>(m) || is<lazy_conv_transpose2d>(m)) {
        const auto& o = dynamic_cast<const conv_transpose2d&>(m).options;
        return ns + "conv_transpose2d<" + std::to_string(o.out_channels) + ", " +
               std::to_string(square(path, m, "kernel_size", o.kernel_size)) +
               pair_option("stride", o.stride, 1) + pair_option("padding", o.padding, 0) +
               pair_option("output_padding", o.output_padding, 0) + pair_option("dilation", o.dilation, 1) +
               one_option("groups", o.groups, 1) + bias_option(o.bias) + ">";
    }
    const bool bn1 = is_layer<batch_norm1d>(m) || is<lazy_batch_norm1d>(m);
    if (bn1 || is_layer<batch_norm2d>(m) || is<lazy_batch_norm2d>(m)) {
        const auto& o = dynamic_cast<const batch_norm_base&>(m).options;
        const std::string kind = bn1 ? "batch_norm1d" : "batch_norm2d";
        const batch_norm_options d;
        if (o.eps == d.eps && o.momentum == d.momentum && o.affine && o.track_running_stats)
            return ns + (o.sync ? "sync_" : "") + kind;
        // Other options: the general form, layer<op, options> (katachi/graph/layers/op_layer.hpp).
        std::vector<std::string> fields;
        if (!(o.eps == d.eps)) fields.push_back(".eps = " + exact(o.eps.value()));
        if (!o.momentum.has_value())
            fields.push_back(".momentum = std::nullopt");
        else if (!(o.momentum == d.momentum))
            fields.push_back(".momentum = " + exact(o.momentum.value()));
        if (!o.affine) fields.push_back(".affine = false");
        if (!o.track_running_stats) fields.push_back(".track_running_stats = false");
        if (o.sync) fields.push_back(".sync = true");
        return general("batch_norm_options", kind, fields);
    }
    if (is<max_pool2d>(m)) {
        const auto& o = dynamic_cast<const max_pool2d&>(m).options;
        const size2 stride = o.stride == size2(0) ? o.kernel_size : o.stride;
        if (o.kernel_size.h != o.kernel_size.w)
            return general("max_pool2d_options", "max_pool2d",
                           {".kernel_size = " + pair(o.kernel_size), ".stride = " + pair(stride),
                            ".padding = " + pair(o.padding), ".dilation = " + pair(o.dilation),
                            std::string(".ceil_mode = ") + (o.ceil_mode ? "true" : "false")});
        const std::size_t k = o.kernel_size.h;
        return ns + "max_pool2d<" + std::to_string(k) + pair_option("stride", stride, k) +
               pair_option("padding", o.padding, 0) + pair_option("dilation", o.dilation, 1) +
               (o.ceil_mode ? ", " + ns + "ceil_mode<true>" : "") + ">";
    }
    if (is<avg_pool2d>(m)) {
        const auto& o = dynamic_cast<const avg_pool2d&>(m).options;
        const size2 stride = o.stride == size2(0) ? o.kernel_size : o.stride;
        if (o.kernel_size.h != o.kernel_size.w)
            return general("avg_pool2d_options", "avg_pool2d",
                           {".kernel_size = " + pair(o.kernel_size), ".stride = " + pair(stride),
                            ".padding = " + pair(o.padding),
                            std::string(".ceil_mode = ") + (o.ceil_mode ? "true" : "false"),
                            std::string(".count_include_pad = ") + (o.count_include_pad ? "true" : "false"),
                            ".divisor_override = " + std::to_string(o.divisor_override)});
        const std::size_t k = o.kernel_size.h;
        return ns + "avg_pool2d<" + std::to_string(k) + pair_option("stride", stride, k) +
               pair_option("padding", o.padding, 0) + (o.ceil_mode ? ", " + ns + "ceil_mode<true>" : "") +
               (o.count_include_pad ? "" : ", " + ns + "count_include_pad<false>") +
               one_option("divisor_override", o.divisor_override, 0) + ">";
    }
    if (is<layer_norm>(m)) {
        const auto& o = dynamic_cast<const layer_norm&>(m).options;
        std::string sizes_text;
        for (std::size_t i = 0; i < o.normalized_shape.rank; ++i)
            sizes_text += (i ? ", " : "") + std::to_string(o.normalized_shape.d[i]);
        if (o.eps == ops::real(1e-5) && o.elementwise_affine) return ns + "layer_norm<" + sizes_text + ">";
        std::vector<std::string> fields{".normalized_shape = {" + sizes_text + "}"};
        if (!(o.eps == ops::real(1e-5))) fields.push_back(".eps = " + exact(o.eps.value()));
        if (!o.elementwise_affine) fields.push_back(".elementwise_affine = false");
        return general("layer_norm_options", "layer_norm", fields);
    }
    if (is<adaptive_avg_pool2d>(m)) {
        const size2 s = dynamic_cast<const adaptive_avg_pool2d&>(m).output_size;
        return ns + "adaptive_avg_pool2d<" + std::to_string(s.h) +
               (s.w == s.h ? "" : ", " + std::to_string(s.w)) + ">";
    }
    if (is<flatten>(m)) {
        const auto& f = dynamic_cast<const flatten&>(m);
        const auto rank = static_cast<std::ptrdiff_t>(in.size());
        const std::ptrdiff_t start = f.start_dim < 0 ? f.start_dim + rank : f.start_dim;
        const std::ptrdiff_t end = f.end_dim < 0 ? f.end_dim + rank : f.end_dim;
        if (start != 1 || end != rank - 1)
            fail(path, m,
                 "has " + f.extra_repr() + " on " + in.str() +
                     "; the graph face's flatten keeps the batch dimension and merges all the others");
        return ns + "flatten";
    }
    if (is<relu>(m)) return ns + "relu";
    if (is<sigmoid>(m)) return ns + "sigmoid";
    if (is<tanh>(m)) return ns + "tanh";
    if (is<identity>(m)) return ns + "identity";
    if (is<gelu>(m))
        return ns +
               (dynamic_cast<const gelu&>(m).approximate == gelu_approximate::none ? "gelu" : "gelu_tanh");
    if (is<leaky_relu>(m) || is<dropout>(m)) {
        const bool leaky = is<leaky_relu>(m);
        const double v =
            leaky ? dynamic_cast<const leaky_relu&>(m).negative_slope : dynamic_cast<const dropout&>(m).p;
        const auto r = ratio(v);
        if (!r)
            fail(path, m,
                 std::string("has ") + (leaky ? "negative_slope=" : "p=") + number(v) +
                     ", which is no fraction with a denominator up to 1000000, as the graph face spells it");
        return ns + (leaky ? "leaky_relu<" : "dropout<") + std::to_string(r->first) + ", " +
               std::to_string(r->second) + ">";
    }
    if (is<softmax>(m) || is<log_softmax>(m))
        fail(path, m,
             "has no graph-face layer: the graph face's models end in logits (its losses apply "
             "the softmax); leave it out of the model");
    if (is<module_list>(m))
        fail(path, m, "has no forward of its own; a custom module's graph_form() can use its items");
    fail(path, m, "has no graph-face layer");
}

bool katachi_layer(const module& m) {
    return is_layer<linear>(m) || is<lazy_linear>(m) || is_layer<conv1d>(m) || is<lazy_conv1d>(m) ||
           is_layer<conv2d>(m) || is<lazy_conv2d>(m) || is_layer<conv_transpose2d>(m) ||
           is<lazy_conv_transpose2d>(m) || is_layer<batch_norm1d>(m) || is<lazy_batch_norm1d>(m) ||
           is_layer<batch_norm2d>(m) || is<lazy_batch_norm2d>(m) ||
           is<max_pool2d, avg_pool2d, layer_norm, adaptive_avg_pool2d, flatten, relu, sigmoid, tanh, identity, gelu,
              leaky_relu, dropout, softmax, log_softmax, module_list>(m);
}

}  // namespace katachi::eager::nn::detail
