// katachi/io/idx.hpp: the IDX format of the MNIST family (MNIST, Fashion-MNIST), plain or gzip'd.
//
// An IDX file is: two zero bytes, a type code (0x08 unsigned byte, 0x09 signed byte, 0x0B int16,
// 0x0C int32, 0x0D float32, 0x0E float64), the rank, rank big-endian uint32 dimensions, then the
// elements big-endian in row-major order. Errors throw katachi::io::idx_error naming the file
// (KATACHI_THROW: built with -fno-exceptions, its sentence goes to the error handler instead).
// A gzip'd file may hold several gzip members (read as one stream); anything else after the last
// member is refused, as is a stream cut short.
//
// Header-only, in parts: idx/input.hpp (idx_error, the plain or gzip'd input), idx/read.hpp
// (read_idx, read_idx_images, read_idx_labels), idx/fashion_mnist.hpp (load_fashion_mnist). A
// program that includes it links zlib (-lz).
#pragma once

#include <katachi/io/idx/fashion_mnist.hpp>
#include <katachi/io/idx/input.hpp>
#include <katachi/io/idx/read.hpp>
