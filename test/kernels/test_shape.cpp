// Shape type and output-size arithmetic: compile-time facts as static_asserts, run-time errors
// as Catch2 cases. The expected values are PyTorch's (torch.nn.functional on the same sizes).
#include <catch2/catch.hpp>
#include <katachi/shape.hpp>
#include <sstream>

using namespace katachi;

static_assert(shape<64, 7, 7>::rank == 3);
static_assert(shape<64, 7, 7>::size == 3136);
static_assert(shape<>::size == 1 && shape<>::rank == 0);
static_assert(shape<1, 28, 28>{} == shape<1, 28, 28>{});
static_assert(!(shape<1, 28, 28>{} == shape<1, 28>{}));
static_assert(!(shape<1, 28, 28>{} == shape<1, 28, 27>{}));
static_assert(is_shape_v<shape<3>> && !is_shape_v<int>);

// conv: LeNet's 3x3 padding 1 keeps 28; stride 2 dilation 2 on 17 gives 7.
static_assert(conv_output({.input = 28, .kernel = 3, .padding = 1}).value == 28);
static_assert(conv_output({.input = 17, .kernel = 3, .stride = 2, .padding = 1, .dilation = 2}).value == 8);
static_assert(conv_output({.input = 15, .kernel = 3, .stride = 2, .dilation = 2}).value == 6);
static_assert(conv_output({.input = 2, .kernel = 3}).error == size_error::kernel_larger_than_input);
static_assert(conv_output({.input = 1, .kernel = 3, .padding = 1}).value == 1);
static_assert(conv_output({.input = 5, .kernel = 3, .stride = 0}).error == size_error::zero_stride);
static_assert(conv_output({.input = 5, .kernel = 0}).error == size_error::zero_kernel);
static_assert(conv_output({.input = 5, .kernel = 3, .dilation = 0}).error == size_error::zero_dilation);

// pooling: floor and ceil modes, padding limit, windows hanging over the edge.
static_assert(pool_output({.input = 28, .kernel = 2, .stride = 2}).value == 14);
static_assert(pool_output({.input = 7, .kernel = 2, .stride = 2}).value == 3);
static_assert(pool_output({.input = 7, .kernel = 2, .stride = 2, .ceil_mode = true}).value == 4);
static_assert(pool_output({.input = 6, .kernel = 3, .stride = 2, .padding = 1, .ceil_mode = true}).value ==
              4);
static_assert(pool_output({.input = 5, .kernel = 2, .stride = 2, .padding = 1, .ceil_mode = true}).value ==
              3);
static_assert(pool_output({.input = 2, .kernel = 3, .stride = 2, .ceil_mode = true}).value == 1);
static_assert(pool_output({.input = 2, .kernel = 3, .stride = 2}).error ==
              size_error::kernel_larger_than_input);
static_assert(pool_output({.input = 9, .kernel = 3, .stride = 1, .padding = 2}).error ==
              size_error::padding_too_large);
static_assert(pool_output({.input = 9, .kernel = 3, .stride = 0}).error == size_error::zero_stride);
static_assert(pool_output({.input = 17, .kernel = 3, .stride = 2, .padding = 1, .dilation = 2}).value == 8);

// transposed conv: (in-1)s - 2p + d(k-1) + output_padding + 1.
static_assert(conv_transpose_output({.input = 7, .kernel = 3, .stride = 2, .padding = 1, .output_padding = 1})
                  .value == 14);
static_assert(conv_transpose_output({.input = 5, .kernel = 3, .stride = 2, .output_padding = 2}).error ==
              size_error::output_padding_too_large);
static_assert(conv_transpose_output({.input = 1, .kernel = 1, .padding = 1}).error ==
              size_error::negative_output);

// adaptive windows: 7 -> 3 gives [0,3) [2,5) [4,7).
static_assert(adaptive_pool_window(0, 7, 3).begin == 0 && adaptive_pool_window(0, 7, 3).end == 3);
static_assert(adaptive_pool_window(1, 7, 3).begin == 2 && adaptive_pool_window(1, 7, 3).end == 5);
static_assert(adaptive_pool_window(2, 7, 3).begin == 4 && adaptive_pool_window(2, 7, 3).end == 7);

TEST_CASE("shape prints as shape<64, 7, 7>", "[shape]") {
    std::ostringstream os;
    os << shape<64, 7, 7>{};
    CHECK(os.str() == "shape<64, 7, 7>");
    CHECK(shape<10>::str() == "shape<10>");
    CHECK(shape<>::str() == "shape<>");
}

TEST_CASE("run-time output sizes equal the constexpr ones", "[shape]") {
    CHECK(conv_output_size("conv2d", {.input = 28, .kernel = 3, .padding = 1}) == 28);
    CHECK(pool_output_size("max_pool2d", {.input = 7, .kernel = 2, .stride = 2, .ceil_mode = true}) == 4);
    CHECK(conv_transpose_output_size("conv_transpose2d",
                                     {.input = 7, .kernel = 4, .stride = 2, .padding = 1}) == 14);
}

TEST_CASE("a kernel larger than its padded input throws a sentence naming the op and the sizes", "[shape]") {
    try {
        conv_output_size("conv2d", {.input = 2, .kernel = 5});
        FAIL("no exception");
    } catch (const shape_arithmetic_error& e) {
        CHECK(e.rule() == size_error::kernel_larger_than_input);
        const std::string what = e.what();
        CHECK(what.find("conv2d") != std::string::npos);
        CHECK(what.find("larger than the padded input") != std::string::npos);
        CHECK(what.find("input 2, kernel 5") != std::string::npos);
    }
}

TEST_CASE("zero stride and excessive pooling padding are rejected at run time", "[shape]") {
    CHECK_THROWS_AS(conv_output_size("conv1d", {.input = 8, .kernel = 3, .stride = 0}),
                    shape_arithmetic_error);
    CHECK_THROWS_WITH(pool_output_size("avg_pool2d", {.input = 8, .kernel = 2, .stride = 2, .padding = 2}),
                      Catch::Contains("at most half of the kernel size"));
    CHECK_THROWS_WITH(conv_transpose_output_size("conv_transpose2d",
                                                 {.input = 4, .kernel = 3, .stride = 1, .output_padding = 1}),
                      Catch::Contains("output_padding"));
}

TEST_CASE("output-size arithmetic refuses options so large that it would overflow", "[shape]") {
    constexpr std::size_t huge = std::size_t{1} << 63;
    CHECK(conv_output({.input = 5, .kernel = 3, .padding = huge}).error == size_error::overflow);
    CHECK(conv_output({.input = 5, .kernel = huge, .dilation = 4}).error == size_error::overflow);
    CHECK(pool_output({.input = 5, .kernel = 3, .stride = ~std::size_t{0}, .ceil_mode = true}).error ==
          size_error::overflow);
    CHECK(conv_transpose_output({.input = 5, .kernel = 3, .stride = huge}).error == size_error::overflow);
    CHECK(conv_transpose_output({.input = 2, .kernel = 3, .stride = 2, .padding = huge}).error ==
          size_error::overflow);
    try {
        (void)conv_transpose_output_size("conv_transpose2d", {.input = 5, .kernel = 3, .stride = huge});
        FAIL("no error");
    } catch (const shape_arithmetic_error& e) {
        CHECK(std::string(e.what()).starts_with("conv_transpose2d: the sizes are too large: the arithmetic overflows"));
    }
    // Sizes that fit still work.
    CHECK(conv_output({.input = 5, .kernel = 3, .padding = 1}).value == 5);
}
