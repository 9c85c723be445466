// katachi/optim/lr_scheduler.hpp: every learning-rate scheduler (torch.optim.lr_scheduler's names).
//
//   optim::sgd<float> opt(net.parameters(), {.lr = 0.1, .momentum = 0.9});
//   optim::cosine_annealing_lr sched(opt, {.T_max = epochs});
//   for (...) { train_one_epoch(opt); sched.step(); }
//
// step_lr, multi_step_lr, exponential_lr, cosine_annealing_lr, linear_lr, one_cycle_lr (each in its
// own header), reduce_lr_on_plateau (step(metric)) and sequential_lr (one after another, e.g. a
// warm-up then a cosine); what they share: lr_scheduler_base.hpp.
#pragma once

#include <katachi/optim/cosine_annealing_lr.hpp>
#include <katachi/optim/exponential_lr.hpp>
#include <katachi/optim/linear_lr.hpp>
#include <katachi/optim/multi_step_lr.hpp>
#include <katachi/optim/one_cycle_lr.hpp>
#include <katachi/optim/reduce_lr_on_plateau.hpp>
#include <katachi/optim/sequential_lr.hpp>
#include <katachi/optim/step_lr.hpp>
