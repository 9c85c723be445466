// nn::graph_source: an eager module tree as the graph face's type (katachi/eager/graph_source.hpp).
//
// The tree is walked in forward order with a batch-1 shape: every supported layer becomes one graph
// node named by its eager path, so the graph face's state-dict keys are the eager keys. The eager
// modules' own output_shape carries the shape along, and the graph face's shape rules that differ
// from the eager ones (linear takes a flat input) are checked here, naming the module.
#include "katachi/eager/graph_source.hpp"

#include "graph_source_layers.hpp"

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

using detail::fail;
using detail::is;
using detail::is_layer;
using detail::katachi_layer;
using detail::layer_text;
using detail::number;
using detail::where;
const std::string& ns = detail::graph_ns;

std::string join(const std::string& path, const std::string& name) {
    return path.empty() ? name : path + "." + name;
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
       << "#pragma once\n\n#include <katachi/graph.hpp>\n#include <katachi/graph/state_dict.hpp>\n\n";
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
