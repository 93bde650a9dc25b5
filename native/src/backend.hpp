// One interface for every inference runtime the runner can use (OpenVINO, TensorRT), so main()
// and the timing loop never know which one runs. Each backend lives in its own file, compiled
// only when its runtime was found.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "manifest.hpp"
#include "tensor.hpp"

namespace l2m {

struct BackendOptions {
    std::string device = "CPU";         // OpenVINO device name (CPU, GPU, NPU, AUTO); TensorRT: CUDA device index
    // precision to compute in: manifest (what the export certified: the manifest's compute_precision) | fp32 | fp16 | bf16 | default (the device's fastest)
    std::string precision = "manifest";
    int threads = 0;                    // CPU inference threads; 0 lets the runtime choose
    std::string engine;                 // TensorRT: a serialized engine not listed in the manifest (built on the device)
};

// The Editor's inputs for a batch of N images.
struct EditRequest {
    const Tensor* image = nullptr;  // [N, 3, H, W] in [-1, 1]
    std::vector<int64_t> source_domain;
    std::vector<int64_t> target_domain;
    std::vector<float> strength;
    const Tensor* masks = nullptr;  // [N, 2, H, W] in [0, 1]: only for graphs with a `masks` input (w_hpf > 0)
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string name() const = 0;       // "openvino" | "tensorrt"
    virtual std::string device() const = 0;     // what actually runs it, e.g. "CPU" or "GPU 0: Orin"
    // What actually runs, in the project's names (fp32 | fp16 | bf16 | int8), like the Python backends' `precision`.
    virtual std::string precision() const = 0;
    // What the runtime was asked to compute in after resolving `manifest` (fp32 | fp16 | bf16 | default).
    virtual std::string requested_precision() const = 0;
    // Runs one edit; `edited` receives [N, 3, H, W]. Throws RunnerError on failure.
    virtual void infer(const EditRequest& request, Tensor& edited) = 0;
};

// The backends compiled into this build, in order of preference.
std::vector<std::string> available_backends();
// `kind` is a name from available_backends() or "auto" (TensorRT for tensorrt/jetson artifacts, else OpenVINO).
std::unique_ptr<Backend> create_backend(const std::string& kind, const Manifest& manifest, const BackendOptions& options);

#ifdef L2M_EDGE_WITH_OPENVINO
std::unique_ptr<Backend> make_openvino_backend(const Manifest& manifest, const BackendOptions& options);
#endif
#ifdef L2M_EDGE_WITH_TENSORRT
std::unique_ptr<Backend> make_tensorrt_backend(const Manifest& manifest, const BackendOptions& options);
#endif

}  // namespace l2m
