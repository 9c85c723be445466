// test/eager/eager_support.hpp: moving values between eager tensors and xtensor arrays in tests.
#pragma once

#include <katachi/eager/tensor.hpp>
#include <vector>
#include <xtensor/xarray.hpp>

namespace katachi::test {

template <class T>
eager::basic_tensor<T> from_xarray(const xt::xarray<T>& a) {
    return eager::basic_tensor<T>::from(std::vector<T>(a.begin(), a.end()), eager::sizes(a.shape()));
}

template <class T>
xt::xarray<T> to_xarray(const eager::basic_tensor<T>& t) {
    const std::vector<T> v = t.to_vector();
    std::vector<std::size_t> shape(t.shape().begin(), t.shape().end());
    xt::xarray<T> a = xt::zeros<T>(shape);
    std::copy(v.begin(), v.end(), a.begin());
    return a;
}

}  // namespace katachi::test
