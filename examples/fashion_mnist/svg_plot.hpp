// examples/fashion_mnist/svg_plot.hpp: line charts as a standalone SVG file (no dependencies).
//
//   svg_chart loss{"loss", "epoch"};
//   loss.add({"training loss", "#1f77b4", points});
//   write_svg(path, {loss, accuracy});   // the charts side by side
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace fashion_mnist {

struct svg_series {
    std::string label;
    std::string colour;  // any SVG colour: "#1f77b4"
    std::vector<std::pair<double, double>> points;
    bool markers = true;  // a dot at every point (needed to see a series of one point)
};

struct svg_chart {
    std::string title;
    std::string x_label;
    std::vector<svg_series> series;
};

// The charts as one SVG document, side by side.
std::string svg_document(const std::vector<svg_chart>& charts);

// Writes the document atomically (a temporary file renamed over the target).
void write_svg(const std::filesystem::path& path, const std::vector<svg_chart>& charts);

}  // namespace fashion_mnist
