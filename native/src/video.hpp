// Videos are refused: the runner edits aligned face crops (the model's input), and a whole frame
// squashed into the model is not an edit. `l2m-edge run` tracks, aligns and pastes faces back.
#pragma once

#include <string>

namespace l2m {

// True for the container extensions treated as video (.mp4, .avi, .mov, .mkv, .webm).
bool is_video_path(const std::string& path);
// The one line a video input gets: what the runner edits instead, and what edits videos.
std::string video_refusal(const std::string& path);

}  // namespace l2m
