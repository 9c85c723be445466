// libFuzzer harness: a safetensors file loaded as a state dict into the same small network in both
// faces: a graph model, eager modules, and eager lazy modules that the load materialises. A load
// either succeeds, leaving the file's values in the model, or throws an exception derived from
// std::exception and leaves the model exactly as it was (values, running statistics, the lazy
// modules unmaterialised). The first byte's lowest bit chooses strict or non-strict loading.
#include <katachi/eager.hpp>
#include <katachi/graph.hpp>
#include <katachi/graph/state_dict.hpp>
#include <katachi/io/safetensors.hpp>
#include <map>
#include <string>
#include <vector>

#include "fuzz_support.hpp"

namespace io = katachi::io;
namespace g = katachi::graph;
namespace nn = katachi::eager::nn;
using katachi::fuzz::violated;

namespace {

// The network: conv2d(1 -> 2, 3x3) on 6x6, batch norm, relu, flatten, linear(32 -> 3).
using net = g::sequential<g::input<1, 6, 6>, g::conv2d<2, 3>, g::batch_norm2d, g::relu, g::flatten, g::linear<3>>;

std::shared_ptr<nn::sequential> eager_net() {
    return std::make_shared<nn::sequential>(nn::conv2d({.in_channels = 1, .out_channels = 2, .kernel_size = 3}),
                                            nn::batch_norm2d({.num_features = 2}), nn::relu(), nn::flatten(),
                                            nn::linear({32, 3}));
}

std::shared_ptr<nn::sequential> lazy_net() {
    return std::make_shared<nn::sequential>(nn::lazy_conv2d({.out_channels = 2, .kernel_size = 3}),
                                            nn::lazy_batch_norm2d(), nn::relu(), nn::flatten(),
                                            nn::lazy_linear({.out_features = 3}));
}

// A state dict as comparable bytes.
std::map<std::string, std::vector<std::byte>> bytes_of(const io::tensor_map& state) {
    std::map<std::string, std::vector<std::byte>> out;
    for (const auto& [key, t] : state) out.emplace(key, t.bytes);
    return out;
}

// After a successful load, each of the model's entries that the file holds has the file's value.
void require_loaded(const io::tensor_map& model, const io::tensor_map& file, const char* face) {
    for (const auto& [key, t] : model) {
        const auto it = file.find(key);
        if (it == file.end()) continue;
        bool same = false;
        if (t.type == io::dtype::i64) {
            same = it->second.as<std::int64_t>() == t.as<std::int64_t>();
        } else {
            // A float64 file loads into float32 parameters rounded, as a cast does.
            const auto expected = it->second.type == io::dtype::f64 ? xt::xarray<float>(xt::cast<float>(it->second.as<double>()))
                                                                    : it->second.as<float>();
            const auto got = t.as<float>();
            same = expected.shape() == got.shape() &&
                   std::equal(expected.begin(), expected.end(), got.begin(), [](float a, float b) {
                       return a == b || (a != a && b != b);  // NaN loads as NaN
                   });
        }
        if (!same) {
            std::fprintf(stderr, "%s face, key %s\n", face, key.c_str());
            violated("a successful load did not leave the file's value in the model");
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const bool strict = (data[0] & 1) == 0;
    io::safetensors_file file;
    try {
        file = io::parse_safetensors({reinterpret_cast<const std::byte*>(data + 1), size - 1}, "fuzz");
    } catch (const io::safetensors_error&) {
        return 0;
    }

    {  // graph face
        g::model<net> m(1);
        const auto before = bytes_of(g::state_dict(m));
        bool loaded = false;
        try {
            g::load_state_dict(m, file.tensors, strict);
            loaded = true;
        } catch (const std::exception&) {
            if (bytes_of(g::state_dict(m)) != before) violated("a failed graph load changed the model");
        }
        if (loaded) require_loaded(g::state_dict(m), file.tensors, "graph");
    }
    {  // eager face, plain modules
        const auto m = eager_net();
        const auto before = bytes_of(m->state_dict());
        bool loaded = false;
        try {
            m->load_state_dict(file.tensors, strict);
            loaded = true;
        } catch (const std::exception&) {
            if (bytes_of(m->state_dict()) != before) violated("a failed eager load changed the model");
        }
        if (loaded) require_loaded(m->state_dict(), file.tensors, "eager");
    }
    {  // eager face, lazy modules
        const auto m = lazy_net();
        katachi::eager::manual_seed(3);
        bool loaded = false;
        try {
            m->load_state_dict(file.tensors, strict);
            loaded = true;
        } catch (const std::exception&) {
            if (!m->has_uninitialized_params() || m->at<nn::lazy_conv2d>(0).type_name() != "lazy_conv2d")
                violated("a failed load materialised a lazy module");
            const auto drawn = katachi::eager::default_generator()();
            katachi::eager::manual_seed(3);
            if (drawn != katachi::eager::default_generator()())
                violated("a failed load consumed the default generator's draws");
        }
        if (loaded && strict && m->has_uninitialized_params())
            violated("a strict load left lazy parameters uninitialized");
        if (loaded && !m->has_uninitialized_params()) require_loaded(m->state_dict(), file.tensors, "lazy eager");
    }
    return 0;
}
