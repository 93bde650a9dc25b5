// Editing a video frame by frame (only where OpenCV C++ was found at build time): each frame is
// resized to the model's input, edited, resized back and written to the output video.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend.hpp"

namespace l2m {

struct VideoResult {
    int64_t frames = 0;
    std::vector<double> timings_ms;  // per-frame inference time, after the first `warmup` frames
};

bool video_supported();
// True for the container extensions treated as video (.mp4, .avi, .mov, .mkv, .webm).
bool is_video_path(const std::string& path);
// Throws RunnerError when this build has no OpenCV or the video cannot be opened/written.
VideoResult edit_video(Backend& backend, const std::string& input, const std::string& output, int64_t height, int64_t width,
                       int64_t source, int64_t target, float strength, int warmup);

}  // namespace l2m
