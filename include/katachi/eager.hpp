// katachi/eager.hpp: the define-by-run face: tensors, autograd, functional ops, modules, lazy
// modules. Functions live in katachi::eager, modules in katachi::eager::nn, initialisers in
// katachi::eager::nn::init.
#pragma once

#include "katachi/eager/autograd.hpp"
#include "katachi/eager/dot.hpp"
#include "katachi/eager/functional.hpp"
#include "katachi/eager/graph_source.hpp"
#include "katachi/eager/loss_meter.hpp"
#include "katachi/eager/memory.hpp"
#include "katachi/eager/modules/activation.hpp"
#include "katachi/eager/modules/batch_norm.hpp"
#include "katachi/eager/modules/container.hpp"
#include "katachi/eager/modules/conv.hpp"
#include "katachi/eager/modules/init.hpp"
#include "katachi/eager/modules/layer_norm.hpp"
#include "katachi/eager/modules/lazy.hpp"
#include "katachi/eager/modules/linear.hpp"
#include "katachi/eager/modules/module.hpp"
#include "katachi/eager/modules/pooling.hpp"
#include "katachi/eager/modules/utilities.hpp"
#include "katachi/eager/optimiser_state.hpp"
#include "katachi/eager/random.hpp"
#include "katachi/eager/tensor.hpp"
