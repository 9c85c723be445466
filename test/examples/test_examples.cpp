// Suite `examples`: the README shows the program that is built and run here, and says what it
// prints; the main demo learns.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

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

// The text with each line's leading spaces removed, between newlines.
std::string unindented(const std::string& text) {
    std::string out = "\n";
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) out += line.substr(std::min(line.find_first_not_of(' '), line.size())) + "\n";
    return out;
}

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

// Each ```cpp block of README.md and of the hand-written guides in docs/ follows a marker that names
// the source it shows: `<!-- file: examples/x.cpp -->` (the block is the whole file),
// `<!-- excerpt: examples/x.cpp -->` (the block is a run of its lines), or `<!-- checked-by: T -->`
// (test T compares the block with its source). A named source must be one a meson.build compiles; a
// named test must be one a meson.build declares.
TEST_CASE("every C++ block of the README and the guides is a source the build compiles", "[examples][readme]") {
    std::vector<std::string> documents{"README.md"};
    for (const auto& entry : std::filesystem::directory_iterator(source_dir + "/docs"))
        if (entry.path().extension() == ".md") documents.push_back("docs/" + entry.path().filename().string());
    std::string builds;
    for (const char* top : {"/examples", "/test", "/bench", "/tools"})
        for (const auto& entry : std::filesystem::recursive_directory_iterator(source_dir + top))
            if (entry.path().filename() == "meson.build") builds += read_file(entry.path().string());
    builds += read_file(source_dir + "/meson.build");
    std::size_t blocks = 0;
    for (const std::string& doc : documents) {
        const std::string text = read_file(source_dir + "/" + doc);
        const std::regex block("(<!-- (file|excerpt|checked-by): ([^ ]+) -->\\n)?```cpp\\n([\\s\\S]*?)```");
        for (auto it = std::sregex_iterator(text.begin(), text.end(), block); it != std::sregex_iterator(); ++it) {
            const std::smatch& m = *it;
            ++blocks;
            INFO(doc << ", the C++ block at offset " << m.position(0));
            REQUIRE(m[1].matched);  // a marker names its source
            const std::string kind = m[2].str(), name = m[3].str(), code = m[4].str();
            if (kind == "checked-by") {
                CHECK(builds.find("test('" + name + "'") != std::string::npos);
                continue;
            }
            const std::string source = read_file(source_dir + "/" + name);
            if (kind == "file")
                CHECK(code == source);
            else  // a run of the source's lines, indented as the document likes
                CHECK(unindented(source).find(unindented(code)) != std::string::npos);
            CHECK(builds.find(std::filesystem::path(name).filename().string()) != std::string::npos);
        }
    }
    CHECK(blocks >= 8);
}

TEST_CASE("the README's LeNet programs learn Fashion-MNIST in each face", "[examples][readme]") {
    for (const char* exe : {KATACHI_LENET_GRAPH_EXE, KATACHI_LENET_EAGER_EXE}) {
        const std::string out = run(std::string(exe) + " 2000");
        std::smatch m;
        REQUIRE(std::regex_search(out, m, std::regex("^test accuracy (0\\.[0-9]{4})\n$")));
        CHECK(std::stod(m[1].str()) >= 0.6);  // one epoch of 2,000 images, far above chance
    }
}

TEST_CASE("the Fashion-MNIST demo reaches 80% test accuracy after one epoch", "[examples][demo]") {
    const std::string out = run(std::string(KATACHI_MLP_EXE) + " 1");
    std::smatch m;
    REQUIRE(std::regex_search(
        out, m, std::regex("epoch 1: mean loss ([0-9.]+), [0-9.]+ s, test accuracy ([0-9.]+)")));
    CHECK(std::stod(m[1].str()) < 0.8);
    CHECK(std::stod(m[2].str()) >= 0.80);
}
