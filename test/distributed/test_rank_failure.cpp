// Suite `distributed`: the program that rank_failure.py runs under mpirun to show that a failing
// rank stops the job and that training resumes from the last checkpoint.
//
//   test_rank_failure --checkpoint FILE --final FILE [--resume] [--fail-at STEP --fail-how throw|kill]
//
// Two ranks train a small graph model data-parallel (distributed::data_parallel, SGD with momentum)
// for 12 steps. After every step rank 0 alone writes the checkpoint (parameters, momentum buffers
// and the step in its metadata; io::save_safetensors writes it atomically). --resume starts from it.
// With --fail-at, rank 1 fails at that step: it throws (and the exception reaches the scope of
// distributed::context::abort, which stops the job) or it kills itself with SIGKILL. At the end rank 0
// writes the parameters to --final.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <katachi/data.hpp>
#include <katachi/distributed.hpp>
#include <katachi/graph.hpp>
#include <katachi/graph/state_dict.hpp>
#include <katachi/io/safetensors.hpp>
#include <katachi/optim/sgd.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace katachi;
using net = graph::sequential<graph::input<12>, graph::linear<16>, graph::relu, graph::linear<3>>;
constexpr std::size_t total_steps = 12;

struct arguments {
    std::string checkpoint, final_file, fail_how;
    bool resume = false;
    std::size_t fail_at = 0;  // 0: never
};

arguments parse(int argc, char** argv) {
    arguments a;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        const auto value = [&] {
            if (i + 1 >= argc) throw std::invalid_argument(k + " needs a value");
            return std::string(argv[++i]);
        };
        if (k == "--checkpoint")
            a.checkpoint = value();
        else if (k == "--final")
            a.final_file = value();
        else if (k == "--resume")
            a.resume = true;
        else if (k == "--fail-at")
            a.fail_at = std::stoul(value());
        else if (k == "--fail-how")
            a.fail_how = value();
        else
            throw std::invalid_argument("unknown argument " + k);
    }
    if (a.checkpoint.empty() || a.final_file.empty()) throw std::invalid_argument("--checkpoint and --final are needed");
    return a;
}

data::tensor_dataset<float> samples() {
    std::vector<float> x;
    std::vector<std::int64_t> y;
    generator gen(5);
    for (std::size_t i = 0; i < 12 * 16; ++i) {
        for (std::size_t k = 0; k < 12; ++k) x.push_back(gen.uniform<float>(-1.0f, 1.0f));
        y.push_back(static_cast<std::int64_t>(gen() % 3));
    }
    return data::tensor_dataset<float>(std::move(x), {12}, std::move(y));
}

void save(const std::string& path, graph::model<net>& m, const optim::sgd<float>& opt, std::size_t step) {
    io::tensor_map t = graph::state_dict(m);
    for (std::size_t n = 0; n < opt.parameter_count(); ++n) {
        const auto& b = opt.momentum_buffer(n);
        if (!b.empty()) t.emplace("momentum." + std::to_string(n), io::tensor::from<float>(b, {b.size()}));
    }
    io::save_safetensors(path, t, {{"step", std::to_string(step)}});
}

std::size_t load(const std::string& path, graph::model<net>& m, optim::sgd<float>& opt) {
    const io::safetensors_file f = io::load_safetensors(path);
    io::tensor_map params;
    for (const auto& [k, v] : f.tensors)
        if (!k.starts_with("momentum.")) params.emplace(k, v);
    graph::load_state_dict(m, params);
    for (std::size_t n = 0; n < opt.parameter_count(); ++n)
        if (f.tensors.contains("momentum." + std::to_string(n))) {
            const auto values = f.get<float>("momentum." + std::to_string(n));
            opt.set_momentum_buffer(n, std::vector<float>(values.begin(), values.end()));
        }
    return std::stoul(f.metadata.at("step"));
}

}  // namespace

int run(const distributed::context& mpi, const arguments& args) {
    const std::size_t rank = mpi.rank();
    const auto set = samples();

    graph::model<net> m(/*seed=*/3);
    optim::sgd<float> opt(m.parameters(), {.lr = 0.1, .momentum = 0.9});
    std::size_t done = 0;
    if (args.resume) done = load(args.checkpoint, m, opt);  // every rank reads the same file
    distributed::data_parallel<graph::model<net>> ddp(m);
    if (rank == 0 && args.resume) std::printf("rank 0: resuming after step %zu\n", done);

    data::data_loader loader(set, {.batch_size = 8, .shuffle = true, .seed = 9, .num_replicas = mpi.size(), .rank = rank});
    std::size_t step = 0;
    for (std::size_t epoch = 0; step < total_steps; ++epoch) {
        loader.set_epoch(epoch);
        for (const auto& b : loader) {
            if (++step > total_steps) break;
            if (step <= done) continue;  // taken before the checkpoint
            if (rank == 1 && step == args.fail_at) {
                std::fprintf(stderr, "rank 1: failing at step %zu (%s)\n", step, args.fail_how.c_str());
                std::fflush(stderr);
                if (args.fail_how == "kill") std::raise(SIGKILL);
                throw std::runtime_error("rank 1 failed on purpose at step " + std::to_string(step));
            }
            m.forward(b.input());
            m.cross_entropy(b.targets());
            ddp.backward();
            opt.step();
            if (rank == 0) save(args.checkpoint, m, opt, step);
        }
    }
    if (rank == 0) {
        const auto p = m.all_parameters();
        io::save_safetensors(args.final_file, {{"parameters", io::tensor::from<float>(p, {p.size()})}}, {});
        std::printf("rank 0: %zu steps done\n", total_steps);
    }
    return 0;
}

// An error on any rank stops them all: abort prints it with the rank and calls MPI_Abort.
int main(int argc, char** argv) {
    distributed::context mpi(argc, argv);
    try {
        return run(mpi, parse(argc, argv));
    } catch (const std::exception& e) {
        mpi.abort(std::string("error: ") + e.what());
    }
}
