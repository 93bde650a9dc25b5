#include "video.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "error.hpp"
#include "image_io.hpp"

#ifdef L2M_EDGE_HAVE_OPENCV
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#endif

namespace l2m {

bool video_supported() {
#ifdef L2M_EDGE_HAVE_OPENCV
    return true;
#else
    return false;
#endif
}

bool is_video_path(const std::string& path) {
    std::string ext = std::filesystem::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const char* known : {".mp4", ".avi", ".mov", ".mkv", ".webm"}) {
        if (ext == known) return true;
    }
    return false;
}

#ifdef L2M_EDGE_HAVE_OPENCV
VideoResult edit_video(Backend& backend, const std::string& input, const std::string& output, int64_t height, int64_t width,
                       int64_t source, int64_t target, float strength, int warmup) {
    cv::VideoCapture capture(input);
    if (!capture.isOpened()) throw RunnerError(input + ": OpenCV cannot open this video");
    const double fps = capture.get(cv::CAP_PROP_FPS) > 0 ? capture.get(cv::CAP_PROP_FPS) : 25.0;
    cv::VideoWriter writer;
    VideoResult result;
    cv::Mat frame, rgb, edited_bgr;
    Tensor edited;
    EditRequest request{nullptr, {source}, {target}, {strength}};
    while (capture.read(frame)) {
        cv::cvtColor(frame, rgb, cv::COLOR_BGR2RGB);
        const Tensor image = rgb_to_tensor(rgb.data, rgb.rows, rgb.cols, height, width);
        request.image = &image;
        const auto t0 = std::chrono::steady_clock::now();
        backend.infer(request, edited);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        if (result.frames++ >= warmup) result.timings_ms.push_back(ms);
        if (output.empty()) continue;
        std::vector<unsigned char> out_rgb = tensor_to_rgb(edited, 0);
        cv::Mat small(static_cast<int>(height), static_cast<int>(width), CV_8UC3, out_rgb.data());
        cv::Mat resized;
        cv::resize(small, resized, frame.size(), 0, 0, cv::INTER_LINEAR);
        cv::cvtColor(resized, edited_bgr, cv::COLOR_RGB2BGR);
        if (!writer.isOpened()) {
            writer.open(output, cv::VideoWriter::fourcc('m', 'p', '4', 'v'), fps, frame.size());
            if (!writer.isOpened()) throw RunnerError(output + ": OpenCV cannot write this video (try .mp4 or .avi)");
        }
        writer.write(edited_bgr);
    }
    if (result.frames == 0) throw RunnerError(input + ": the video has no readable frames");
    return result;
}
#else
VideoResult edit_video(Backend&, const std::string& input, const std::string&, int64_t, int64_t, int64_t, int64_t, float, int) {
    throw RunnerError(input + ": this runner was built without OpenCV, so it reads no video; install OpenCV C++ (libopencv-dev) and rebuild");
}
#endif

}  // namespace l2m
