// katachi/data.hpp: data sets, transforms, loaders and metrics for both faces (header-only).
// The eager face's tensors from a batch: katachi/data/eager.hpp.
#pragma once

#include <katachi/data/dataset.hpp>
#include <katachi/data/idx_dataset.hpp>
#include <katachi/data/loader.hpp>
#include <katachi/data/metrics.hpp>
#include <katachi/data/transforms.hpp>
