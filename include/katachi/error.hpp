// katachi/error.hpp: the one way katachi's headers report a run-time failure, with or without
// exceptions.
//
// Every failure is written KATACHI_THROW(exception_type, constructor arguments...). With exceptions
// (the default; detected by __cpp_exceptions) that is a throw of that exception. Built with
// -fno-exceptions, the same exception object is constructed (so the sentence is the same, word for
// word) and its what() goes to the error handler, which must not return:
//
//   [[noreturn]] void on_error(const char* message) noexcept { log(message); reset_device(); }
//   katachi::set_error_handler(on_error);
//
// The default handler writes the sentence and a newline to stderr and calls std::abort(); a build
// without stdio (bare metal: define KATACHI_NO_STDIO) only aborts. A handler that returns anyway is
// followed by std::abort(): katachi never goes on past a failure.
//
// A handler may leave by longjmp; objects between the failure and the setjmp are then not
// destroyed, so it suits tests and a device's reset path, not a program that goes on for long.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <utility>
#if !defined(KATACHI_NO_STDIO)
#include <cstdio>
#endif

namespace katachi {

// Receives the failure's sentence (the what() the exception would have carried).
using error_handler = void (*)(const char* message) noexcept;

namespace detail {

inline void default_error_handler(const char* message) noexcept {
#if !defined(KATACHI_NO_STDIO)
    std::fputs(message, stderr);
    std::fputs("\n", stderr);
#else
    (void)message;
#endif
    std::abort();
}

inline error_handler& installed_error_handler() noexcept {
    static error_handler handler = default_error_handler;
    return handler;
}

// Builds the exception a throwing build would throw and passes its sentence to the handler.
template <class Exception, class... Args>
[[noreturn]] void fail(Args&&... args) {
    const Exception failure(std::forward<Args>(args)...);
    installed_error_handler()(failure.what());
    std::abort();
}

// A failure whose sentence is already written (the exception's what() would be these characters)
// goes to the handler as it is: no exception object, so no std::string, no heap.
template <class Exception>
[[noreturn]] void fail(const char* message) {
    installed_error_handler()(message);
    std::abort();
}

// A sentence written into a fixed buffer, for failures on paths that must not allocate (a small
// device's inference): text and unsigned numbers, cut at the buffer's end.
//
//   KATACHI_THROW(shape_mismatch, (sentence() << "forward: batch " << n << " > " << max).c_str());
class sentence {
public:
    sentence& operator<<(const char* text) noexcept {
        while (*text && used_ + 1 < sizeof(text_)) text_[used_++] = *text++;
        text_[used_] = '\0';
        return *this;
    }
    sentence& operator<<(unsigned long long value) noexcept {
        char digits[24];
        std::size_t n = 0;
        do digits[n++] = static_cast<char>('0' + value % 10);
        while ((value /= 10) != 0);
        while (n > 0 && used_ + 1 < sizeof(text_)) text_[used_++] = digits[--n];
        text_[used_] = '\0';
        return *this;
    }
    sentence& operator<<(unsigned long value) noexcept { return *this << static_cast<unsigned long long>(value); }
    sentence& operator<<(unsigned value) noexcept { return *this << static_cast<unsigned long long>(value); }
    sentence& operator<<(long long value) noexcept {
        if (value < 0) *this << "-";
        // The magnitude as unsigned: -value would overflow for the most negative value.
        return *this << (value < 0 ? 0ULL - static_cast<unsigned long long>(value) : static_cast<unsigned long long>(value));
    }
    sentence& operator<<(long value) noexcept { return *this << static_cast<long long>(value); }
    sentence& operator<<(int value) noexcept { return *this << static_cast<long long>(value); }
    // A real number with six decimals, as printf's %f writes one of moderate size (|v| < 9e12);
    // larger magnitudes, infinities and NaN are written as "inf", "-inf", "nan".
    sentence& operator<<(double value) noexcept {
        if (value != value) return *this << "nan";
        if (value < 0) {
            *this << "-";
            value = -value;
        }
        if (value >= 9e12) return *this << "inf";
        const auto millionths = static_cast<unsigned long long>(value * 1e6 + 0.5);
        *this << millionths / 1000000 << ".";
        char decimals[7] = {};
        unsigned long long rest = millionths % 1000000;
        for (int i = 5; i >= 0; --i, rest /= 10) decimals[i] = static_cast<char>('0' + rest % 10);
        return *this << static_cast<const char*>(decimals);
    }
    const char* c_str() const noexcept { return text_; }

private:
    char text_[512] = {};
    std::size_t used_ = 0;
};

}  // namespace detail

// Installs `handler` for builds without exceptions and returns the one it replaces; nullptr puts
// the default back. Builds with exceptions throw and never call it.
inline error_handler set_error_handler(error_handler handler) noexcept {
    error_handler& slot = detail::installed_error_handler();
    const error_handler previous = slot;
    slot = handler ? handler : detail::default_error_handler;
    return previous;
}

// Whether this translation unit was built with exceptions.
inline constexpr bool exceptions_enabled =
#if defined(__cpp_exceptions)
    true;
#else
    false;
#endif

}  // namespace katachi

#if defined(__cpp_exceptions)
#define KATACHI_THROW(Exception, ...) throw Exception(__VA_ARGS__)
#else
#define KATACHI_THROW(Exception, ...) ::katachi::detail::fail<Exception>(__VA_ARGS__)
#endif
