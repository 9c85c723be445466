// examples/fashion_mnist/ranks.cpp
#include "ranks.hpp"

#include <cstdio>
#include <cstdlib>

#include "options.hpp"

#if KATACHI_DEMO_MPI
#include <katachi/distributed.hpp>
#endif

namespace fashion_mnist {

namespace {
// One process's abort: the message, and the exit code.
[[noreturn]] void exit_with(const std::string& message, int code) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s\n", message.c_str());
    std::exit(code);
}
}  // namespace

#if KATACHI_DEMO_MPI
struct ranks::impl {
    impl(int& argc, char**& argv) : mpi(argc, argv) {}
    katachi::distributed::context mpi;
};

ranks::ranks(int& argc, char**& argv) : impl_(std::make_unique<impl>(argc, argv)) {
    rank_ = impl_->mpi.rank();
    size_ = impl_->mpi.size();
}

void ranks::sum(std::span<double> values) const {
    if (impl_) katachi::distributed::all_reduce_sum(values);
}
void ranks::sum(std::span<std::size_t> values) const {
    if (impl_) katachi::distributed::all_reduce_sum(values);
}

void ranks::abort(const std::string& message, int code) const {
    if (impl_) impl_->mpi.abort(message, code);
    exit_with(message, code);
}

#else
struct ranks::impl {};

ranks::ranks(int&, char**&) {
    throw usage_error(
        "--distributed: this fashion_mnist was built without MPI; install Debian's libopenmpi-dev and "
        "openmpi-bin (sh test/run.sh does) and build again, then run it as mpirun -np 2 "
        "build/examples/fashion_mnist --distributed");
}

void ranks::sum(std::span<double>) const {}
void ranks::sum(std::span<std::size_t>) const {}

void ranks::abort(const std::string& message, int code) const {
    exit_with(message, code);
}

#endif

ranks::ranks() = default;
ranks::~ranks() = default;

}  // namespace fashion_mnist
