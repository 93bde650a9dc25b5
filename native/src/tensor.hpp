// A dense float32 NCHW tensor on the host: what the runner reads, feeds and writes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace l2m {

struct Tensor {
    std::vector<int64_t> shape;  // N, C, H, W
    std::vector<float> data;

    int64_t batch() const { return shape.empty() ? 0 : shape[0]; }
    size_t numel() const;
};

std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace l2m
