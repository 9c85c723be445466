// test/graph/pytorch.hpp: helpers that compare a graph model with test/data/models.safetensors.
#pragma once

#include <katachi/graph.hpp>
#include <string>

#include "support/fixtures.hpp"

namespace katachi::test {

inline const io::safetensors_file& models_fixture() {
    static const io::safetensors_file f = load_fixture_file("models.safetensors");
    return f;
}

// The fixture's tensors under `prefix`, with the prefix removed ("lenet.param.0.weight" -> "0.weight").
inline io::tensor_map fixture_state(const std::string& prefix) {
    io::tensor_map out;
    for (const auto& [key, t] : models_fixture().tensors)
        if (key.starts_with(prefix)) out[key.substr(prefix.size())] = t;
    return out;
}

// Every parameter gradient of `m` against "<model>.<key>grad.<name>".
template <class Net, class T>
void require_gradients_match(graph::model<Net, T>& m, const std::string& prefix, double rtol = 1e-4,
                             double atol = 1e-6) {
    for (const auto& p : m.parameters()) {
        INFO("gradient of " << p.name);
        const auto expected = fixture<float>(models_fixture(), prefix + p.name);
        const auto grad = p.grad();
        REQUIRE(grad.size() == expected.size());
        xt::xarray<float> actual = xt::adapt(grad.data(), grad.size(), xt::no_ownership(), expected.shape());
        require_allclose(actual, expected, rtol, atol);
    }
}

}  // namespace katachi::test
