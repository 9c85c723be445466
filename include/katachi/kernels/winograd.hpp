// katachi/kernels/winograd.hpp: conv2d's 3x3 stride-1 case as Winograd's minimal filtering
// F(2x2, 3x3), forward and both gradients (conv2d.hpp chooses it: winograd_applies, winograd_pays).
//
// The output is cut into 2x2 tiles, ceil(Ho / 2) x ceil(Wo / 2) per sample; a last row or column of
// tiles that hangs over the edge is computed and its extra outputs dropped. The tile at (ti, tj)
// reads the 4x4 input patch d at (2 ti - pad_h, 2 tj - pad_w), zeros outside the image, and is
//     y = A^T [ (G g G^T) . (B^T d B) ] A       (. elementwise, 16 products instead of 36)
// with the transforms of Lavin and Gray:
//     B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
//     A^T = [1 1 1 0; 0 1 -1 -1]
// Summed over input channels, each of the 16 entries xi of a tile becomes a matrix product over all
// tiles at once: M[xi] (tiles x O) = V[xi] (tiles x C) * U[xi]^T (C x O), with U = G w G^T per
// weight and V = B^T d B per input tile. So one convolution is 16 GEMMs with inner size C where the
// im2col lowering makes one with inner size 9 C: 2.25 times fewer multiplications, paid for by the
// transforms, which are additions.
//
//   winograd_convolve          the forward; also dx, which for stride 1 is the forward on dy with
//                              the weight turned by 180 degrees, its two channel axes swapped and
//                              padding 2 - pad (so pad <= 2)
//   winograd_weight_grad       dU[xi] = sum over tiles of dM[xi]^T V[xi] with dM = A dY A^T per
//                              output tile (dY zero where a tile hangs over), dw = G^T dU G; db
//                              rides along as the sums of dy
//
// The transforms work on channels-last copies of one sample at a time ([pixel][channel]), so each
// runs over the channels of a tile in long contiguous loops, vectorized whatever the image size;
// V and M are [16][tiles][channels]. The samples go in chunks of about winograd_tiles_target tiles,
// each chunk's V and M in scratch, and the chunks are spread over katachi's threads like the im2col
// lowering's (conv2d.hpp).
//
// The pieces, each under kernels/winograd/:
//   shape.hpp        the sizes, winograd_applies, winograd_pays, the scratch and its layout
//   transpose.hpp    planes to channels-last and back, in SSE2 and AVX2 registers
//   transforms.hpp   the weight, input and output transforms over a chunk's tiles
//   forward.hpp      winograd_convolve (y, and dx)
//   weight_grad.hpp  winograd_weight_grad (dw, db)
#pragma once

#include "katachi/kernels/winograd/forward.hpp"
#include "katachi/kernels/winograd/shape.hpp"
#include "katachi/kernels/winograd/transforms.hpp"
#include "katachi/kernels/winograd/transpose.hpp"
#include "katachi/kernels/winograd/weight_grad.hpp"
