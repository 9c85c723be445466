// IDX: the real Fashion-MNIST files from Debian's dataset-fashion-mnist, and small broken files
// written to a temporary folder, plain and gzip'd.
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <initializer_list>
#include <new>
#include <katachi/data/idx_dataset.hpp>
#include <katachi/io/idx.hpp>
#include <numeric>
#include <string>
#include <vector>

// The tests' allocation counter (malloc and every operator new) sees the largest single request.
#include "support/allocation_counter.hpp"

using namespace katachi::io;
using Catch::Matchers::Contains;

namespace {

using bytes = std::vector<unsigned char>;

struct temp_dir {
    std::filesystem::path path;
    temp_dir() {
        static int counter = 0;
        path = std::filesystem::temp_directory_path() /
               ("katachi_test_idx_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        std::filesystem::create_directories(path);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() { std::filesystem::remove_all(path); }
};

// Magic (two zeros, type code, rank), big-endian dimensions, then `data` as given.
bytes idx_file(unsigned char type_code, std::vector<std::uint32_t> dims, const bytes& data) {
    bytes out{0, 0, type_code, static_cast<unsigned char>(dims.size())};
    for (std::uint32_t d : dims)
        for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<unsigned char>(d >> shift));
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

bytes iota_bytes(std::size_t n) {
    bytes b(n);
    std::iota(b.begin(), b.end(), static_cast<unsigned char>(0));
    return b;
}

void write_plain(const std::filesystem::path& p, const bytes& b) {
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    REQUIRE(out.good());
}

void write_gzip(const std::filesystem::path& p, const bytes& b) {
    gzFile f = gzopen(p.c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(gzwrite(f, b.data(), static_cast<unsigned>(b.size())) == static_cast<int>(b.size()));
    REQUIRE(gzclose(f) == Z_OK);
}

bytes read_plain(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// `b` as one gzip member, written by zlib.
bytes gzip_member(const bytes& b) {
    temp_dir dir;
    write_gzip(dir.path / "member.gz", b);
    return read_plain(dir.path / "member.gz");
}

bytes concat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

// Writes `b` as it is and requires read_idx to refuse it with an error naming the file and every
// one of `words`.
void require_refused(const bytes& b, std::initializer_list<std::string> words) {
    temp_dir dir;
    const auto path = dir.path / "refused-idx1-ubyte.gz";
    write_plain(path, b);
    try {
        (void)read_idx(path);
        FAIL("the file loaded without an error");
    } catch (const idx_error& e) {
        INFO(e.what());
        CHECK(e.file() == path.string());
        CHECK_THAT(e.what(), Contains(path.string()));
        for (const auto& w : words) CHECK_THAT(e.what(), Contains(w));
    }
}

// The four Fashion-MNIST files in `dir`, gzip'd: `n` images of rows x cols and the given labels
// (both test and training sets alike).
void write_fashion(const std::filesystem::path& dir, std::uint32_t n, std::uint32_t rows, std::uint32_t cols,
                   const bytes& labels) {
    const bytes pixels = iota_bytes(std::size_t{n} * rows * cols);
    for (const char* set : {"train", "t10k"}) {
        write_gzip(dir / (std::string(set) + "-images-idx3-ubyte.gz"), idx_file(0x08, {n, rows, cols}, pixels));
        write_gzip(dir / (std::string(set) + "-labels-idx1-ubyte.gz"),
                   idx_file(0x08, {static_cast<std::uint32_t>(labels.size())}, labels));
    }
}

// The whole decompressed content of a gzip'd file, read without katachi.
bytes gunzip(const std::filesystem::path& p) {
    gzFile f = gzopen(p.c_str(), "rb");
    REQUIRE(f != nullptr);
    bytes out;
    std::array<unsigned char, 1 << 16> buf;
    for (int n; (n = gzread(f, buf.data(), buf.size())) > 0;)
        out.insert(out.end(), buf.begin(), buf.begin() + n);
    gzclose(f);
    return out;
}

// Writes `b` (plain or gzip'd), reads it with read_idx, and requires an idx_error naming the file
// and containing every one of `words`.
void require_broken(const bytes& b, bool gzip, std::initializer_list<std::string> words) {
    temp_dir dir;
    const auto path = dir.path / (gzip ? "broken-idx3-ubyte.gz" : "broken-idx3-ubyte");
    gzip ? write_gzip(path, b) : write_plain(path, b);
    try {
        (void)read_idx(path);
        FAIL("the broken file loaded without an error");
    } catch (const idx_error& e) {
        INFO(e.what());
        CHECK(e.file() == path.string());
        CHECK_THAT(e.what(), Contains(path.string()));
        for (const auto& w : words) CHECK_THAT(e.what(), Contains(w));
    }
}

const std::filesystem::path fashion = fashion_mnist_default_dir;

}  // namespace

TEST_CASE("Fashion-MNIST loads 60,000 training and 10,000 test images of 28x28 with balanced labels",
          "[idx]") {
    const auto data = load_fashion_mnist();
    CHECK(data.train_images.shape() == std::array<std::size_t, 4>{60000, 1, 28, 28});
    CHECK(data.test_images.shape() == std::array<std::size_t, 4>{10000, 1, 28, 28});
    REQUIRE(data.train_labels.size() == 60000);
    REQUIRE(data.test_labels.size() == 10000);

    // The first labels as Python's gzip module reads them from the same files.
    const std::array<std::int64_t, 10> first_train{9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
    const std::array<std::int64_t, 10> first_test{9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    for (std::size_t i = 0; i < 10; ++i) {
        CHECK(data.train_labels(i) == first_train[i]);
        CHECK(data.test_labels(i) == first_test[i]);
    }
    // Fashion-MNIST holds 6,000 training and 1,000 test items of each of its 10 classes.
    std::array<std::size_t, 10> train_count{}, test_count{};
    for (std::int64_t l : data.train_labels) {
        REQUIRE((l >= 0 && l <= 9));
        ++train_count[static_cast<std::size_t>(l)];
    }
    for (std::int64_t l : data.test_labels) {
        REQUIRE((l >= 0 && l <= 9));
        ++test_count[static_cast<std::size_t>(l)];
    }
    for (std::size_t c = 0; c < 10; ++c) {
        CHECK(train_count[c] == 6000);
        CHECK(test_count[c] == 1000);
    }
}

TEST_CASE("every training pixel is its byte divided by 255, and the mean pixel matches an independent count",
          "[idx]") {
    const auto images = read_idx_images(fashion / "train-images-idx3-ubyte.gz");
    const bytes raw = gunzip(fashion / "train-images-idx3-ubyte.gz");
    REQUIRE(raw.size() == 16 + images.size());
    std::size_t mismatches = 0;
    std::uint64_t byte_sum = 0;
    double pixel_sum = 0;
    for (std::size_t i = 0; i < images.size(); ++i) {
        const unsigned char b = raw[16 + i];
        byte_sum += b;
        pixel_sum += images.data()[i];
        if (images.data()[i] != static_cast<float>(b) / 255.0f) ++mismatches;
    }
    CHECK(mismatches == 0);
    const double mean = static_cast<double>(byte_sum) / static_cast<double>(images.size()) / 255.0;
    // Each float pixel is b / 255 rounded to float: within 2^-24 relative, so the means agree to 1e-7.
    CHECK(pixel_sum / static_cast<double>(images.size()) == Approx(mean).epsilon(1e-7));
    // The same mean as computed by Python over the file's bytes: sum / count / 255.
    CHECK(mean == Approx(0.2860405969887955).epsilon(1e-15));
    CHECK(images(0, 0, 0, 0) == 0.0f);
}

TEST_CASE("read_idx decodes the labels file as read_idx_labels does", "[idx]") {
    const auto generic = read_idx(fashion / "t10k-labels-idx1-ubyte.gz");
    const auto labels = read_idx_labels(fashion / "t10k-labels-idx1-ubyte.gz");
    CHECK(generic.type_code == 0x08);
    CHECK(generic.shape == std::vector<std::size_t>{10000});
    REQUIRE(generic.values.size() == labels.size());
    for (std::size_t i = 0; i < labels.size(); ++i)
        REQUIRE(generic.values[i] == static_cast<double>(labels(i)));
}

TEST_CASE("every IDX element type is decoded big-endian, from plain and gzip'd files alike", "[idx]") {
    const auto be32 = [](std::uint32_t v) {
        return bytes{static_cast<unsigned char>(v >> 24), static_cast<unsigned char>(v >> 16),
                     static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
    };
    const auto concat = [](std::initializer_list<bytes> parts) {
        bytes out;
        for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
        return out;
    };
    const std::uint64_t third = std::bit_cast<std::uint64_t>(-1.0 / 3.0);
    struct case_t {
        unsigned char type;
        bytes data;
        std::vector<double> values;
    };
    const std::vector<case_t> cases{
        {0x08, {0x00, 0x7F, 0xFF}, {0, 127, 255}},
        {0x09, {0x00, 0x7F, 0xFF}, {0, 127, -1}},
        {0x0B, {0x01, 0x02, 0xFF, 0xFE, 0x80, 0x00}, {258, -2, -32768}},
        {0x0C, concat({be32(0x01020304), be32(0xFFFFFFFF), be32(0x80000000)}), {16909060, -1, -2147483648.0}},
        {0x0D,
         concat({be32(0x3F800000), be32(0xC0490000), be32(0x00000001)}),
         {1.0, -3.140625, static_cast<double>(std::bit_cast<float>(std::uint32_t{1}))}},
        {0x0E,
         concat({be32(static_cast<std::uint32_t>(third >> 32)), be32(static_cast<std::uint32_t>(third)),
                 be32(0x40000000), be32(0), be32(0x80000000), be32(0)}),
         {-1.0 / 3.0, 2.0, -0.0}},
    };
    temp_dir dir;
    for (const auto& c : cases) {
        for (bool gzip : {false, true}) {
            INFO("type " << int(c.type) << (gzip ? " gzip'd" : " plain"));
            // The names say the opposite of the content: detection goes by the gzip magic.
            const auto path = dir.path / (gzip ? "values.idx" : "values.gz");
            const bytes file = idx_file(c.type, {3}, c.data);
            gzip ? write_gzip(path, file) : write_plain(path, file);
            const auto a = read_idx(path);
            CHECK(a.type_code == c.type);
            CHECK(a.shape == std::vector<std::size_t>{3});
            CHECK(a.values == c.values);
        }
    }
}

TEST_CASE("a rank-4 file keeps its four dimensions", "[idx]") {
    temp_dir dir;
    write_plain(dir.path / "r4", idx_file(0x08, {2, 1, 3, 2}, iota_bytes(12)));
    const auto a = read_idx(dir.path / "r4");
    CHECK(a.shape == std::vector<std::size_t>{2, 1, 3, 2});
    CHECK(a.values[11] == 11);
}

TEST_CASE("broken IDX files are refused with the file named and the fault described", "[idx]") {
    SECTION("bad magic") {
        require_broken({1, 0, 8, 1, 0, 0, 0, 0}, false, {"bad magic", "0x01 0x00"});
    }
    SECTION("unknown type code") {
        require_broken(idx_file(0x0A, {2}, {1, 2}), false, {"unknown type code 0x0a"});
    }
    SECTION("rank 0") {
        require_broken({0, 0, 8, 0}, false, {"rank 0", "outside 1..4"});
    }
    SECTION("rank 5") {
        require_broken(idx_file(0x08, {1, 1, 1, 1, 1}, {7}), false, {"rank 5"});
    }
    SECTION("fewer bytes than the magic") {
        require_broken({0, 0}, false, {"2 bytes", "too few"});
    }
    SECTION("a truncated header") {
        bytes b = idx_file(0x08, {2, 3}, {});
        b.resize(10);
        require_broken(b, false, {"truncated header", "expected 12", "found 10"});
    }
    SECTION("truncated data") {
        require_broken(idx_file(0x08, {3, 4}, iota_bytes(10)), false,
                       {"truncated data", "expected 12 data bytes", "found 10"});
    }
    SECTION("truncated data inside a complete gzip stream") {
        require_broken(idx_file(0x0C, {3}, iota_bytes(11)), true,
                       {"truncated data", "expected 12", "found 11", "gzip"});
    }
    SECTION("trailing data") {
        require_broken(idx_file(0x08, {3, 4}, iota_bytes(14)), false,
                       {"trailing data", "expected 12 data bytes", "found 14", "2 bytes too many"});
    }
    SECTION("trailing data inside a gzip stream") {
        require_broken(idx_file(0x0B, {2}, iota_bytes(5)), true, {"trailing data", "found 5"});
    }
    SECTION("dimensions whose byte count overflows") {
        require_broken(idx_file(0x0E, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {}), false, {"overflows"});
    }
    SECTION("huge dimensions with little data fail as truncated without allocating them") {
        require_broken(idx_file(0x08, {0xFFFFFFFF, 0xFFFFFFFF}, iota_bytes(4)), false,
                       {"truncated data", "found 4"});
    }
}

TEST_CASE("a truncated gzip file is refused", "[idx]") {
    temp_dir dir;
    const auto whole = dir.path / "whole.gz";
    write_gzip(whole, idx_file(0x08, {100, 28}, bytes(2800, 3)));
    bytes cut = read_plain(whole);
    REQUIRE(cut.size() > 20);
    SECTION("cut in the deflate data") {
        cut.resize(cut.size() / 2);
    }
    SECTION("cut in the CRC trailer") {
        cut.resize(cut.size() - 4);
    }
    const auto path = dir.path / "cut.gz";
    write_plain(path, cut);
    CHECK_THROWS_WITH(read_idx(path), Contains(path.string()) && Contains("gzip stream is truncated"));
    CHECK_THROWS_AS(read_idx_images(path), idx_error);
}

TEST_CASE("a missing IDX file is an error naming it", "[idx]") {
    temp_dir dir;
    CHECK_THROWS_WITH(read_idx(dir.path / "absent.gz"), Contains("absent.gz") && Contains("no such file"));
    CHECK_THROWS_WITH(read_idx_labels(dir.path / "absent.gz"), Contains("no such file"));
}

TEST_CASE("images and labels readers refuse files of another type or rank", "[idx]") {
    CHECK_THROWS_WITH(read_idx_images(fashion / "train-labels-idx1-ubyte.gz"),
                      Contains("expected unsigned-byte images") && Contains("shape [60000]"));
    CHECK_THROWS_WITH(read_idx_labels(fashion / "t10k-images-idx3-ubyte.gz"),
                      Contains("expected unsigned-byte labels") && Contains("shape [10000, 28, 28]"));
    temp_dir dir;
    write_plain(dir.path / "signed", idx_file(0x09, {2, 1, 1}, {1, 2}));
    CHECK_THROWS_WITH(read_idx_images(dir.path / "signed"), Contains("found type code 0x09"));
}

TEST_CASE("load_fashion_mnist names the Debian package when the folder or a file is missing", "[idx]") {
    temp_dir dir;
    CHECK_THROWS_WITH(load_fashion_mnist(dir.path / "nowhere"),
                      Contains("nowhere") && Contains("dataset-fashion-mnist") && Contains("does not exist"));
    write_gzip(dir.path / "train-images-idx3-ubyte.gz", idx_file(0x08, {1, 2, 2}, iota_bytes(4)));
    CHECK_THROWS_WITH(load_fashion_mnist(dir.path),
                      Contains("train-labels-idx1-ubyte.gz") && Contains("dataset-fashion-mnist"));
}

TEST_CASE("load_fashion_mnist refuses image and label counts that disagree", "[idx]") {
    temp_dir dir;
    write_fashion(dir.path, 3, 28, 28, {1, 2, 3});
    write_gzip(dir.path / "t10k-labels-idx1-ubyte.gz", idx_file(0x08, {2}, {4, 5}));
    CHECK_THROWS_WITH(load_fashion_mnist(dir.path),
                      Contains("t10k-labels-idx1-ubyte.gz") && Contains("2 labels for 3 images"));
    write_gzip(dir.path / "t10k-labels-idx1-ubyte.gz", idx_file(0x08, {3}, {4, 5, 9}));
    const auto small = load_fashion_mnist(dir.path);
    CHECK(small.train_images.shape() == std::array<std::size_t, 4>{3, 1, 28, 28});
    CHECK(small.train_images(0, 0, 0, 11) == 11.0f / 255.0f);
    CHECK(small.test_labels(2) == 9);
}

// Built twice (test/io/meson.build): header-only, and with KATACHI_EXTERN_KERNELS, where these
// readers and data sets are libkatachi's instances.
TEST_CASE("data::idx_dataset and data::fashion_mnist_datasets read what the IDX readers read", "[idx]") {
    temp_dir dir;
    write_fashion(dir.path, 3, 28, 28, {4, 5, 9});
    const auto both = katachi::data::fashion_mnist_datasets(dir.path);
    REQUIRE(both.train.size() == 3);
    REQUIRE(both.test.size() == 3);
    CHECK(both.train.sample_shape() == std::vector<std::size_t>{1, 28, 28});
    CHECK(both.test.target(2) == 9);
    CHECK(both.train.sample(0)[11] == 11.0f / 255.0f);
    const auto one = katachi::data::idx_dataset(dir.path / "t10k-images-idx3-ubyte.gz",
                                                dir.path / "t10k-labels-idx1-ubyte.gz");
    CHECK(one.size() == 3);
    CHECK(one.target(0) == 4);
    CHECK_THROWS_WITH(katachi::data::idx_dataset(dir.path / "t10k-images-idx3-ubyte.gz",
                                                 dir.path / "absent-labels.gz"),
                      Contains("absent-labels.gz") && Contains("no such file"));
    write_gzip(dir.path / "t10k-labels-idx1-ubyte.gz", idx_file(0x08, {2}, {4, 5}));
    CHECK_THROWS_WITH(katachi::data::idx_dataset(dir.path / "t10k-images-idx3-ubyte.gz",
                                                 dir.path / "t10k-labels-idx1-ubyte.gz"),
                      Contains("2 labels for 3 images"));
    CHECK_THROWS_WITH(katachi::data::fashion_mnist_datasets(dir.path / "nowhere"),
                      Contains("dataset-fashion-mnist"));
}

TEST_CASE("bytes after the end of a gzip stream are refused with their count", "[idx]") {
    const bytes member = gzip_member(idx_file(0x08, {3, 4}, iota_bytes(12)));
    SECTION("29 bytes of garbage") {
        require_refused(concat({member, bytes(29, 0x41)}), {"trailing garbage", "29 bytes", "gzip"});
    }
    SECTION("one zero byte") {
        require_refused(concat({member, bytes(1, 0)}), {"trailing garbage", "1 bytes"});
    }
    SECTION("a gzip magic without the deflate method") {
        require_refused(concat({member, bytes{0x1f, 0x8b, 0x07, 0, 0}}), {"trailing garbage", "5 bytes"});
    }
    SECTION("garbage after a second member") {
        const bytes half1 = gzip_member(idx_file(0x08, {3, 4}, iota_bytes(6)));
        const bytes half2 = gzip_member(bytes{6, 7, 8, 9, 10, 11});
        require_refused(concat({half1, half2, bytes(200'000, 0x55)}), {"trailing garbage", "200000 bytes"});
    }
}

TEST_CASE("a file of several gzip members reads as their concatenation", "[idx]") {
    const bytes file = idx_file(0x0B, {2, 3}, iota_bytes(12));
    temp_dir dir;
    const auto path = dir.path / "members.gz";
    SECTION("split inside the header and inside the data") {
        write_plain(path, concat({gzip_member(bytes(file.begin(), file.begin() + 6)),
                                  gzip_member(bytes(file.begin() + 6, file.begin() + 20)),
                                  gzip_member(bytes(file.begin() + 20, file.end()))}));
    }
    SECTION("with an empty member between") {
        write_plain(path, concat({gzip_member(bytes(file.begin(), file.begin() + 10)), gzip_member({}),
                                  gzip_member(bytes(file.begin() + 10, file.end()))}));
    }
    const auto a = read_idx(path);
    CHECK(a.type_code == 0x0B);
    CHECK(a.shape == std::vector<std::size_t>{2, 3});
    CHECK(a.values == std::vector<double>{1, 515, 1029, 1543, 2057, 2571});
}

TEST_CASE("a gzip stream cut short in a later member is refused as truncated", "[idx]") {
    const bytes file = idx_file(0x08, {100, 28}, bytes(2800, 5));
    bytes second = gzip_member(bytes(file.begin() + 1000, file.end()));
    second.resize(second.size() - 3);
    require_refused(concat({gzip_member(bytes(file.begin(), file.begin() + 1000)), second}),
                    {"gzip stream is truncated"});
}

TEST_CASE("a tiny file whose header claims 1 GiB of data is refused as truncated without a large allocation",
          "[idx]") {
    temp_dir dir;
    const auto path = dir.path / "liar-idx1-ubyte";
    std::size_t data_bytes = 0;
    std::size_t limit = std::size_t{1} << 20;
    bool gzip = false;
    SECTION("9 bytes, plain") {
        data_bytes = 1;
    }
    SECTION("9 bytes, gzip'd") {
        data_bytes = 1;
        gzip = true;
    }
    SECTION("3 MB of data: the buffer stays within twice what was read") {
        data_bytes = 3'000'000;
        limit = 2 * data_bytes;
    }
    const bytes file = idx_file(0x08, {std::uint32_t{1} << 30}, iota_bytes(data_bytes));
    REQUIRE(file.size() == 8 + data_bytes);
    gzip ? write_gzip(path, file) : write_plain(path, file);
    katachi::test::reset_largest_allocation();
    try {
        (void)read_idx(path);
        FAIL("a file holding less data than its header claims was accepted");
    } catch (const idx_error& e) {
        const std::size_t largest = katachi::test::largest_allocation();
        INFO(e.what());
        CHECK_THAT(e.what(), Contains(path.string()) && Contains("truncated data") &&
                                 Contains("expected 1073741824") && Contains("found " + std::to_string(data_bytes)));
        INFO("largest single allocation: " << largest << " bytes");
        CHECK(largest <= limit);
    }
}

TEST_CASE("load_fashion_mnist refuses images that are not 28x28, naming the file and the size", "[idx]") {
    temp_dir dir;
    write_fashion(dir.path, 2, 28, 27, {0, 9});
    try {
        (void)load_fashion_mnist(dir.path);
        FAIL("images of 28x27 were accepted");
    } catch (const idx_error& e) {
        INFO(e.what());
        CHECK(e.file() == (dir.path / "train-images-idx3-ubyte.gz").string());
        CHECK_THAT(e.what(), Contains("train-images-idx3-ubyte.gz") && Contains("28x27") &&
                                 Contains("Fashion-MNIST images are 28x28"));
    }
}

TEST_CASE("load_fashion_mnist refuses a label outside 0..9, naming the file, its index and value", "[idx]") {
    temp_dir dir;
    write_fashion(dir.path, 4, 28, 28, {0, 9, 9, 1});
    write_gzip(dir.path / "t10k-labels-idx1-ubyte.gz", idx_file(0x08, {4}, {3, 10, 255, 2}));
    try {
        (void)load_fashion_mnist(dir.path);
        FAIL("a label of 10 was accepted");
    } catch (const idx_error& e) {
        INFO(e.what());
        CHECK(e.file() == (dir.path / "t10k-labels-idx1-ubyte.gz").string());
        CHECK_THAT(e.what(), Contains("t10k-labels-idx1-ubyte.gz") && Contains("label at index 1 is 10") &&
                                 Contains("0..9"));
    }
    // read_idx_labels itself takes any byte.
    const auto labels = read_idx_labels(dir.path / "t10k-labels-idx1-ubyte.gz");
    CHECK(labels(2) == 255);
}
