// src/eager/graph_source_layers.hpp: what nn::graph_source's two sources share (not installed):
// which modules are katachi's own layers, each one's graph-face spelling, and the error that names
// a module by its path.
#pragma once

#include <sstream>
#include <string>
#include <typeinfo>

#include "katachi/eager/graph_source.hpp"
#include "katachi/eager/modules/lazy.hpp"
#include "katachi/eager/modules/module.hpp"

namespace katachi::eager::nn::detail {

inline const std::string graph_ns = "katachi::graph::";

// Exactly one of the types T (a subclass could override forward, so it is a custom module).
template <class... T>
bool is(const module& m) {
    return ((typeid(m) == typeid(T)) || ...);
}
template <class C>
bool is_layer(const module& m) {
    return is<C, lazy<C>>(m);
}

inline std::string where(const std::string& path, const module& m) {
    return (path.empty() ? std::string("the root module") : "\"" + path + "\"") + " (" + m.type_name() + ")";
}

[[noreturn]] inline void fail(const std::string& path, const module& m, const std::string& why) {
    throw graph_source_error(path, "graph_source: " + where(path, m) + " " + why);
}

inline std::string number(double v) {
    std::ostringstream os;
    os << v;
    return os.str();
}

// The graph face's spelling of a leaf layer at input shape `in` (batch first), or why there is none.
std::string layer_text(const std::string& path, const module& m, const sizes& in);

// katachi's own layers (a user's subclass of one is a custom module: its forward may differ).
bool katachi_layer(const module& m);

}  // namespace katachi::eager::nn::detail
