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

    // Iterative, so that a tape of any length (an unrolled loop) fits on the stack: ops are
    // numbered in the order a depth-first walk from the root meets them, then every node is
    // written, then every edge.
    std::string write(const tensor& root) {
        out_ << "digraph tape {\n  rankdir=TB;\n  node [shape=box];\n";
        if (root.defined() && root.grad_fn()) {
            walk(root.grad_fn().get());
            for (const node<float>* n : ops_) {
                out_ << "  op" << ids_.at(n) << " [label=\"" << escaped(n->name());
                if (const auto it = modules_.find(n->owner()); it != modules_.end() && !it->second.empty())
                    out_ << "\\n" << escaped(it->second);
                out_ << "\"];\n";
            }
            for (const auto& [leaf, id] : leaf_order_) out_ << "  " << id << " [shape=ellipse, label=\"" << leaf_label(leaf) << "\"];\n";
            for (const node<float>* n : ops_)
                for (const auto& e : n->inputs()) {
                    if (e.fn)
                        out_ << "  op" << ids_.at(e.fn.get()) << " -> op" << ids_.at(n) << ";\n";
                    else if (e.leaf)
                        out_ << "  " << leaves_.at(e.leaf.get()) << " -> op" << ids_.at(n) << ";\n";
                }
        }
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

    void walk(const node<float>* root) {
        const auto meet = [&](const node<float>* n) {
            ids_[n] = ops_.size();
            ops_.push_back(n);
        };
        meet(root);
        std::vector<std::pair<const node<float>*, std::size_t>> stack{{root, 0}};  // node, next input
        while (!stack.empty()) {
            auto& [n, next] = stack.back();
            if (next == n->inputs().size()) {
                stack.pop_back();
                continue;
            }
            const edge<float>& e = n->inputs()[next++];
            if (e.fn && !ids_.contains(e.fn.get())) {
                meet(e.fn.get());
                stack.emplace_back(e.fn.get(), 0);  // invalidates n and next: not used below
            } else if (e.leaf && !leaves_.contains(e.leaf.get())) {
                name_leaf(e.leaf.get());
            }
        }
    }

    // A parameter's id is its quoted path; another leaf's is leaf0, leaf1, ...
    void name_leaf(const tensor_impl<float>* leaf) {
        // Built with a stream: g++ 12 warns (-Wrestrict, falsely) on "literal" + std::string.
        std::ostringstream id;
        if (const auto it = parameters_.find(leaf); it != parameters_.end())
            id << '"' << escaped(it->second) << '"';
        else
            id << "leaf" << unnamed_++;
        leaves_[leaf] = id.str();
        leaf_order_.emplace_back(leaf, id.str());
    }

    std::string leaf_label(const tensor_impl<float>* leaf) const {
        std::ostringstream label;
        if (const auto it = parameters_.find(leaf); it != parameters_.end()) label << escaped(it->second) << "\\n";
        label << shape_text(leaf->shape);
        return label.str();
    }

    std::map<const void*, std::string> parameters_;
    std::map<const void*, std::string> modules_;
    std::map<const void*, std::string> leaves_;  // leaf -> id
    std::vector<std::pair<const tensor_impl<float>*, std::string>> leaf_order_;
    std::map<const node<float>*, std::size_t> ids_;
    std::vector<const node<float>*> ops_;
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
