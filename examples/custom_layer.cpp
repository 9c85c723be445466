// A layer written outside katachi: scale<Num, Den> multiplies by a learned per-channel factor
// (initialised to Num / Den) and shows the whole layer contract of katachi/graph/layer.hpp: a name,
// a shape rule that can reject an input, and at a bound input shape its parameters, forward and the
// backward beside it. The graph deduces everything else: the model below trains it like any layer.
#include <cstdio>
#include <katachi/graph.hpp>
#include <katachi/optim/sgd.hpp>
#include <xtensor/xtensor.hpp>

namespace kg = katachi::graph;

template <std::size_t Num, std::size_t Den>
struct scale {
    static std::string name() { return "scale<" + std::to_string(Num) + ", " + std::to_string(Den) + ">"; }

    // shape<C, ...> -> the same shape; a rank-0 input has no channels to scale.
    template <class In>
    static constexpr auto infer(In) {
        if constexpr (In::rank == 0)
            return katachi::rejected<scale, In, katachi::flat_shape>{};
        else
            return In{};
    }

    template <class In>
    struct bind : kg::bind_defaults {
        using output_shape = In;
        static constexpr std::size_t channels = In::dims[0];
        static constexpr std::size_t per_channel = In::size / channels;
        static constexpr std::array<kg::tensor_spec, 1> parameters{kg::tensor_spec{"weight", 1, {channels}}};

        template <class T>
        static void reset(T* p, T*, katachi::generator&) {
            for (std::size_t c = 0; c < channels; ++c) p[c] = T(Num) / T(Den);
        }

        // y[n, c, ...] = w[c] x[n, c, ...]
        template <class T>
        static void forward(const kg::layer_args<T>& a) {
            for (std::size_t i = 0; i < a.batch * In::size; ++i)
                a.y[i] = a.params[i / per_channel % channels] * a.x[0][i];
        }

        // dx = w dy; dw[c] = sum over the batch and positions of dy x.
        template <class T>
        static void backward(const kg::layer_args<T>& a) {
            if (a.dparams && a.dparams_mode == katachi::kernels::write::overwrite)
                for (std::size_t c = 0; c < channels; ++c) a.dparams[c] = T(0);
            for (std::size_t i = 0; i < a.batch * In::size; ++i) {
                const std::size_t c = i / per_channel % channels;
                if (a.dparams) a.dparams[c] += a.dy[i] * a.x[0][i];
                if (a.dx[0]) {
                    const T g = a.params[c] * a.dy[i];
                    a.dx[0][i] = a.dx_mode[0] == katachi::kernels::write::accumulate ? a.dx[0][i] + g : g;
                }
            }
        }
    };
};

static_assert(kg::Layer<scale<1, 2>>);
static_assert(kg::BoundLayer<scale<1, 2>::bind<katachi::shape<4, 3>>>);

using net = kg::sequential<kg::input<2, 5>, scale<1, 2>, kg::flatten, kg::linear<3>>;
static_assert(net::parameter_count == 2 + 10 * 3 + 3);
// Without flatten the linear layer would be refused at compile time:
// using wrong = kg::sequential<kg::input<2, 5>, scale<1, 2>, kg::linear<3>>;
//   error: static assertion failed: linear<N> takes a flat shape<features>: insert flatten before it

int main() {
    kg::model<net> m(0);
    katachi::optim::sgd<float> opt(m.parameters(), {.lr = 0.1});
    xt::xtensor<float, 3> x(std::array<std::size_t, 3>{4, 2, 5});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(i % 7) / 7.0f;
    xt::xtensor<std::int64_t, 1> y = {0, 1, 2, 0};
    float first = 0, last = 0;
    for (int step = 0; step < 50; ++step) {
        m.forward(x);
        last = m.cross_entropy(y);
        if (step == 0) first = last;
        m.backward();
        opt.step();
    }
    std::printf("%s", kg::summary<net>().c_str());
    std::printf("loss %.4f -> %.4f, scale weight [%.4f, %.4f]\n", first, last, m.parameter("0.weight")[0],
                m.parameter("0.weight")[1]);
    return last < first ? 0 : 1;
}
