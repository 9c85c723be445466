// katachi/katachi.hpp: the whole library.
#pragma once

#include <katachi/eager.hpp>
#include <katachi/graph.hpp>
#include <katachi/graph/state_dict.hpp>
#include <katachi/io/idx.hpp>
#include <katachi/io/safetensors.hpp>
#include <katachi/kernels.hpp>
#include <katachi/parallel.hpp>
#include <katachi/random.hpp>
#include <katachi/shape.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xtensor.hpp>
