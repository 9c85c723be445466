// examples/embedded/fault_demo.cpp: an image that executes an undefined instruction, to check that
// a fault is reported (the fault, its pc, CFSR) and ends QEMU with a failure status.
#include "runtime.hpp"

int main() {
    device::line() << "executing an undefined instruction";
    asm volatile("udf #0");
    device::line() << "not reached";
    return 0;
}
