// examples/embedded/runtime.hpp: what katachi's Cortex-M7 image has instead of an operating system.
//
//   device::line() << "logits[0] = " << y;    // one line to the host through semihosting
//   device::exit(0);                           // ends QEMU with that exit status
//
// Output goes through Arm semihosting (SYS_WRITE0), so QEMU, run with -semihosting-config
// enable=on,target=native, writes it to its console. No printf, no iostream: newlib's pull in
// malloc, and the image must have none. A float is written as an approximate decimal followed by
// its exact bit pattern in brackets, "0.718750 [0x3f380000]"; the host tests read the brackets.
#pragma once

#include <cstddef>
#include <cstdint>

namespace device {

// Arm semihosting operations the image uses (numbers from Arm's semihosting specification).
enum class semihosting : std::uint32_t {
    open = 0x01,
    close = 0x02,
    write0 = 0x04,
    read = 0x06,
    flen = 0x0C,
    exit = 0x18,
    exit_extended = 0x20,
};

// One semihosting call: the operation in r0, its argument in r1, then BKPT 0xAB (the Thumb
// semihosting trap); the result comes back in r0.
inline std::uintptr_t semihost(semihosting op, std::uintptr_t argument) {
    register std::uintptr_t r0 asm("r0") = static_cast<std::uintptr_t>(op);
    register std::uintptr_t r1 asm("r1") = argument;
    asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

// Writes a zero-terminated string as it is.
void write(const char* text);

// Ends the program: status 0 is success (SYS_EXIT with ADP_Stopped_ApplicationExit); any other
// status is a failure, passed to the host by SYS_EXIT_EXTENDED when the host has it, otherwise
// reported as a run-time error (QEMU then exits with status 1).
[[noreturn]] void exit(int status);

// Bytes of the stack ever written since reset: the painted words left untouched are not counted.
std::size_t stack_used();
std::size_t stack_size();

// A line of output, written when the object goes out of scope (with a newline). Longer lines are
// cut at the buffer's size.
class line {
public:
    line() = default;
    line(const line&) = delete;
    line& operator=(const line&) = delete;
    ~line();

    line& operator<<(const char* text);
    line& operator<<(char c);
    // Integers of 32 bits at most: 64-bit division would bring libgcc's software routines in.
    line& operator<<(long value);
    line& operator<<(unsigned long value);
    line& operator<<(int value) { return *this << static_cast<long>(value); }
    line& operator<<(unsigned value) { return *this << static_cast<unsigned long>(value); }
    line& operator<<(float value);
    line& operator<<(double value);

    // An unsigned value as 0x followed by `digits` hexadecimal digits.
    struct hex {
        std::uint64_t value;
        int digits = 8;
    };
    line& operator<<(hex h);

private:
    void decimal(double value);
    static constexpr std::size_t capacity = 160;
    char text_[capacity + 2] = {};
    std::size_t size_ = 0;
};

}  // namespace device
