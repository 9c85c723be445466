// nn::graph_source: an eager module tree as the graph face's type (katachi/eager/graph_source.hpp).
//
// The tree is walked in forward order with a batch-1 shape: every supported layer becomes one graph
// node named by its eager path, so the graph face's state-dict keys are the eager keys. The eager
// modules' own output_shape carries the shape along, and the graph face's shape rules that differ
// from the eager ones (linear takes a flat input) are checked here, naming the module.
#include "katachi/eager/graph_source.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <typeinfo>

#include "katachi/eager/functional/arithmetic.hpp"
#include "katachi/eager/modules/activation.hpp"
#include "katachi/eager/modules/batch_norm.hpp"
#include "katachi/eager/modules/container.hpp"
#include "katachi/eager/modules/conv.hpp"
#include "katachi/eager/modules/layer_norm.hpp"
#include "katachi/eager/modules/lazy.hpp"
#include "katachi/eager/modules/linear.hpp"
#include "katachi/eager/modules/pooling.hpp"

namespace katachi::eager::nn {

bool graph_translation::keys_identical() const {
    for (const graph_key& k : keys)
        if (k.eager != k.graph) return false;
    return true;
}

namespace {

const std::string ns = "katachi::graph::";

// Exactly one of the types T (a subclass could override forward, so it is a custom module).
template <class... T>
bool is(const module& m) {
    return ((typeid(m) == typeid(T)) || ...);
}
template <class C>
bool is_layer(const module& m) {
    return is<C, lazy<C>>(m);
}

std::string join(const std::string& path, const std::string& name) {
    return path.empty() ? name : path + "." + name;
}

std::string where(const std::string& path, const module& m) {
    return (path.empty() ? std::string("the root module") : "\"" + path + "\"") + " (" + m.type_name() + ")";
}

[[noreturn]] void fail(const std::string& path, const module& m, const std::string& why) {
    throw graph_source_error(path, "graph_source: " + where(path, m) + " " + why);
}

std::string number(double v) {
    std::ostringstream os;
    os << v;
    return os.str();
}

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

std::string pair(size2 v) {
    return "{" + std::to_string(v.h) + ", " + std::to_string(v.w) + "}";
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

// The graph face's spelling of a leaf layer at input shape `in` (batch first), or why there is none.
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
        if (o.eps == d.eps && o.momentum == d.momentum && o.affine && o.track_running_stats) return ns + kind;
        // Other options: the general form, layer<op, options> (katachi/graph/layers/op_layer.hpp).
        std::vector<std::string> fields;
        if (!(o.eps == d.eps)) fields.push_back(".eps = " + exact(o.eps.value()));
        if (!o.momentum.has_value())
            fields.push_back(".momentum = std::nullopt");
        else if (!(o.momentum == d.momentum))
            fields.push_back(".momentum = " + exact(o.momentum.value()));
        if (!o.affine) fields.push_back(".affine = false");
        if (!o.track_running_stats) fields.push_back(".track_running_stats = false");
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

// katachi's own layers (a user's subclass of one is a custom module: its forward may differ).
bool katachi_layer(const module& m) {
    return is_layer<linear>(m) || is<lazy_linear>(m) || is_layer<conv1d>(m) || is<lazy_conv1d>(m) ||
           is_layer<conv2d>(m) || is<lazy_conv2d>(m) || is_layer<conv_transpose2d>(m) ||
           is<lazy_conv_transpose2d>(m) || is_layer<batch_norm1d>(m) || is<lazy_batch_norm1d>(m) ||
           is_layer<batch_norm2d>(m) || is<lazy_batch_norm2d>(m) ||
           is<max_pool2d, avg_pool2d, layer_norm, adaptive_avg_pool2d, flatten, relu, sigmoid, tanh, identity, gelu,
              leaky_relu, dropout, softmax, log_softmax, module_list>(m);
}

// The descendant of m at a dotted path of child names ("paths.0"), or null.
module* find_child(const module& m, const std::string& dotted) {
    const module* at = &m;
    module* found = nullptr;
    for (std::size_t begin = 0; at;) {
        const std::size_t dot = dotted.find('.', begin);
        const std::string part =
            dotted.substr(begin, dot == std::string::npos ? std::string::npos : dot - begin);
        found = nullptr;
        for (const auto& [name, child] : at->named_children())
            if (name == part) found = child.get();
        at = found;
        if (dot == std::string::npos) break;
        begin = dot + 1;
    }
    return found;
}

struct graph_node {
    std::string name, layer;
    std::vector<std::string> from;  // the names of the nodes it consumes
};

class translator {
public:
    translator() { names_.insert("input"); }

    // Adds the nodes of module m (at `path`), whose input is node `in` of shape `shape`; returns the
    // node that holds its output and updates `shape`.
    std::string walk(const module& m, const std::string& path, const std::string& in, sizes& shape) {
        if (is<sequential>(m)) {
            std::string out = in;
            for (const auto& [name, child] : m.named_children())
                out = walk(*child, join(path, name), out, shape);
            return out;
        }
        if (!m.graph_form().empty()) return walk_form(m, path, in, shape);
        if (!katachi_layer(m))
            fail(path, m,
                 "has no graph-face form: its forward is user code (data-dependent branches cannot be "
                 "checked); declare it with graph_form() or build it from katachi's layers");
        if (m.has_uninitialized_params())
            fail(path, m,
                 "is not materialised: its input size is unknown until a forward, "
                 "materialize(input_shape) or load_state_dict");
        if (!m.named_parameters().empty() || !m.named_buffers().empty()) {
            const auto [at, fresh] = placed_.emplace(&m, path);
            if (!fresh)
                fail(path, m,
                     "is the module at \"" + at->second +
                         "\" again; its parameters would be shared, "
                         "which the graph face does not do");
        }
        std::string layer = layer_text(path, m, shape);
        sizes out;
        try {
            out = m.output_shape(shape);
        } catch (const std::exception& e) {
            fail(path, m, std::string("cannot take ") + shape.str() + ": " + e.what());
        }
        shape = out;
        const std::string name = unique(path.empty() ? m.type_name() : path);
        nodes_.push_back({name, std::move(layer), {in}});
        for (const auto& [key, value] : m.state_dict()) keys.push_back({join(path, key), name + "." + key});
        return name;
    }

    std::string type(const sizes& input_shape, bool flat) const {
        std::string input = ns + "input<";
        for (std::size_t i = 0; i < input_shape.size(); ++i)
            input += (i ? ", " : "") + std::to_string(input_shape[i]);
        input += ">";
        std::string out = ns + (flat ? "sequential<" : "dag<") + input;
        std::string previous = "input";
        for (const graph_node& n : nodes_) {
            out += ",\n    ";
            if (flat) {
                out += n.layer;
            } else {
                out += ns + "node<\"" + n.name + "\", " + n.layer;
                if (n.from.size() != 1 || n.from[0] != previous) {
                    out += ", " + ns + "from<";
                    for (std::size_t i = 0; i < n.from.size(); ++i)
                        out += (i ? ", \"" : "\"") + n.from[i] + "\"";
                    out += ">";
                }
                out += ">";
            }
            previous = n.name;
        }
        return out + ">";
    }

    const std::vector<graph_node>& nodes() const { return nodes_; }
    std::vector<graph_key> keys;

private:
    std::string unique(const std::string& base) {
        std::string name = base;
        for (int k = 1; names_.contains(name); ++k) name = base + "_" + std::to_string(k);
        names_.insert(name);
        return name;
    }

    // A custom module's declared DAG over its children.
    std::string walk_form(const module& m, const std::string& path, const std::string& in, sizes& shape) {
        struct value {
            std::string node;
            sizes shape;
        };
        std::map<std::string, value> steps{{"input", {in, shape}}};
        const std::size_t first_key = keys.size();
        std::string previous = "input";
        for (const graph_step& s : m.graph_form()) {
            const std::string step = s.name.empty() ? s.op : s.name;
            std::vector<value> args;
            for (const std::string& f : s.from.empty() ? std::vector<std::string>{previous} : s.from) {
                const auto it = steps.find(f);
                if (it == steps.end())
                    fail(path, m,
                         "has a graph_form() whose step \"" + step + "\" consumes \"" + f +
                             "\", which is neither \"input\" nor an earlier step");
                args.push_back(it->second);
            }
            if (steps.contains(step))
                fail(path, m, "has a graph_form() with two steps named \"" + step + "\"");
            if (s.op == "add" || s.op == "concat") {
                if (args.size() != 2)
                    fail(path, m,
                         "has a graph_form() whose " + s.op + " \"" + step + "\" takes " +
                             std::to_string(args.size()) + " inputs; it takes two");
                sizes out = args[0].shape;
                const bool same_rest = [&] {
                    if (args[0].shape.size() != args[1].shape.size() || args[0].shape.size() < 2)
                        return false;
                    for (std::size_t d = 0; d < args[0].shape.size(); ++d)
                        if (d != 1 && args[0].shape[d] != args[1].shape[d]) return false;
                    return true;
                }();
                if (s.op == "add" ? !(args[0].shape == args[1].shape) : !same_rest)
                    fail(path, m,
                         "has a graph_form() whose " + s.op + " \"" + step + "\" gets " +
                             args[0].shape.str() + " and " + args[1].shape.str() +
                             (s.op == "add" ? "; add takes inputs of one shape"
                                            : "; concat joins channels of one spatial size"));
                if (s.op == "concat") out[1] += args[1].shape[1];
                const std::string name = unique(join(path, step));
                nodes_.push_back({name, ns + s.op, {args[0].node, args[1].node}});
                steps[step] = {name, out};
            } else {
                const module* child = find_child(m, s.op);
                if (!child)
                    fail(path, m,
                         "has a graph_form() whose step \"" + step + "\" names \"" + s.op +
                             "\", which is neither a child nor add or concat");
                if (args.size() != 1)
                    fail(path, m,
                         "has a graph_form() whose step \"" + step + "\" gives " +
                             std::to_string(args.size()) + " inputs to a module, which takes one");
                sizes child_shape = args[0].shape;
                const std::string out = walk(*child, join(path, s.op), args[0].node, child_shape);
                steps[step] = {out, child_shape};
            }
            previous = step;
        }
        std::set<std::string> placed;
        for (std::size_t k = first_key; k < keys.size(); ++k) placed.insert(keys[k].eager);
        for (const auto& named : {m.named_parameters(), m.named_buffers()})
            for (const auto& [key, t] : named)
                if (!placed.contains(join(path, key)))
                    fail(path, m,
                         "has a graph_form() that leaves out \"" + key + "\", which its state dict holds");
        shape = steps[previous].shape;
        return steps[previous].node;
    }

    std::vector<graph_node> nodes_;
    std::set<std::string> names_;
    std::map<const module*, std::string> placed_;  // modules with parameters, where they were placed
};

std::string identifier_check(const std::string& name) {
    bool ok = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
    for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!ok) throw std::invalid_argument("graph_source: the name \"" + name + "\" is not a C++ identifier");
    return name;
}

}  // namespace

graph_translation graph_translate(const module& model, const sizes& input_shape) {
    if (input_shape.empty())
        throw std::invalid_argument(
            "graph_source: the input shape is per sample and has at least one dimension");
    translator t;
    sizes shape;
    shape.push_back(1);
    for (std::size_t d : input_shape) shape.push_back(d);
    t.walk(model, "", "input", shape);
    if (t.nodes().empty())
        throw graph_source_error(
            "", "graph_source: " + where("", model) + " has no layer for the graph face to run");
    // A sequential of layers (nothing nested, no names of its own) is a graph::sequential.
    bool flat = is<sequential>(model);
    std::size_t i = 0;
    for (const auto& [name, child] : model.named_children())
        flat = flat && i < t.nodes().size() && t.nodes()[i++].name == name;
    flat = flat && i == t.nodes().size();
    graph_translation out{t.type(input_shape, flat), t.keys, {}};
    out.output_shape = sizes(shape.begin() + 1, shape.end());
    return out;
}

std::string graph_source(const module& model, const sizes& input_shape, const graph_source_options& options) {
    const std::string name = identifier_check(options.name);
    if (!options.name_space.empty()) identifier_check(options.name_space);
    const graph_translation t = graph_translate(model, input_shape);
    std::ostringstream os;
    os << "// " << name << ": the graph face's form of an eager " << model.type_name()
       << ", written by katachi::eager::nn::graph_source.\n"
       << "// Input per sample " << input_shape.str() << ", output per sample " << t.output_shape.str()
       << ".\n"
       << "#pragma once\n\n#include <katachi/graph.hpp>\n\n";
    if (!options.name_space.empty()) os << "namespace " << options.name_space << " {\n\n";
    os << "using " << name << " = " << t.type << ";\n\n";
    if (t.keys_identical())
        os << "// State-dict keys: the same in both faces (each eager key is the graph key), so the eager\n"
           << "// checkpoint loads as it is: katachi::graph::load(m, \"checkpoint.safetensors\").\n";
    else
        os << "// State-dict keys: some differ between the faces; " << name
           << "_graph_state renames an eager\n"
           << "// state dict's keys to the graph face's (then katachi::graph::load_state_dict).\n";
    os << "inline constexpr bool " << name << "_keys_identical = " << (t.keys_identical() ? "true" : "false")
       << ";\n// {eager key, graph key}\ninline constexpr const char* " << name << "_state_dict_keys[][" << 2
       << "] = {";
    for (const graph_key& k : t.keys) os << "\n    {\"" << k.eager << "\", \"" << k.graph << "\"},";
    os << "\n};\n";
    if (!t.keys_identical()) {
        os << "\ninline katachi::io::tensor_map " << name
           << "_graph_state(const katachi::io::tensor_map& eager) {\n"
           << "    katachi::io::tensor_map out;\n"
           << "    for (const auto& [from, to] : " << name << "_state_dict_keys)\n"
           << "        if (const auto it = eager.find(from); it != eager.end()) out[to] = it->second;\n"
           << "    return out;\n}\n";
    }
    if (!options.name_space.empty()) os << "\n}  // namespace " << options.name_space << "\n";
    return os.str();
}

void check_graph_form(module& m, const tensor& x, double tolerance) {
    const std::vector<graph_step> form = m.graph_form();
    if (form.empty()) fail("", m, "declares no graph_form() to check");
    no_grad guard;
    const bool training = m.is_training();
    m.eval();  // batch norm's running statistics, no dropout: both runs see the same function
    struct restore {
        module& m;
        bool training;
        ~restore() { m.train(training); }
    } restore_mode{m, training};
    std::map<std::string, tensor> steps{{"input", x}};
    std::string previous = "input";
    for (const graph_step& s : form) {
        const std::string step = s.name.empty() ? s.op : s.name;
        std::vector<tensor> args;
        for (const std::string& f : s.from.empty() ? std::vector<std::string>{previous} : s.from) {
            const auto it = steps.find(f);
            if (it == steps.end())
                fail("", m,
                     "has a graph_form() whose step \"" + step + "\" consumes \"" + f +
                         "\", which is neither \"input\" nor an earlier step");
            args.push_back(it->second);
        }
        if (s.op == "add" && args.size() == 2) {
            steps[step] = args[0] + args[1];
        } else if (module* child = find_child(m, s.op); child && args.size() == 1) {
            steps[step] = child->forward(args[0]);
        } else {
            fail("", m,
                 "has a graph_form() step \"" + step + "\" (" + s.op +
                     ") that the eager face cannot evaluate to check it");
        }
        previous = step;
    }
    const tensor expected = m.forward(x);
    const tensor& got = steps.at(previous);
    if (!(got.shape() == expected.shape()))
        fail("", m,
             "has a graph_form() whose output has shape " + got.shape().str() + ", its forward " +
                 expected.shape().str());
    const std::vector<float> a = got.contiguous().to_vector(), b = expected.contiguous().to_vector();
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - double(b[i])));
    if (!(worst <= tolerance))
        fail("", m,
             "has a graph_form() that differs from its forward by " + number(worst) + " (more than " +
                 number(tolerance) + ") on this input");
}

}  // namespace katachi::eager::nn
