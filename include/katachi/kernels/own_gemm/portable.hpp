// katachi/kernels/own_gemm/portable.hpp: the portable path of katachi's own matrix product
// (kernels/own_gemm.hpp describes the method): strided operands, the scaling of C and the adding of
// a tile into it, the packing of op(B)'s slivers, the matrix-vector products' bodies (shared with
// the AVX2 path) and the portable tiles and panels, for any compiler and processor.
#pragma once

#include <cstddef>
#include <type_traits>

#if defined(__GNUC__) || defined(__clang__)
#define KATACHI_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define KATACHI_ALWAYS_INLINE inline
#endif

namespace katachi::kernels::detail {

// How a strided operand is read: element (i, j) of the matrix as used is at data[i * row + j * col].
// A row-major matrix has (ld, 1); the same storage read transposed has (1, ld).
template <class T>
struct strided {
    const T* data;
    std::size_t row, col;
    const T* at(std::size_t i, std::size_t j) const { return data + i * row + j * col; }
};

// C[rows, cols] = beta * C, or zeros when beta is 0 (C not read).
template <class T>
void scale_rows(std::size_t rows, std::size_t cols, T beta, T* c, std::size_t ldc) {
    for (std::size_t i = 0; i < rows; ++i) {
        T* __restrict c_row = c + i * ldc;
        if (beta == T(0))
            for (std::size_t j = 0; j < cols; ++j) c_row[j] = T(0);
        else if (beta != T(1))
            for (std::size_t j = 0; j < cols; ++j) c_row[j] *= beta;
    }
}

// C[rows, cols] = alpha * tile + beta * C from a tile of sums with leading dimension ld; C is not
// read when read_c is false (beta is 0 on the first panel).
template <class T>
KATACHI_ALWAYS_INLINE void add_tile(std::size_t rows, std::size_t cols, const T* tile, std::size_t ld, T alpha,
                                    T beta, bool read_c, T* c, std::size_t ldc) {
    for (std::size_t i = 0; i < rows; ++i) {
        const T* t = tile + i * ld;
        T* c_row = c + i * ldc;
        if (read_c)
            for (std::size_t j = 0; j < cols; ++j) c_row[j] = alpha * t[j] + beta * c_row[j];
        else
            for (std::size_t j = 0; j < cols; ++j) c_row[j] = alpha * t[j];
    }
}

// Packs op(B)[depth, cols] (cols <= Width) into out[depth][Width], zeros past cols.
template <class T, std::size_t Width>
KATACHI_ALWAYS_INLINE void pack_sliver(std::size_t depth, std::size_t cols, strided<T> b, T* __restrict out) {
    if (b.col == 1) {
        if (cols == Width) {  // a fixed count: whole registers, not a string move per row (GCC's choice)
            for (std::size_t p = 0; p < depth; ++p, out += Width) {
                const T* __restrict src = b.data + p * b.row;
                for (std::size_t j = 0; j < Width; ++j) out[j] = src[j];
            }
            return;
        }
        for (std::size_t p = 0; p < depth; ++p, out += Width) {
            const T* __restrict src = b.data + p * b.row;
            for (std::size_t j = 0; j < Width; ++j) out[j] = j < cols ? src[j] : T(0);
        }
        return;
    }
    // B stored transposed: column j of op(B) is row j of the storage. The packed rows are written in
    // order, each from `cols` rows of the storage, whose cache lines serve the next steps of p too.
    if (cols == Width) {
        for (std::size_t p = 0; p < depth; ++p, out += Width)
            for (std::size_t j = 0; j < Width; ++j) out[j] = b.data[p * b.row + j * b.col];
        return;
    }
    for (std::size_t p = 0; p < depth; ++p, out += Width)
        for (std::size_t j = 0; j < Width; ++j) out[j] = j < cols ? b.data[p * b.row + j * b.col] : T(0);
}

// The matrix-vector products, for a product with one row or one column. `vector` is contiguous.
//   gemv_rows:    y[i * y_step] = alpha * sum_j M[i, j] x[j] + beta * y[i * y_step], i < rows
//   gemv_columns: y[j] = alpha * sum_i M[i, j] x[i] + beta * y[j], j < cols
// M is row-major [rows, cols] with leading dimension ld. Each is written once as a body the
// compiler vectorises, compiled plainly and, on x86-64, for AVX2 (simd.hpp).
template <class T>
KATACHI_ALWAYS_INLINE void gemv_rows_body(std::size_t rows, std::size_t cols, T alpha, const T* m, std::size_t ld,
                                          const T* x, T beta, T* y, std::size_t y_step) {
    constexpr std::size_t lanes = 8;
    for (std::size_t i = 0; i < rows; ++i) {
        const T* __restrict r = m + i * ld;
        T part[lanes] = {};
        const std::size_t whole = cols - cols % lanes;
        for (std::size_t j = 0; j < whole; j += lanes)
            for (std::size_t l = 0; l < lanes; ++l) part[l] += r[j + l] * x[j + l];
        T sum = ((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7]));
        for (std::size_t j = whole; j < cols; ++j) sum += r[j] * x[j];
        T& out = y[i * y_step];
        out = beta == T(0) ? alpha * sum : alpha * sum + beta * out;
    }
}

template <class T>
KATACHI_ALWAYS_INLINE void gemv_columns_body(std::size_t rows, std::size_t cols, T alpha, const T* m,
                                             std::size_t ld, const T* x, T beta, T* __restrict y) {
    scale_rows(std::size_t{1}, cols, beta, y, cols);
    // Four rows of M per pass over y: a quarter of the loads and stores of y. (The loops count to
    // bounds computed first: GCC 12 sees a bogus overflow in `i + 4 <= rows` once sizes are constants.)
    const std::size_t whole = rows - rows % 4;
    for (std::size_t i = 0; i < whole; i += 4) {
        const T s0 = alpha * x[i], s1 = alpha * x[i + 1], s2 = alpha * x[i + 2], s3 = alpha * x[i + 3];
        const T* __restrict r0 = m + i * ld;
        const T* __restrict r1 = r0 + ld;
        const T* __restrict r2 = r1 + ld;
        const T* __restrict r3 = r2 + ld;
        for (std::size_t j = 0; j < cols; ++j) y[j] += (s0 * r0[j] + s1 * r1[j]) + (s2 * r2[j] + s3 * r3[j]);
    }
    for (std::size_t i = whole; i < rows; ++i) {
        const T s = alpha * x[i];
        const T* __restrict r = m + i * ld;
        for (std::size_t j = 0; j < cols; ++j) y[j] += s * r[j];
    }
}

template <class T>
void gemv_rows_portable(std::size_t rows, std::size_t cols, T alpha, const T* m, std::size_t ld, const T* x,
                        T beta, T* y, std::size_t y_step) {
    gemv_rows_body(rows, cols, alpha, m, ld, x, beta, y, y_step);
}
template <class T>
void gemv_columns_portable(std::size_t rows, std::size_t cols, T alpha, const T* m, std::size_t ld, const T* x,
                           T beta, T* y) {
    gemv_columns_body(rows, cols, alpha, m, ld, x, beta, y);
}

// ---- The portable path ----------------------------------------------------------------------

template <class T>
struct portable_blocking {
    static constexpr std::size_t tile_rows = 4;
    static constexpr std::size_t tile_cols = sizeof(T) == 4 ? 8 : 4;
    // One sliver of B of 1 KB: the path's only buffer besides the tile.
    static constexpr std::size_t depth = 1024 / (tile_cols * sizeof(T));
};

// One tile: rows <= tile_rows rows of op(A) (the missing ones read row 0 again and are dropped)
// times a packed sliver, summed in a small array, then added into C[rows, cols] as add_tile does.
template <class T>
KATACHI_ALWAYS_INLINE void portable_tile(std::size_t depth, std::size_t rows, std::size_t cols, strided<T> a,
                                         const T* __restrict packed, T alpha, T beta, bool read_c, T* c,
                                         std::size_t ldc) {
    constexpr std::size_t R = portable_blocking<T>::tile_rows, C = portable_blocking<T>::tile_cols;
    std::size_t offset[R];
    for (std::size_t i = 0; i < R; ++i) offset[i] = (i < rows ? i : 0) * a.row;
    T sum[R][C] = {};
    for (std::size_t p = 0; p < depth; ++p, packed += C) {
        const T* a_p = a.data + p * a.col;
        for (std::size_t i = 0; i < R; ++i) {
            const T scale = a_p[offset[i]];
            for (std::size_t j = 0; j < C; ++j) sum[i][j] += scale * packed[j];
        }
    }
    add_tile(rows, cols, &sum[0][0], C, alpha, beta, read_c, c, ldc);
}

// C = alpha op(A) op(B) + beta C on the portable path, m, n, k >= 1.
template <class T>
void portable_product(std::size_t m, std::size_t n, std::size_t k, T alpha, strided<T> a, strided<T> b, T beta,
                      T* c, std::size_t ldc) {
    using blocking = portable_blocking<T>;
    constexpr std::size_t R = blocking::tile_rows, C = blocking::tile_cols, D = blocking::depth;
    T packed[D * C];
    for (std::size_t p0 = 0; p0 < k; p0 += D) {
        const std::size_t depth = k - p0 < D ? k - p0 : D;
        const bool first = p0 == 0;
        const bool read_c = !(first && beta == T(0));
        const T scale_c = first ? beta : T(1);
        for (std::size_t j0 = 0; j0 < n; j0 += C) {
            const std::size_t cols = n - j0 < C ? n - j0 : C;
            pack_sliver<T, C>(depth, cols, strided<T>{b.at(p0, j0), b.row, b.col}, packed);
            for (std::size_t i0 = 0; i0 < m; i0 += R) {
                const std::size_t rows = m - i0 < R ? m - i0 : R;
                portable_tile<T>(depth, rows, cols, strided<T>{a.at(i0, p0), a.row, a.col}, packed, alpha, scale_c,
                                 read_c, c + i0 * ldc + j0, ldc);
            }
        }
    }
}

}  // namespace katachi::kernels::detail
