// libkatachi's copy of the instances that a program compiled with KATACHI_EXTERN_KERNELS takes from
// elsewhere: the kernels' float and double instances that katachi/instances.hpp declares extern, and
// those the data and optimiser headers declare at their ends. katachi/instantiate.hpp lists them, so
// that a program built from the headers alone can compile the same in a file of its own.
#include <katachi/instantiate.hpp>
