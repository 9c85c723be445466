// examples/embedded/runtime.cpp: semihosting output and exit, the stack's high-water mark, fault
// reports, and the few C and C++ run-time hooks the image needs (see runtime.hpp and startup.S).
#include "runtime.hpp"

#include "stack_paint.h"

#include <cstring>

// From the linker script (image.ld).
extern "C" {
extern std::uint32_t __stack_bottom[], __stack_top[];
extern std::uint32_t __flash_start[], __flash_end[], __ram_start[], __ram_end[];
extern std::uint32_t __data_start[], __data_end[], __bss_start[], __bss_end[];
extern void (*__preinit_array_start[])(), (*__preinit_array_end[])();
extern void (*__init_array_start[])(), (*__init_array_end[])();
}

namespace device {

namespace {

// ADP_Stopped reasons of SYS_EXIT.
constexpr std::uint32_t application_exit = 0x20026;
constexpr std::uint32_t run_time_error = 0x20023;

std::uintptr_t address(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

// Whether the host has SYS_EXIT_EXTENDED: the semihosting specification's feature file
// ":semihosting-features" starts with the magic "SHFB", and bit 0 of the byte after it says so.
bool host_has_exit_extended() {
    static const char name[] = ":semihosting-features";
    const std::uintptr_t open_block[3] = {address(name), 0 /* mode "r" */, sizeof name - 1};
    const auto handle = static_cast<std::intptr_t>(semihost(semihosting::open, address(open_block)));
    if (handle < 0) return false;
    unsigned char bytes[5] = {};
    bool yes = false;
    const std::uintptr_t length_block[1] = {static_cast<std::uintptr_t>(handle)};
    if (semihost(semihosting::flen, address(length_block)) >= sizeof bytes) {
        const std::uintptr_t read_block[3] = {static_cast<std::uintptr_t>(handle), address(bytes), sizeof bytes};
        // SYS_READ returns the number of bytes not read.
        if (semihost(semihosting::read, address(read_block)) == 0)
            yes = bytes[0] == 'S' && bytes[1] == 'H' && bytes[2] == 'F' && bytes[3] == 'B' && (bytes[4] & 1) != 0;
    }
    semihost(semihosting::close, address(length_block));
    return yes;
}

}  // namespace

void write(const char* text) { semihost(semihosting::write0, address(text)); }

void exit(int status) {
    if (status == 0) {
        // On AArch32, r1 holds the reason itself, not a pointer to a block.
        semihost(semihosting::exit, application_exit);
    } else {
        if (host_has_exit_extended()) {
            const std::uintptr_t block[2] = {application_exit, static_cast<std::uintptr_t>(status)};
            semihost(semihosting::exit_extended, address(block));
        }
        semihost(semihosting::exit, run_time_error);
    }
    for (;;) asm volatile("wfi");  // a host that ignored the exit: stop here
}

std::size_t stack_size() { return address(__stack_top) - address(__stack_bottom); }

std::size_t stack_used() {
    const std::uint32_t* p = __stack_bottom;
    while (p < __stack_top && *p == KATACHI_STACK_PAINT) ++p;
    return address(__stack_top) - address(p);
}

line::~line() {
    text_[size_] = '\n';
    text_[size_ + 1] = '\0';
    write(text_);
}

line& line::operator<<(const char* text) {
    while (*text != '\0' && size_ < capacity) text_[size_++] = *text++;
    return *this;
}

line& line::operator<<(char c) {
    if (size_ < capacity) text_[size_++] = c;
    return *this;
}

line& line::operator<<(unsigned long value) {
    char digits[12];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + value % 10);
        value /= 10;
    } while (value != 0);
    while (n > 0) *this << digits[--n];
    return *this;
}

line& line::operator<<(long value) {
    if (value < 0) {
        *this << '-';
        return *this << (0ul - static_cast<unsigned long>(value));
    }
    return *this << static_cast<unsigned long>(value);
}

line& line::operator<<(hex h) {
    *this << "0x";
    for (int i = h.digits - 1; i >= 0; --i) *this << "0123456789abcdef"[(h.value >> (4 * i)) & 0xF];
    return *this;
}

// About seven significant digits, for a person to read; the exact value follows in brackets.
void line::decimal(double value) {
    if (value != value) {
        *this << "nan";
        return;
    }
    if (value < 0) {
        *this << '-';
        value = -value;
    }
    if (value > 1e300) {
        *this << "inf";
        return;
    }
    int exponent = 0;
    if (value != 0 && (value >= 1e9 || value < 1e-4)) {
        while (value >= 10) value /= 10, ++exponent;
        while (value < 1) value *= 10, --exponent;
    }
    // Below 1e9 here, so 32 bits hold the whole part (the FPU converts 32-bit integers itself).
    auto whole = static_cast<std::uint32_t>(value);
    auto millionths = static_cast<std::uint32_t>((value - static_cast<double>(whole)) * 1e6 + 0.5);
    if (millionths == 1000000) ++whole, millionths = 0;
    *this << static_cast<unsigned long>(whole) << '.';
    for (std::uint32_t scale = 100000; scale != 0; scale /= 10) *this << static_cast<char>('0' + millionths / scale % 10);
    if (exponent != 0) *this << 'e' << exponent;
}

line& line::operator<<(float value) {
    std::uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    decimal(value);
    return *this << " [" << hex{bits, 8} << ']';
}

line& line::operator<<(double value) {
    std::uint64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    decimal(value);
    return *this << " [" << hex{bits, 16} << ']';
}

}  // namespace device

extern "C" {

// Static constructors, before main (called by Reset_Handler).
void katachi_init() {
    for (auto* f = __preinit_array_start; f != __preinit_array_end; ++f) (*f)();
    for (auto* f = __init_array_start; f != __init_array_end; ++f) (*f)();
}

// After main (Reset_Handler branches here with main's result): the figures the size report needs,
// then the exit. The program never returns to an operating system, so static destructors never run.
[[noreturn]] void katachi_exit(int status) {
    using device::line;
    using hex = line::hex;
    const auto span = [](const void* begin, const void* end) {
        return reinterpret_cast<std::uintptr_t>(end) - reinterpret_cast<std::uintptr_t>(begin);
    };
    const auto at = [](const void* p) { return hex{reinterpret_cast<std::uintptr_t>(p)}; };
    line() << "image: flash " << at(__flash_start) << ".." << at(__flash_end) << " ("
           << span(__flash_start, __flash_end) << " bytes), ram " << at(__ram_start) << ".." << at(__ram_end) << " ("
           << span(__ram_start, __ram_end) << " bytes)";
    line() << "image: .data " << span(__data_start, __data_end) << " bytes, .bss " << span(__bss_start, __bss_end)
           << " bytes";
    line() << "stack used: " << device::stack_used() << " of " << device::stack_size() << " bytes";
    if (status != 0) line() << "FAIL: main returned " << status;
    if (device::stack_used() >= device::stack_size()) {
        line() << "FAIL: the stack may have overflowed (no painted word left)";
        if (status == 0) status = 5;
    }
    line() << "exit status " << status;
    device::exit(status);
}

// A fault vector's report (startup.S): the fault, where it happened, and the fault status registers.
[[noreturn]] void katachi_fault(const std::uint32_t* frame, unsigned number) {
    static const char* const names[] = {"unexpected exception", "", "NMI", "HardFault", "MemManage", "BusFault",
                                        "UsageFault"};
    const auto reg = [](std::uintptr_t at) { return *reinterpret_cast<volatile const std::uint32_t*>(at); };
    using hex = device::line::hex;
    device::line() << "FAIL: " << names[number] << " at pc " << hex{frame[6]} << ", lr " << hex{frame[5]}
                   << ", CFSR " << hex{reg(0xE000ED28)} << ", HFSR " << hex{reg(0xE000ED2C)} << ", MMFAR "
                   << hex{reg(0xE000ED34)} << ", BFAR " << hex{reg(0xE000ED38)};
    device::exit(2);
}

// std::abort (katachi's error handler ends in it): a failure, reported.
[[noreturn]] void abort(void) {
    device::line() << "FAIL: abort";
    device::exit(3);
}

// Static destructors are registered here and never run (see katachi_exit): nothing to store.
int __cxa_atexit(void (*)(void*), void*, void*) { return 0; }
void* __dso_handle = nullptr;

[[noreturn]] void __cxa_pure_virtual() {
    device::line() << "FAIL: pure virtual call";
    device::exit(4);
}

}  // extern "C"
