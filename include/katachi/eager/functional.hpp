// katachi/eager/functional.hpp: every differentiable operation of the eager face, as functions.
#pragma once

#include "katachi/eager/functional/activations.hpp"
#include "katachi/eager/functional/arithmetic.hpp"
#include "katachi/eager/functional/indexing.hpp"
#include "katachi/eager/functional/layers.hpp"
#include "katachi/eager/functional/losses.hpp"
#include "katachi/eager/functional/reductions.hpp"
