// Printing tensors as PyTorch's repr does with its default print options (precision 4, line width
// 80, more than 1000 elements summarised to the first and last 3 entries of each dimension).
//
// The numbers of a float tensor share one format, chosen from the finite nonzero values shown:
// integral values print as "3." (int mode); a largest/smallest magnitude ratio above 1000, a
// magnitude above 1e8 or (not integral) one below 1e-4 switches to scientific notation with 4
// decimals; otherwise 4 fixed decimals. Every entry is right-aligned to the widest, rows of a
// vector wrap at 80 columns, and the dimensions nest with one blank line fewer per level.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "katachi/eager/index_tensor.hpp"
#include "katachi/eager/tensor.hpp"

namespace katachi::eager {

namespace {

constexpr std::size_t line_width = 80, edge_items = 3, summary_threshold = 1000;

// The flat (row-major) indices of the entries printed: all, or the first and last edge_items of
// every dimension longer than 2 * edge_items when summarising.
void shown_indices(const sizes& shape, std::size_t level, std::size_t base, bool summarize,
                   std::vector<std::size_t>& out) {
    if (level == shape.size()) {
        out.push_back(base);
        return;
    }
    std::size_t stride = 1;
    for (std::size_t i = level + 1; i < shape.size(); ++i) stride *= shape[i];
    const std::size_t n = shape[level];
    for (std::size_t i = 0; i < n; ++i) {
        if (summarize && n > 2 * edge_items && i == edge_items) i = n - edge_items;
        shown_indices(shape, level + 1, base + i * stride, summarize, out);
    }
}

std::string printf_text(const char* format, int width, double v) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, format, width, v);
    return buffer;
}

std::string non_finite(double v) {
    return std::isnan(v) ? "nan" : v < 0 ? "-inf" : "inf";
}

// The float format chosen from the values shown.
struct float_format {
    bool int_mode = true, sci_mode = false;
    std::size_t width = 1;

    explicit float_format(const std::vector<double>& shown) {
        std::vector<double> finite;
        for (const double v : shown)
            if (std::isfinite(v) && v != 0) finite.push_back(v);
        if (finite.empty()) return;
        double lo = std::abs(finite[0]), hi = lo;
        for (const double v : finite) {
            lo = std::min(lo, std::abs(v));
            hi = std::max(hi, std::abs(v));
            if (v != std::ceil(v)) int_mode = false;
        }
        sci_mode = hi / lo > 1000.0 || hi > 1e8 || (!int_mode && lo < 1e-4);
        for (const double v : finite) {
            const std::size_t len = sci_mode ? printf_text("%.*e", 4, v).size()
                                    : int_mode ? printf_text("%.*f", 0, v).size() + 1
                                               : printf_text("%.*f", 4, v).size();
            width = std::max(width, len);
        }
    }

    std::string operator()(double v) const {
        std::string s;
        if (!std::isfinite(v))
            s = non_finite(v);
        else if (sci_mode)
            s = printf_text("%.*e", 4, v);
        else if (int_mode)
            s = printf_text("%.*f", 0, v) + ".";
        else
            s = printf_text("%.*f", 4, v);
        return s.size() < width ? std::string(width - s.size(), ' ') + s : s;
    }
};

// The nested brackets of a tensor of this shape; cell(i) is the padded text of flat entry i.
std::string nested(const sizes& shape, std::size_t level, std::size_t base, std::size_t indent, bool summarize,
                   std::size_t width, const std::function<std::string(std::size_t)>& cell) {
    const std::size_t rank = shape.size();
    if (rank == 0) return cell(0);
    std::size_t stride = 1;
    for (std::size_t i = level + 1; i < rank; ++i) stride *= shape[i];
    const std::size_t n = shape[level];
    std::vector<std::string> items;
    for (std::size_t i = 0; i < n; ++i) {
        if (summarize && n > 2 * edge_items && i == edge_items) {
            items.push_back(level + 1 == rank ? " ..." : "...");
            i = n - edge_items;
        }
        items.push_back(level + 1 == rank ? cell(base + i * stride)
                                          : nested(shape, level + 1, base + i * stride, indent + 1, summarize, width, cell));
    }
    std::string out = "[";
    if (level + 1 == rank) {  // a vector: as many entries per line as fit in the line width
        const std::size_t per_line =
            std::max<std::size_t>(1, indent < line_width ? (line_width - indent) / (width + 2) : 0);
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (i > 0) out += i % per_line == 0 ? ",\n" + std::string(indent + 1, ' ') : ", ";
            out += items[i];
        }
    } else {
        const std::string between = "," + std::string(rank - level - 1, '\n') + std::string(indent + 1, ' ');
        for (std::size_t i = 0; i < items.size(); ++i) out += (i ? between : "") + items[i];
    }
    return out + "]";
}

// "tensor(" + body + the suffixes, each after ", " or on a line of its own when the line would
// pass the line width.
std::string with_suffixes(std::string text, const std::vector<std::string>& suffixes) {
    const std::size_t newline = text.rfind('\n');
    std::size_t last = newline == std::string::npos ? text.size() + 2 : text.size() - newline + 1;
    constexpr std::size_t indent = 7;  // "tensor("
    for (const std::string& s : suffixes) {
        if (last + s.size() + 2 > line_width) {
            text += ",\n" + std::string(indent, ' ') + s;
            last = indent + s.size();
        } else {
            text += ", " + s;
            last += s.size() + 2;
        }
    }
    return text + ")";
}

std::string size_suffix(const sizes& shape) {
    std::string s = "size=(";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + (shape.size() == 1 ? ",)" : ")");
}

// "mul" -> "MulBackward", "log_softmax" -> "LogSoftmaxBackward"
std::string backward_name(const char* op) {
    std::string s;
    bool upper = true;
    for (const char* c = op; *c; ++c) {
        if (*c == '_') {
            upper = true;
            continue;
        }
        s += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(*c))) : *c;
        upper = false;
    }
    return s + "Backward";
}

template <class V, class Format>
std::string body(const sizes& shape, const std::vector<V>& values, std::vector<std::string>& suffixes,
                 Format make_format) {
    if (values.empty()) {
        if (!(shape.size() == 1 && shape[0] == 0)) suffixes.insert(suffixes.begin(), size_suffix(shape));
        return "tensor([]";
    }
    const bool summarize = values.size() > summary_threshold;
    std::vector<std::size_t> shown;
    shown_indices(shape, 0, 0, summarize, shown);
    const auto format = make_format(shown);
    const auto cell = [&](std::size_t i) { return format(values[i]); };
    return "tensor(" + nested(shape, 0, 0, 7, summarize, format.width, cell);
}

}  // namespace

template <class T>
std::ostream& operator<<(std::ostream& os, const basic_tensor<T>& t) {
    if (!t.defined()) return os << "tensor(undefined)";
    if (t.is_uninitialized()) return os << "tensor(uninitialized)";
    const std::vector<T> v = t.to_vector();
    std::vector<std::string> suffixes;
    const std::string text = body(t.shape(), v, suffixes, [&](const std::vector<std::size_t>& shown) {
        std::vector<double> values;
        for (const std::size_t i : shown) values.push_back(static_cast<double>(v[i]));
        return float_format(values);
    });
    if (std::is_same_v<T, double>) suffixes.push_back("dtype=float64");
    if (t.grad_fn_name())
        suffixes.push_back("grad_fn=<" + backward_name(t.grad_fn_name()) + ">");
    else if (t.requires_grad())
        suffixes.push_back("requires_grad=True");
    return os << with_suffixes(text, suffixes);
}

std::ostream& operator<<(std::ostream& os, const index_tensor& t) {
    struct int_format {
        std::size_t width = 1;
        std::string operator()(std::int64_t v) const {
            const std::string s = std::to_string(v);
            return s.size() < width ? std::string(width - s.size(), ' ') + s : s;
        }
    };
    std::vector<std::string> suffixes;
    const std::string text = body(t.shape(), t.to_vector(), suffixes, [&](const std::vector<std::size_t>& shown) {
        int_format f;
        for (const std::size_t i : shown) f.width = std::max(f.width, std::to_string(t.to_vector()[i]).size());
        return f;
    });
    return os << with_suffixes(text, suffixes);
}

template std::ostream& operator<<(std::ostream&, const basic_tensor<float>&);
template std::ostream& operator<<(std::ostream&, const basic_tensor<double>&);

}  // namespace katachi::eager
