// Suite `examples`: the README shows the program that is built and run here, and says what it
// prints; the main demo learns.
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string run(const std::string& command) {
    std::string out;
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
    const int status = ::pclose(pipe);
    INFO(command << " printed:\n" << out);
    REQUIRE(status == 0);
    return out;
}

const std::string source_dir = KATACHI_SOURCE_DIR;

}  // namespace

TEST_CASE("the README's first code block is examples/readme.cpp", "[examples][readme]") {
    const std::string readme = read_file(source_dir + "/README.md");
    const std::string open = "```cpp\n";
    const auto begin = readme.find(open);
    REQUIRE(begin != std::string::npos);
    const auto end = readme.find("```", begin + open.size());
    REQUIRE(end != std::string::npos);
    CHECK(readme.substr(begin + open.size(), end - begin - open.size()) ==
          read_file(source_dir + "/examples/readme.cpp"));
}

TEST_CASE("examples/readme.cpp prints what the README says it prints", "[examples][readme]") {
    const std::string readme = read_file(source_dir + "/README.md");
    std::smatch m;
    REQUIRE(std::regex_search(readme, m, std::regex("It prints `([^`]*)`")));
    CHECK(run(KATACHI_README_EXE) == m[1].str() + "\n");
}

TEST_CASE("the Fashion-MNIST demo reaches 80% test accuracy after one epoch", "[examples][demo]") {
    const std::string out = run(std::string(KATACHI_MLP_EXE) + " 1");
    std::smatch m;
    REQUIRE(std::regex_search(
        out, m, std::regex("epoch 1: mean loss ([0-9.]+), [0-9.]+ s, test accuracy ([0-9.]+)")));
    CHECK(std::stod(m[1].str()) < 0.8);
    CHECK(std::stod(m[2].str()) >= 0.80);
}
