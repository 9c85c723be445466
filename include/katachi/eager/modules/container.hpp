// katachi/eager/modules/container.hpp: sequential and module_list.
//
// sequential runs its children in order and names them by position ("0", "1", ...), as
// nn.Sequential does, so its state dict keys are PyTorch's. It takes modules by value or as
// shared pointers: sequential(conv2d({...}), relu(), std::make_shared<my_block>()).
// module_list holds modules without a forward of its own (torch.nn.ModuleList).
// sequential calls each child through call_child, so an error from a child names its position
// ("3 (lazy_linear): ..."), composed with the paths of the containers around it.
// residual(body) computes body(x) + x, residual(body, shortcut) body(x) + shortcut(x): a skip
// connection whose graph form (module::graph_form) is that add, so nn::graph_source takes it.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "katachi/eager/modules/module.hpp"

namespace katachi::eager::nn {

class sequential : public module {
public:
    sequential() = default;
    template <class... M>
    requires(sizeof...(M) > 0) explicit sequential(M&&... ms) { (push_back(std::forward<M>(ms)), ...); }

    std::string type_name() const override { return "sequential"; }
    tensor forward(const tensor& x) override;
    sizes output_shape(const sizes& input) const override;

    template <class M>
    void push_back(M&& m) {
        layers_.push_back(as_module_ptr(std::forward<M>(m)));
        add_child(std::to_string(layers_.size() - 1), layers_.back());
    }
    std::size_t size() const noexcept { return layers_.size(); }
    const std::shared_ptr<module>& operator[](std::size_t i) const { return layers_.at(i); }
    // The i-th layer as its own type; throws std::bad_cast when it is another.
    template <class M>
    M& at(std::size_t i) const {
        return dynamic_cast<M&>(*layers_.at(i));
    }

protected:
    // Materialises the children in order, passing the shape along; no kernel runs.
    sizes materialize_tree(const sizes& input) override;

private:
    std::vector<std::shared_ptr<module>> layers_;
};

class module_list : public module {
public:
    module_list() = default;
    template <class... M>
    requires(sizeof...(M) > 0) explicit module_list(M&&... ms) { (push_back(std::forward<M>(ms)), ...); }

    std::string type_name() const override { return "module_list"; }

    template <class M>
    void push_back(M&& m) {
        items_.push_back(as_module_ptr(std::forward<M>(m)));
        add_child(std::to_string(items_.size() - 1), items_.back());
    }
    std::size_t size() const noexcept { return items_.size(); }
    const std::shared_ptr<module>& operator[](std::size_t i) const { return items_.at(i); }
    auto begin() const { return items_.begin(); }
    auto end() const { return items_.end(); }

private:
    std::vector<std::shared_ptr<module>> items_;
};

class residual : public module {
public:
    template <class B>
    explicit residual(B&& body) : body_(as_module_ptr(std::forward<B>(body))) {
        add_child("body", body_);
    }
    template <class B, class S>
    residual(B&& body, S&& shortcut)
        : body_(as_module_ptr(std::forward<B>(body))), shortcut_(as_module_ptr(std::forward<S>(shortcut))) {
        add_child("body", body_);
        add_child("shortcut", shortcut_);
    }

    std::string type_name() const override { return "residual"; }
    tensor forward(const tensor& x) override;
    // The body's output shape; the shortcut (or the input) must have the same.
    sizes output_shape(const sizes& input) const override;
    std::vector<graph_step> graph_form() const override;

protected:
    sizes materialize_tree(const sizes& input) override;

private:
    std::shared_ptr<module> body_, shortcut_;  // no shortcut: the identity
};

}  // namespace katachi::eager::nn
