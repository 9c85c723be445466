// A model that grows during training (Progressive-GAN style): a doubly linked list of blocks, each
// knowing its previous and next block, forward recursing from the first. Every few hundred steps a
// new block is appended and its parameters join the optimiser as a new group; the momentum of the
// old parameters is kept.
#include <iostream>
#include <katachi/eager.hpp>
#include <katachi/optim/sgd.hpp>

namespace eager = katachi::eager;
namespace nn = katachi::eager::nn;
using eager::tensor;

struct block : nn::module {
    std::shared_ptr<nn::linear> fc;
    std::shared_ptr<block> next;  // owned and registered: parameters are counted along the chain
    std::weak_ptr<block> prev;    // a back link only: it owns nothing and counts nothing
    explicit block(std::size_t width) {
        fc = register_module("fc", std::make_shared<nn::linear>(nn::linear_options{width, width}));
        nn::init::zeros_(fc->weight);  // a new block starts as the identity
        nn::init::zeros_(fc->bias);
    }
    std::string type_name() const override { return "block"; }
    tensor forward(const tensor& x) override {
        const tensor y = x + eager::tanh((*fc)(x));
        return next ? next->forward(y) : y;
    }
};

struct growing_model : nn::module {
    std::shared_ptr<block> first, last;
    std::shared_ptr<block> append(std::size_t width) {
        auto b = std::make_shared<block>(width);
        if (!first) {
            first = register_module("first", b);
        } else {
            last->next = last->register_module("next", b);
            b->prev = last;
        }
        last = b;
        return b;
    }
    std::string type_name() const override { return "growing_model"; }
    tensor forward(const tensor& x) override { return first->forward(x); }
};

int main() {
    eager::manual_seed(1);
    const std::size_t width = 8;
    const tensor x = eager::rand({64, width}, -1.0f, 1.0f);
    const tensor target = x * 0.3f + 0.2f;  // x + tanh(...) must shrink and shift: more blocks share the work

    growing_model model;
    model.append(width);
    katachi::optim::sgd<float> opt(nn::optimiser_parameters(model), {.lr = 0.1, .momentum = 0.9});
    float loss_value = 0, first_stage_loss = 0;
    for (int stage = 1; stage <= 4; ++stage) {
        for (int step = 0; step < 300; ++step) {
            opt.zero_grad();
            const tensor loss = eager::mse_loss(model(x), target);
            loss.backward();
            opt.step();
            loss_value = loss.item();
        }
        std::cout << stage << (stage > 1 ? " blocks, " : " block, ") << nn::parameter_count_text(model)
                  << " parameters: loss " << loss_value << '\n';
        if (stage == 1) first_stage_loss = loss_value;
        if (stage < 4) opt.add_param_group(nn::optimiser_parameters(*model.append(width)));
    }
    std::cout << "the last block's parameters are named " << model.named_parameters().back().first << '\n';
    return loss_value < first_stage_loss ? 0 : 1;
}
