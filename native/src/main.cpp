// l2m-edge-runner: run an exported L2M-GAN editor without Python.
//
//   l2m-edge-runner ARTIFACT_DIR --input in.png|in.ppm|in.bin [--output out.png|out.ppm|out.bin] [--masks masks.bin]
//                   [--source N|NAME] [--target N|NAME] [--strength 1.0] [--backend auto|openvino|tensorrt]
//                   [--device CPU] [--precision manifest|fp32|fp16|bf16|default] [--threads N] [--warmup 5] [--iters 50]
//                   [--engine model.engine] [--json]
//
// The artifact is loaded through its manifest.json; its self-hash and every listed file's sha256 are checked first.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "backend.hpp"
#include "error.hpp"
#include "image_io.hpp"
#include "json_writer.hpp"
#include "latency.hpp"
#include "manifest.hpp"
#include "video.hpp"

#ifndef L2M_EDGE_VERSION
#define L2M_EDGE_VERSION "0.0.0"
#endif

namespace l2m {
namespace {

struct Arguments {
    std::string artifact, input, output, source = "0", target = "1", backend = "auto", engine, masks;
    float strength = 1.0f;
    BackendOptions options;
    int warmup = 5, iters = 50;
    bool json = false;
};

const char* kUsage =
    "usage: l2m-edge-runner ARTIFACT_DIR --input FILE [--output FILE] [--masks FILE] [--source N|NAME] [--target N|NAME]\n"
    "                       [--strength A] [--backend auto|openvino|tensorrt] [--device CPU] [--threads N]\n"
    "                       [--precision manifest|fp32|fp16|bf16|default] [--warmup N] [--iters N] [--engine FILE] [--json]\n"
    "\n"
    "Edits FILE with the exported editor in ARTIFACT_DIR (its manifest.json and files are sha256-checked)\n"
    "and reports latency over --iters timed runs after --warmup runs.\n"
    "  --input    .bin (little-endian float32 NCHW in [-1, 1], whole images of the model's size)\n"
    "  --masks    .bin (float32 [N, 2, H, W] in [0, 1]): required by high-pass artifacts (a `masks` input, w_hpf > 0)";

int parse_int(const std::string& flag, const std::string& value, int minimum) {
    try {
        size_t used = 0;
        const int parsed = std::stoi(value, &used);
        if (used == value.size() && parsed >= minimum) return parsed;
    } catch (const std::exception&) {
    }
    throw usage_error(flag + " needs an integer ≥ " + std::to_string(minimum) + ", got '" + value + "'");
}

float parse_float(const std::string& flag, const std::string& value) {
    try {
        size_t used = 0;
        const float parsed = std::stof(value, &used);
        if (used == value.size() && std::isfinite(parsed)) return parsed;
    } catch (const std::exception&) {
    }
    throw usage_error(flag + " needs a finite number, got '" + value + "'");
}

Arguments parse_arguments(int argc, char** argv) {
    Arguments args;
    std::vector<std::string> positional;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        if (flag == "-h" || flag == "--help") {
            std::printf("%s", kUsage);
            for (const std::string& ext : image_extensions()) std::printf(", %s", ext.c_str());
            std::printf("\n  backends in this build:");
            for (const std::string& name : available_backends()) std::printf(" %s", name.c_str());
            std::exit(0);
        }
        if (flag == "--version") {
            std::printf("l2m-edge-runner %s\n", L2M_EDGE_VERSION);
            std::exit(0);
        }
        if (flag == "--json") {
            args.json = true;
            continue;
        }
        if (flag.rfind("--", 0) != 0) {
            positional.push_back(flag);
            continue;
        }
        if (i + 1 >= argc) throw usage_error(flag + " needs a value");
        const std::string value = argv[++i];
        if (flag == "--input") args.input = value;
        else if (flag == "--output") args.output = value;
        else if (flag == "--masks") args.masks = value;
        else if (flag == "--source") args.source = value;
        else if (flag == "--target") args.target = value;
        else if (flag == "--strength") args.strength = parse_float(flag, value);
        else if (flag == "--backend") args.backend = value;
        else if (flag == "--device") args.options.device = value;
        else if (flag == "--precision") args.options.precision = value;
        else if (flag == "--threads") args.options.threads = parse_int(flag, value, 0);
        else if (flag == "--engine") args.options.engine = value;
        else if (flag == "--warmup") args.warmup = parse_int(flag, value, 0);
        else if (flag == "--iters") args.iters = parse_int(flag, value, 0);
        else throw usage_error("unknown option " + flag + "; see --help");
    }
    if (positional.size() != 1) throw usage_error("give exactly one ARTIFACT_DIR (got " + std::to_string(positional.size()) + "); see --help");
    args.artifact = positional[0];
    if (args.input.empty()) throw usage_error("--input is required; see --help");
    std::string& p = args.options.precision;
    if (p == "f32") p = "fp32";  // OpenVINO's spelling of the project's names
    if (p == "f16") p = "fp16";
    if (p != "manifest" && p != "fp32" && p != "bf16" && p != "fp16" && p != "default") {
        throw usage_error("unknown precision '" + p + "'; choose manifest (what the export certified), fp32, fp16, bf16 or default (the device's fastest)");
    }
    return args;
}

double elapsed_ms(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

JsonObject latency_json(const LatencyStats& s) {
    JsonObject o;
    o.add("min", s.min).add("mean", s.mean).add("std", s.std).add("p50", s.p50).add("p90", s.p90);
    o.add("p95", s.p95).add("p99", s.p99).add("max", s.max);
    return o;
}

// The face masks a high-pass artifact (a `masks` input, w_hpf > 0) needs for this batch, or none.
Tensor read_masks(const Manifest& manifest, const Arguments& args, int64_t batch, int64_t height, int64_t width) {
    const bool wanted = manifest.has_masks();
    if (!wanted) {
        if (!args.masks.empty()) throw usage_error("--masks given, but this artifact's model takes no masks (w_hpf = 0)");
        return {};
    }
    if (args.masks.empty()) {
        throw usage_error("this artifact's model has high-pass skips (w_hpf > 0) and needs --masks FILE: float32 [N, 2, " +
                          std::to_string(height) + ", " + std::to_string(width) + "] in [0, 1] (l2m_edge.masks draws them from landmarks)");
    }
    Tensor masks = read_bin(args.masks, 2, height, width);
    if (masks.batch() != batch) {
        throw usage_error(args.masks + ": masks for " + std::to_string(masks.batch()) + " images, the input has " + std::to_string(batch));
    }
    return masks;
}

int run(int argc, char** argv) {
    const Arguments args = parse_arguments(argc, argv);
    if (is_video_path(args.input)) throw RunnerError(video_refusal(args.input));
    auto start = std::chrono::steady_clock::now();
    const Manifest manifest = read_manifest(args.artifact);
    verify_files(manifest);
    const double verify_ms = elapsed_ms(start);

    const int64_t source = domain_index(manifest, args.source);
    const int64_t target = domain_index(manifest, args.target);
    const auto [height, width] = manifest.image_size();
    const Tensor image = read_input(args.input, height, width);
    if (!args.output.empty()) check_output_path(args.output, image.batch());
    const Tensor masks = read_masks(manifest, args, image.batch(), height, width);

    start = std::chrono::steady_clock::now();
    std::unique_ptr<Backend> backend = create_backend(args.backend, manifest, args.options);
    const double load_ms = elapsed_ms(start);

    std::vector<double> timings;
    const int64_t batch = image.batch();
    const auto n = static_cast<size_t>(batch);
    EditRequest request{&image, std::vector<int64_t>(n, source), std::vector<int64_t>(n, target), std::vector<float>(n, args.strength),
                        masks.shape.empty() ? nullptr : &masks};
    Tensor edited;
    const int runs = std::max(1, args.warmup + args.iters);
    for (int i = 0; i < runs; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        backend->infer(request, edited);
        if (i >= args.warmup) timings.push_back(elapsed_ms(t0));
    }
    if (!args.output.empty()) write_output(args.output, edited);

    const LatencyStats stats = latency_stats(timings);
    const double fps = stats.mean > 0 ? 1000.0 * static_cast<double>(batch) / stats.mean : 0.0;
    if (args.json) {
        JsonObject report;
        report.add("runner", "l2m-edge-runner").add("backend", backend->name()).add("device", backend->device());
        report.add("precision", args.options.precision).add("requested_precision", backend->requested_precision());
        report.add("actual_precision", backend->precision());
        report.add("threads", args.options.threads).add("format", manifest.format).add("preset", manifest.preset);
        report.add("batch", static_cast<long long>(batch)).add("height", static_cast<long long>(height)).add("width", static_cast<long long>(width));
        report.add("warmup", args.warmup).add("iters", static_cast<long long>(timings.size()));
        report.add("verify_ms", verify_ms).add("load_ms", load_ms);
        report.add("latency_ms", latency_json(stats)).add("fps", fps);
        report.add("source_domain", manifest.domains[static_cast<size_t>(source)]).add("target_domain", manifest.domains[static_cast<size_t>(target)]);
        report.add("strength", static_cast<double>(args.strength)).add("output", args.output);
        std::cout << report.str() << std::endl;
    } else {
        std::printf("%s on %s (precision %s, ran %s): %s -> %s, %s, strength %g\n", backend->name().c_str(), backend->device().c_str(),
                    args.options.precision.c_str(), backend->precision().c_str(), manifest.domains[static_cast<size_t>(source)].c_str(),
                    manifest.domains[static_cast<size_t>(target)].c_str(), manifest.preset.c_str(), static_cast<double>(args.strength));
        std::printf("latency over %zu runs (ms): p50 %.3f  p90 %.3f  p99 %.3f  mean %.3f ± %.3f  min %.3f  max %.3f  -> %.1f FPS\n",
                    timings.size(), stats.p50, stats.p90, stats.p99, stats.mean, stats.std, stats.min, stats.max, fps);
        if (!args.output.empty()) std::printf("wrote %s\n", args.output.c_str());
    }
    return 0;
}

}  // namespace
}  // namespace l2m

int main(int argc, char** argv) {
    try {
        return l2m::run(argc, argv);
    } catch (const l2m::RunnerError& exc) {
        std::fprintf(stderr, "error: %s\n", exc.what());
        return exc.exit_code();
    } catch (const std::exception& exc) {
        std::fprintf(stderr, "error: %s\n", exc.what());
        return 1;
    }
}
