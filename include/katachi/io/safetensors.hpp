// katachi/io/safetensors.hpp: reading and writing the safetensors checkpoint format.
//
// A file is: 8 bytes little-endian header length N, N bytes of JSON header, then the tensor data.
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end)} relative to
// the start of the data, plus an optional "__metadata__" object of string to string.
//
// Reading validates the whole file before returning anything, so a failed load fills nothing.
// Every violation throws katachi::io::safetensors_error naming the file, the key and the rule
// (KATACHI_THROW: built with -fno-exceptions, its sentence goes to the error handler instead).
// Writing is atomic: a temporary file in the target's folder, flushed, then renamed over it (see
// save_safetensors for how killed saves are cleaned up).
//
// Header-only, in parts: safetensors/error.hpp (safetensors_rule, safetensors_error),
// safetensors/tensor.hpp (dtype, tensor, safetensors_file), safetensors/header.hpp (the format's
// checks), safetensors/read.hpp (load_safetensors, parse_safetensors), safetensors/save.hpp
// (save_safetensors), with safetensors/json.hpp reading and writing the header's JSON.
// Needs xtensor's headers; links against nothing.
#pragma once

#include <katachi/io/safetensors/error.hpp>
#include <katachi/io/safetensors/header.hpp>
#include <katachi/io/safetensors/read.hpp>
#include <katachi/io/safetensors/save.hpp>
#include <katachi/io/safetensors/tensor.hpp>
