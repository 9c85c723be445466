#include <katachi/io/safetensors.hpp>
