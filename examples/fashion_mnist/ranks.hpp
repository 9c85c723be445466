// examples/fashion_mnist/ranks.hpp: the processes training together.
//
// Without --distributed the demo is one process, rank 0 of 1, and every reduction is the value
// itself. With it (under `mpirun -np N`), katachi::distributed runs the job: each rank trains on its
// shard of every epoch, the faces average their gradients over the ranks, and the numbers the demo
// prints (training loss and accuracy, the test set's confusion matrix) are summed over the ranks.
// Only rank 0 prints and writes files. A rank that fails calls abort, which stops every rank.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace fashion_mnist {

class ranks {
public:
    // One process.
    ranks();
    // MPI's job; throws usage_error when this fashion_mnist was built without MPI.
    ranks(int& argc, char**& argv);
    ~ranks();
    ranks(const ranks&) = delete;
    ranks& operator=(const ranks&) = delete;

    bool distributed() const { return impl_ != nullptr; }
    std::size_t rank() const { return rank_; }
    std::size_t size() const { return size_; }
    bool leader() const { return rank_ == 0; }

    // Element-wise sums over the ranks, in place.
    void sum(std::span<double> values) const;
    void sum(std::span<std::size_t> values) const;

    // Prints the message with this rank's number and stops every rank of the job (one process:
    // prints it and exits with `code`).
    [[noreturn]] void abort(const std::string& message, int code = 1) const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
    std::size_t rank_ = 0, size_ = 1;
};

}  // namespace fashion_mnist
