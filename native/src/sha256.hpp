// SHA-256 (FIPS 180-4), so the runner checks an artifact's files against the manifest by itself.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace l2m {

class Sha256 {
public:
    Sha256();
    void update(const void* data, size_t size);
    std::array<uint8_t, 32> finish();

private:
    void compress(const uint8_t* block);
    std::array<uint32_t, 8> state_;
    std::array<uint8_t, 64> buffer_{};
    size_t buffered_ = 0;
    uint64_t total_bytes_ = 0;
};

std::string to_hex(const std::array<uint8_t, 32>& digest);
// Lower-case hex digest of a file; throws std::runtime_error if it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace l2m
