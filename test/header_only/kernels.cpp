// The one file of test/header_only's split LeNet program that compiles katachi's kernels: the
// program's other file (examples/lenet_graph.cpp) is compiled with KATACHI_EXTERN_KERNELS and takes
// them from here, with no libkatachi.
#include <katachi/instantiate.hpp>
