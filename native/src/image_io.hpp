// Reading inputs and writing outputs: raw float32 tensors (.bin, little-endian NCHW in [-1, 1]),
// binary PPM always, PNG when libpng was found, any format OpenCV reads when it was found.
#pragma once

#include <string>
#include <vector>

#include "tensor.hpp"

namespace l2m {

// An input file as a [N, 3, height, width] tensor in [-1, 1]. A .bin file must hold whole images of
// that size (N = bytes / (4·3·height·width)); an image is resized (bilinear) to height × width.
Tensor read_input(const std::string& path, int64_t height, int64_t width);
// A .bin of float32 [N, channels, height, width] (e.g. the masks of a high-pass model, numpy's tofile()).
Tensor read_bin(const std::string& path, int64_t channels, int64_t height, int64_t width);

// Writes `tensor` to .bin (raw float32), or as an image (.ppm, .png, ...) when it holds one image.
void write_output(const std::string& path, const Tensor& tensor);

// The file extensions this build reads and writes as images (lower case, with the dot).
std::vector<std::string> image_extensions();
bool is_image_extension(const std::string& ext);
// Refuses, before any work is done, an output this build cannot write for `batch` images.
void check_output_path(const std::string& path, int64_t batch);

// 8-bit interleaved RGB <-> [1, 3, H, W] in [-1, 1] (resized bilinearly to the model size).
Tensor rgb_to_tensor(const unsigned char* rgb, int64_t height, int64_t width, int64_t out_height, int64_t out_width);
std::vector<unsigned char> tensor_to_rgb(const Tensor& tensor, size_t index);

}  // namespace l2m
