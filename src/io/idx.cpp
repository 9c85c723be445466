#include <katachi/io/idx.hpp>
