#include "image_io.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "error.hpp"

#ifdef L2M_EDGE_HAVE_PNG
#include <png.h>
#endif
#ifdef L2M_EDGE_HAVE_OPENCV
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#endif

namespace l2m {

size_t Tensor::numel() const {
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    return shape.empty() ? 0 : n;
}

std::string shape_string(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
    return s + "]";
}

namespace {

std::string extension(const std::string& path) {
    std::string ext = std::filesystem::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext;
}

struct RgbImage {
    int64_t height = 0, width = 0;
    std::vector<unsigned char> pixels;  // interleaved RGB
};

}  // namespace

Tensor read_bin(const std::string& path, int64_t channels, int64_t height, int64_t width) {
    std::ifstream file(path, std::ios::binary | std::ios::ate);
    if (!file) throw RunnerError(path + ": cannot be opened");
    const auto bytes = static_cast<size_t>(file.tellg());
    const size_t image_bytes = sizeof(float) * static_cast<size_t>(channels * height * width);
    if (bytes == 0 || bytes % image_bytes != 0) {
        throw RunnerError(path + ": " + std::to_string(bytes) + " bytes is not a whole number of float32 [" + std::to_string(channels) + "," +
                          std::to_string(height) + "," + std::to_string(width) + "] images (" + std::to_string(image_bytes) + " bytes each)");
    }
    Tensor tensor;
    tensor.shape = {static_cast<int64_t>(bytes / image_bytes), channels, height, width};
    tensor.data.resize(bytes / sizeof(float));
    file.seekg(0);
    file.read(reinterpret_cast<char*>(tensor.data.data()), static_cast<std::streamsize>(bytes));
    if (!file) throw RunnerError(path + ": read error");
    return tensor;  // little-endian hosts only (x86-64, aarch64), like numpy's tofile() there
}

namespace {

// The next whitespace-separated header token of a PNM file, skipping '#' comments.
std::string pnm_token(std::istream& in) {
    std::string token;
    while (in) {
        int c = in.get();
        if (c == '#') {
            while (in && c != '\n') c = in.get();
        } else if (std::isspace(c)) {
            if (!token.empty()) return token;
        } else if (c != EOF) {
            token += static_cast<char>(c);
        }
    }
    return token;
}

RgbImage read_ppm(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw RunnerError(path + ": cannot be opened");
    RgbImage image;
    try {
        if (pnm_token(file) != "P6") throw RunnerError(path + ": not a binary PPM (P6) image");
        image.width = std::stoll(pnm_token(file));
        image.height = std::stoll(pnm_token(file));
        if (std::stoll(pnm_token(file)) != 255) throw RunnerError(path + ": only 8-bit PPM (maxval 255) is read");
    } catch (const std::invalid_argument&) {
        throw RunnerError(path + ": malformed PPM header");
    }
    if (image.width <= 0 || image.height <= 0 || image.width * image.height > (1LL << 28)) throw RunnerError(path + ": bad PPM size");
    image.pixels.resize(static_cast<size_t>(image.width * image.height * 3));
    file.read(reinterpret_cast<char*>(image.pixels.data()), static_cast<std::streamsize>(image.pixels.size()));
    if (!file) throw RunnerError(path + ": truncated PPM pixel data");
    return image;
}

void write_ppm(const std::string& path, int64_t height, int64_t width, const std::vector<unsigned char>& rgb) {
    std::ofstream file(path, std::ios::binary);
    file << "P6\n" << width << " " << height << "\n255\n";
    file.write(reinterpret_cast<const char*>(rgb.data()), static_cast<std::streamsize>(rgb.size()));
    if (!file) throw RunnerError(path + ": cannot be written");
}

#ifdef L2M_EDGE_HAVE_PNG
RgbImage read_png(const std::string& path) {
    png_image png;
    std::memset(&png, 0, sizeof(png));
    png.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&png, path.c_str())) throw RunnerError(path + ": unreadable PNG (" + png.message + ")");
    png.format = PNG_FORMAT_RGB;
    RgbImage image;
    image.height = png.height;
    image.width = png.width;
    image.pixels.resize(PNG_IMAGE_SIZE(png));
    if (!png_image_finish_read(&png, nullptr, image.pixels.data(), 0, nullptr)) {
        png_image_free(&png);
        throw RunnerError(path + ": unreadable PNG (" + png.message + ")");
    }
    return image;
}

void write_png(const std::string& path, int64_t height, int64_t width, const std::vector<unsigned char>& rgb) {
    png_image png;
    std::memset(&png, 0, sizeof(png));
    png.version = PNG_IMAGE_VERSION;
    png.width = static_cast<png_uint_32>(width);
    png.height = static_cast<png_uint_32>(height);
    png.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_file(&png, path.c_str(), 0, rgb.data(), 0, nullptr)) {
        throw RunnerError(path + ": cannot be written (" + png.message + ")");
    }
}
#endif

#ifdef L2M_EDGE_HAVE_OPENCV
RgbImage read_opencv(const std::string& path) {
    cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR);
    if (bgr.empty()) throw RunnerError(path + ": OpenCV cannot read this image");
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    RgbImage image;
    image.height = rgb.rows;
    image.width = rgb.cols;
    image.pixels.assign(rgb.data, rgb.data + rgb.total() * 3);
    return image;
}

void write_opencv(const std::string& path, int64_t height, int64_t width, const std::vector<unsigned char>& rgb) {
    cv::Mat rgb_mat(static_cast<int>(height), static_cast<int>(width), CV_8UC3, const_cast<unsigned char*>(rgb.data()));
    cv::Mat bgr;
    cv::cvtColor(rgb_mat, bgr, cv::COLOR_RGB2BGR);
    if (!cv::imwrite(path, bgr)) throw RunnerError(path + ": OpenCV cannot write this image format");
}
#endif

// A face crop of another size is scaled; an image of another shape is a photo or a frame, and squashing
// it into the model is not an edit.
std::string crop_shape_refusal(const std::string& path, const RgbImage& image, int64_t height, int64_t width) {
    return path + ": a " + std::to_string(image.width) + "x" + std::to_string(image.height) + " image; the runner edits aligned face crops shaped like the model's input (" +
           std::to_string(width) + "x" + std::to_string(height) + "; other sizes of that shape are scaled), it does not find, align or paste back faces: edit photos with "
           "`l2m-edge edit PHOTO --model ARTIFACT --out FOLDER`";
}

std::string supported_list() {
    std::string list = ".bin";
    for (const std::string& ext : image_extensions()) list += ", " + ext;
    return list;
}

}  // namespace

std::vector<std::string> image_extensions() {
    std::vector<std::string> exts = {".ppm"};
#ifdef L2M_EDGE_HAVE_PNG
    exts.push_back(".png");
#endif
#ifdef L2M_EDGE_HAVE_OPENCV
    for (const char* ext : {".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}) exts.emplace_back(ext);
#endif
    return exts;
}

Tensor rgb_to_tensor(const unsigned char* rgb, int64_t height, int64_t width, int64_t out_height, int64_t out_width) {
    Tensor tensor;
    tensor.shape = {1, 3, out_height, out_width};
    tensor.data.resize(static_cast<size_t>(3 * out_height * out_width));
    const size_t plane = static_cast<size_t>(out_height * out_width);
    // Bilinear with half-pixel centres (OpenCV's INTER_LINEAR); the identity when the sizes agree.
    const double sy = static_cast<double>(height) / out_height, sx = static_cast<double>(width) / out_width;
    for (int64_t y = 0; y < out_height; ++y) {
        const double fy = std::clamp((y + 0.5) * sy - 0.5, 0.0, static_cast<double>(height - 1));
        const auto y0 = static_cast<int64_t>(fy);
        const int64_t y1 = std::min(y0 + 1, height - 1);
        const double wy = fy - y0;
        for (int64_t x = 0; x < out_width; ++x) {
            const double fx = std::clamp((x + 0.5) * sx - 0.5, 0.0, static_cast<double>(width - 1));
            const auto x0 = static_cast<int64_t>(fx);
            const int64_t x1 = std::min(x0 + 1, width - 1);
            const double wx = fx - x0;
            for (int64_t c = 0; c < 3; ++c) {
                auto px = [&](int64_t yy, int64_t xx) { return static_cast<double>(rgb[(yy * width + xx) * 3 + c]); };
                const double value = (1 - wy) * ((1 - wx) * px(y0, x0) + wx * px(y0, x1)) + wy * ((1 - wx) * px(y1, x0) + wx * px(y1, x1));
                tensor.data[static_cast<size_t>(c) * plane + static_cast<size_t>(y * out_width + x)] = static_cast<float>(value / 127.5 - 1.0);
            }
        }
    }
    return tensor;
}

std::vector<unsigned char> tensor_to_rgb(const Tensor& tensor, size_t index) {
    const int64_t height = tensor.shape[2], width = tensor.shape[3];
    const size_t plane = static_cast<size_t>(height * width);
    const float* image = tensor.data.data() + index * 3 * plane;
    std::vector<unsigned char> rgb(3 * plane);
    for (size_t i = 0; i < plane; ++i) {
        for (size_t c = 0; c < 3; ++c) {
            const double value = std::round((static_cast<double>(image[c * plane + i]) + 1.0) * 127.5);
            rgb[i * 3 + c] = static_cast<unsigned char>(std::clamp(value, 0.0, 255.0));
        }
    }
    return rgb;
}

bool is_image_extension(const std::string& ext) {
    const std::vector<std::string> exts = image_extensions();
    return std::find(exts.begin(), exts.end(), ext) != exts.end();
}

void check_output_path(const std::string& path, int64_t batch) {
    const std::string ext = extension(path);
    if (ext != ".bin" && !is_image_extension(ext)) {
        throw usage_error(path + ": unsupported output type '" + ext + "'; this build writes " + supported_list());
    }
    if (ext != ".bin" && batch != 1) throw usage_error(path + ": a batch of " + std::to_string(batch) + " images needs a .bin output");
}

Tensor read_input(const std::string& path, int64_t height, int64_t width) {
    if (!std::filesystem::is_regular_file(path)) throw RunnerError(path + ": no such input file");
    const std::string ext = extension(path);
    if (ext == ".bin") return read_bin(path, 3, height, width);
    RgbImage image;
    if (ext == ".ppm") {
        image = read_ppm(path);
#ifdef L2M_EDGE_HAVE_PNG
    } else if (ext == ".png") {
        image = read_png(path);
#endif
#ifdef L2M_EDGE_HAVE_OPENCV
    } else if (ext != ".bin" && is_image_extension(ext)) {
        image = read_opencv(path);
#endif
    } else {
        throw usage_error(path + ": unsupported input type '" + ext + "'; this build reads " + supported_list());
    }
    if (image.width * height != image.height * width) throw RunnerError(crop_shape_refusal(path, image, height, width));
    return rgb_to_tensor(image.pixels.data(), image.height, image.width, height, width);
}

void write_output(const std::string& path, const Tensor& tensor) {
    const std::string ext = extension(path);
    if (ext == ".bin") {
        std::ofstream file(path, std::ios::binary);
        file.write(reinterpret_cast<const char*>(tensor.data.data()), static_cast<std::streamsize>(tensor.data.size() * sizeof(float)));
        if (!file) throw RunnerError(path + ": cannot be written");
        return;
    }
    check_output_path(path, tensor.batch());
    const std::vector<unsigned char> rgb = tensor_to_rgb(tensor, 0);
    const int64_t height = tensor.shape[2], width = tensor.shape[3];
    if (ext == ".ppm") return write_ppm(path, height, width, rgb);
#ifdef L2M_EDGE_HAVE_PNG
    if (ext == ".png") return write_png(path, height, width, rgb);
#endif
#ifdef L2M_EDGE_HAVE_OPENCV
    return write_opencv(path, height, width, rgb);
#endif
}

}  // namespace l2m
