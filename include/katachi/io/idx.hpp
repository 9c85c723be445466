// katachi/io/idx.hpp: the IDX format of the MNIST family (MNIST, Fashion-MNIST), plain or gzip'd.
//
// An IDX file is: two zero bytes, a type code (0x08 unsigned byte, 0x09 signed byte, 0x0B int16,
// 0x0C int32, 0x0D float32, 0x0E float64), the rank, rank big-endian uint32 dimensions, then the
// elements big-endian in row-major order. Errors throw katachi::io::idx_error naming the file.
// A gzip'd file may hold several gzip members (read as one stream); anything else after the last
// member is refused, as is a stream cut short.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>
#include <xtensor/xtensor.hpp>

namespace katachi::io {

class idx_error : public std::runtime_error {
public:
    idx_error(const std::string& file, const std::string& what);
    const std::string& file() const noexcept { return file_; }

private:
    std::string file_;
};

// The decoded file: dimensions and elements converted to double (exact for every IDX type).
struct idx_array {
    std::uint8_t type_code = 0;
    std::vector<std::size_t> shape;
    std::vector<double> values;
};

// Reads any IDX file; gzip'd input is detected by its magic bytes, not by the file name.
idx_array read_idx(const std::filesystem::path& path);

// Unsigned-byte image files [N, rows, cols] scaled to [0, 1] as float: [N, 1, rows, cols].
xt::xtensor<float, 4> read_idx_images(const std::filesystem::path& path);

// Unsigned-byte label files [N] as int64 class indices. Any byte value 0..255 is a label here;
// checking them against a dataset's classes is the caller's (load_fashion_mnist does).
xt::xtensor<std::int64_t, 1> read_idx_labels(const std::filesystem::path& path);

struct fashion_mnist {
    xt::xtensor<float, 4> train_images;  // [60000, 1, 28, 28] in [0, 1]
    xt::xtensor<std::int64_t, 1> train_labels;
    xt::xtensor<float, 4> test_images;  // [10000, 1, 28, 28]
    xt::xtensor<std::int64_t, 1> test_labels;
};

// Where Debian's dataset-fashion-mnist package puts the files.
inline const std::filesystem::path fashion_mnist_default_dir = "/usr/share/datasets/fashion-mnist";

// Loads the four files; a missing folder or file throws idx_error that names the Debian package
// providing them (dataset-fashion-mnist). What the Fashion-MNIST demo relies on is checked, each
// failure an idx_error naming the file: images are 28x28, every label is a class 0..9 (the error
// gives the index and value of the first that is not), image and label counts agree.
fashion_mnist load_fashion_mnist(const std::filesystem::path& dir = fashion_mnist_default_dir);

}  // namespace katachi::io
