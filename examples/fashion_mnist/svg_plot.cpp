// examples/fashion_mnist/svg_plot.cpp
#include "svg_plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <system_error>

namespace fashion_mnist {

namespace {

constexpr double chart_width = 460, chart_height = 340;
constexpr double left = 60, right = 20, top = 40, bottom = 70;

std::string num(double v) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.1f", v);
    return buffer;
}

std::string tick_text(double v, double step) {
    char buffer[32];
    const int digits = step >= 1 ? 0 : std::min(4, static_cast<int>(std::ceil(-std::log10(step))));
    std::snprintf(buffer, sizeof buffer, "%.*f", digits, v);
    return buffer;
}

// A step of 1, 2 or 5 times a power of ten giving about four intervals over [lo, hi].
double nice_step(double lo, double hi) {
    const double raw = (hi - lo) / 4;
    const double power = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 5.0})
        if (m * power >= raw) return m * power;
    return 10 * power;
}

std::string chart(const svg_chart& c, double x0) {
    double xmin = std::numeric_limits<double>::max(), xmax = -xmin, ymin = xmin, ymax = -xmin;
    for (const auto& s : c.series)
        for (const auto& [x, y] : s.points) {
            xmin = std::min(xmin, x), xmax = std::max(xmax, x);
            ymin = std::min(ymin, y), ymax = std::max(ymax, y);
        }
    if (xmin > xmax) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
    xmin = std::min(xmin, 0.0);
    if (xmax - xmin < 1e-12) xmax = xmin + 1;
    if (ymax - ymin < 1e-12) ymin -= 0.05, ymax += 0.05;
    const double ystep = nice_step(ymin, ymax);
    ymin = std::floor(ymin / ystep) * ystep, ymax = std::ceil(ymax / ystep) * ystep;
    const double xstep = std::max(1.0, nice_step(xmin, xmax));
    xmax = std::ceil(xmax / xstep) * xstep;

    const double w = chart_width - left - right, h = chart_height - top - bottom;
    const auto px = [&](double x) { return x0 + left + (x - xmin) / (xmax - xmin) * w; };
    const auto py = [&](double y) { return top + h - (y - ymin) / (ymax - ymin) * h; };

    std::string out = "<text x=\"" + num(x0 + chart_width / 2) +
                      "\" y=\"24\" text-anchor=\"middle\" font-size=\"16\">" + c.title + "</text>\n";
    out += "<rect x=\"" + num(px(xmin)) + "\" y=\"" + num(top) + "\" width=\"" + num(w) + "\" height=\"" +
           num(h) + "\" fill=\"none\" stroke=\"#444\"/>\n";
    for (double y = ymin; y <= ymax + ystep / 2; y += ystep)
        out += "<line x1=\"" + num(px(xmin)) + "\" x2=\"" + num(px(xmax)) + "\" y1=\"" + num(py(y)) +
               "\" y2=\"" + num(py(y)) + "\" stroke=\"#ddd\"/><text x=\"" + num(px(xmin) - 6) + "\" y=\"" +
               num(py(y) + 4) + "\" text-anchor=\"end\" font-size=\"11\">" + tick_text(y, ystep) +
               "</text>\n";
    for (double x = xmin; x <= xmax + xstep / 2; x += xstep)
        out += "<text x=\"" + num(px(x)) + "\" y=\"" + num(top + h + 16) +
               "\" text-anchor=\"middle\" font-size=\"11\">" + tick_text(x, xstep) + "</text>\n";
    out += "<text x=\"" + num(px((xmin + xmax) / 2)) + "\" y=\"" + num(top + h + 34) +
           "\" text-anchor=\"middle\" font-size=\"12\">" + c.x_label + "</text>\n";
    double legend_y = top + h + 52;
    double legend_x = px(xmin);
    for (const auto& s : c.series) {
        std::string path;
        for (const auto& [x, y] : s.points)
            path += (path.empty() ? "M" : " L") + num(px(x)) + " " + num(py(y));
        if (s.points.size() > 1)
            out +=
                "<path d=\"" + path + "\" fill=\"none\" stroke=\"" + s.colour + "\" stroke-width=\"1.5\"/>\n";
        if (s.markers)
            for (const auto& [x, y] : s.points)
                out += "<circle cx=\"" + num(px(x)) + "\" cy=\"" + num(py(y)) + "\" r=\"3.5\" fill=\"" +
                       s.colour + "\"/>\n";
        out += "<rect x=\"" + num(legend_x) + "\" y=\"" + num(legend_y - 9) +
               "\" width=\"12\" height=\"4\" fill=\"" + s.colour + "\"/><text x=\"" + num(legend_x + 16) +
               "\" y=\"" + num(legend_y - 3) + "\" font-size=\"11\">" + s.label + "</text>\n";
        legend_x += 20 + 6.5 * static_cast<double>(s.label.size()) + 14;
    }
    return out;
}

}  // namespace

std::string svg_document(const std::vector<svg_chart>& charts) {
    const double width = chart_width * static_cast<double>(std::max<std::size_t>(1, charts.size()));
    std::string out =
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(width) + "\" height=\"" +
        num(chart_height) + "\" viewBox=\"0 0 " + num(width) + " " + num(chart_height) +
        "\" font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    for (std::size_t i = 0; i < charts.size(); ++i)
        out += chart(charts[i], chart_width * static_cast<double>(i));
    return out + "</svg>\n";
}

void write_svg(const std::filesystem::path& path, const std::vector<svg_chart>& charts) {
    const std::string text = svg_document(charts);
    std::filesystem::path temporary = path;
    temporary += ".tmp";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        out << text;
        out.flush();
        if (!out) {
            std::error_code ignored;
            std::filesystem::remove(temporary, ignored);
            throw std::runtime_error("cannot write " + path.string());
        }
    }
    std::filesystem::rename(temporary, path);
}

}  // namespace fashion_mnist
