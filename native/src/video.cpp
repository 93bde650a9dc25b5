#include "video.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>

namespace l2m {

bool is_video_path(const std::string& path) {
    std::string ext = std::filesystem::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const char* known : {".mp4", ".avi", ".mov", ".mkv", ".webm"}) {
        if (ext == known) return true;
    }
    return false;
}

std::string video_refusal(const std::string& path) {
    return path + ": a video; the runner edits aligned face crops (the model's input size), it does not find, align or paste back "
                  "faces in frames: edit videos with `l2m-edge run --source VIDEO --model ARTIFACT --sink OUT.mp4`";
}

}  // namespace l2m
