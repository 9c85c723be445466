// Graphviz DOT of the recorded tape (katachi/eager/dot.hpp).
#include "katachi/eager/dot.hpp"

#include <algorithm>
#include <map>
#include <sstream>
#include <vector>

#include "katachi/eager/autograd.hpp"
#include "katachi/eager/modules/module.hpp"

namespace katachi::eager {

namespace {

// A DOT string's content: quotes and backslashes escaped.
std::string escaped(const std::string& s) {
    std::string out;
    for (const char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

std::string shape_text(const sizes& shape) {
    std::ostringstream s;
    s << '[';
    for (std::size_t d = 0; d < shape.size(); ++d) s << (d ? ", " : "") << shape[d];
    s << ']';
    return s.str();
}

class tape_writer {
public:
    explicit tape_writer(const nn::module* model) {
        if (!model) return;
        for (const auto& [name, t] : model->named_parameters()) parameters_[t.impl()] = name;
        std::vector<const nn::module*> seen;
        name_modules(*model, "", seen);
    }

    std::string write(const tensor& root) {
        out_ << "digraph tape {\n  rankdir=TB;\n  node [shape=box];\n";
        if (root.defined() && root.grad_fn()) visit(root.grad_fn().get());
        out_ << "}\n";
        return out_.str();
    }

private:
    void name_modules(const nn::module& m, const std::string& path, std::vector<const nn::module*>& seen) {
        if (std::find(seen.begin(), seen.end(), &m) != seen.end()) return;
        seen.push_back(&m);
        modules_[&m] = path;
        for (const auto& [name, child] : m.named_children())
            name_modules(*child, path.empty() ? name : path + '.' + name, seen);
    }

    std::string leaf_id(const tensor_impl<float>* leaf) {
        if (const auto it = leaves_.find(leaf); it != leaves_.end()) return it->second;
        // Built with a stream: g++ 12 warns (-Wrestrict, falsely) on "literal" + std::string.
        std::ostringstream id, label;
        if (const auto it = parameters_.find(leaf); it != parameters_.end()) {
            id << '"' << escaped(it->second) << '"';
            label << escaped(it->second) << "\\n";
        } else {
            id << "leaf" << unnamed_++;
        }
        label << shape_text(leaf->shape);
        out_ << "  " << id.str() << " [shape=ellipse, label=\"" << label.str() << "\"];\n";
        return leaves_[leaf] = id.str();
    }

    std::string visit(const node<float>* n) {
        if (const auto it = ops_.find(n); it != ops_.end()) return it->second;
        const std::string id = "op" + std::to_string(ops_.size());
        ops_[n] = id;
        out_ << "  " << id << " [label=\"" << escaped(n->name());
        if (const auto it = modules_.find(n->owner()); it != modules_.end() && !it->second.empty())
            out_ << "\\n" << escaped(it->second);
        out_ << "\"];\n";
        for (const auto& e : n->inputs()) {
            if (!e.needed()) continue;
            // The input's node first: drawing it writes lines of its own.
            const std::string from = e.fn ? visit(e.fn.get()) : leaf_id(e.leaf.get());
            out_ << "  " << from << " -> " << id << ";\n";
        }
        return id;
    }

    std::map<const void*, std::string> parameters_;
    std::map<const void*, std::string> modules_;
    std::map<const void*, std::string> leaves_;
    std::map<const node<float>*, std::string> ops_;
    std::size_t unnamed_ = 0;
    std::ostringstream out_;
};

}  // namespace

std::string to_dot(const tensor& root, const nn::module& model) {
    return tape_writer(&model).write(root);
}

std::string to_dot(const tensor& root) {
    return tape_writer(nullptr).write(root);
}

}  // namespace katachi::eager
