// The TensorRT backend: deserializes an engine built on this GPU (the Jetson bundle's
// build_engine.sh, or trtexec) and runs it with the name-based tensor API and enqueueV3
// (TensorRT >= 8.5; 10.x included). Compiled only with -DL2M_EDGE_WITH_TENSORRT=ON.
#include <NvInfer.h>
#include <NvInferVersion.h>
#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <type_traits>

#include "backend.hpp"
#include "error.hpp"

#if NV_TENSORRT_MAJOR < 8 || (NV_TENSORRT_MAJOR == 8 && NV_TENSORRT_MINOR < 5)
#error "the TensorRT backend needs TensorRT >= 8.5 (enqueueV3 and the tensor-name API)"
#endif

namespace l2m {

namespace {

constexpr const char* kBundleEngine = "model.engine";  // what the Jetson bundle's build_engine.sh writes

void check_cuda(cudaError_t status, const char* what) {
    if (status != cudaSuccess) throw RunnerError(std::string("CUDA ") + what + " failed: " + cudaGetErrorString(status));
}

class Logger : public nvinfer1::ILogger {
public:
    void log(Severity severity, const char* message) noexcept override {
        if (severity <= Severity::kERROR) {
            std::fprintf(stderr, "tensorrt: %s\n", message);
            last_error_ = message;
        }
    }
    std::string last_error_;
};

size_t element_size(nvinfer1::DataType type) {
    switch (type) {
        case nvinfer1::DataType::kFLOAT: return 4;
        case nvinfer1::DataType::kHALF: return 2;
        case nvinfer1::DataType::kINT32: return 4;
#if NV_TENSORRT_MAJOR >= 10
        case nvinfer1::DataType::kINT64: return 8;
#endif
        default: return 0;  // a type the runner does not feed
    }
}

// Device memory that grows to the largest size asked for.
struct DeviceBuffer {
    DeviceBuffer() = default;
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    void* ptr = nullptr;
    size_t capacity = 0;
    void reserve(size_t bytes) {
        if (bytes <= capacity) return;
        if (ptr) cudaFree(ptr);
        ptr = nullptr;
        check_cuda(cudaMalloc(&ptr, bytes), "cudaMalloc");
        capacity = bytes;
    }
    ~DeviceBuffer() {
        if (ptr) cudaFree(ptr);
    }
};

struct IoTensor {
    std::string name;
    nvinfer1::DataType type = nvinfer1::DataType::kFLOAT;
    std::vector<unsigned char> host;  // staged in the engine's element type
    DeviceBuffer device;
};

template <typename T>
void stage(IoTensor& io, const std::vector<T>& values) {
    const size_t size = element_size(io.type);
    if (size == 0) throw RunnerError("engine tensor '" + io.name + "' has an element type the runner does not feed");
    io.host.resize(values.size() * size);
    for (size_t i = 0; i < values.size(); ++i) {
        unsigned char* dst = io.host.data() + i * size;
        if (io.type == nvinfer1::DataType::kFLOAT) {
            const float v = static_cast<float>(values[i]);
            std::memcpy(dst, &v, 4);
        } else if (io.type == nvinfer1::DataType::kHALF) {
            const __half v = __float2half(static_cast<float>(values[i]));
            std::memcpy(dst, &v, 2);
        } else if (io.type == nvinfer1::DataType::kINT32) {
            const auto v = static_cast<int32_t>(values[i]);
            std::memcpy(dst, &v, 4);
        } else {
            const auto v = static_cast<int64_t>(values[i]);
            std::memcpy(dst, &v, 8);
        }
    }
}

int cuda_device_index(const std::string& device) {
    // "CPU" is the runner's default device name: on this backend it means the first GPU.
    std::string index = device;
    for (const char* prefix : {"cuda:", "CUDA:", "GPU.", "GPU:"}) {
        if (index.rfind(prefix, 0) == 0) index = index.substr(std::strlen(prefix));
    }
    if (index == "CPU" || index == "GPU" || index.empty()) return 0;
    for (char c : index) {
        if (c < '0' || c > '9') throw usage_error("TensorRT device '" + device + "' is not a CUDA device index (0, 1, cuda:0, …)");
    }
    return std::stoi(index);
}

class TensorRtBackend : public Backend {
public:
    TensorRtBackend(const Manifest& manifest, const BackendOptions& options) : precision_(manifest.compute_precision), names_(manifest.names) {
        const std::string engine_path = engine_file(manifest, options);
        if (options.precision != "manifest" && options.precision != "default") {
            std::fprintf(stderr, "tensorrt: --precision is fixed when the engine is built; running %s as built (%s)\n", engine_path.c_str(),
                         precision_.c_str());
        }
        const int index = cuda_device_index(options.device);
        check_cuda(cudaSetDevice(index), "cudaSetDevice");
        cudaDeviceProp properties{};
        check_cuda(cudaGetDeviceProperties(&properties, index), "cudaGetDeviceProperties");
        device_ = "GPU " + std::to_string(index) + ": " + properties.name;

        std::ifstream file(engine_path, std::ios::binary | std::ios::ate);
        if (!file) throw RunnerError(engine_path + ": cannot be opened");
        std::vector<char> blob(static_cast<size_t>(file.tellg()));
        file.seekg(0);
        file.read(blob.data(), static_cast<std::streamsize>(blob.size()));

        runtime_.reset(nvinfer1::createInferRuntime(logger_));
        if (!runtime_) throw RunnerError("TensorRT runtime could not be created");
        engine_.reset(runtime_->deserializeCudaEngine(blob.data(), blob.size()));
        if (!engine_) {
            throw RunnerError(engine_path + ": TensorRT cannot load this engine (" + logger_.last_error_ +
                              "); engines only run on the GPU and TensorRT version that built them: rebuild it here with build_engine.sh");
        }
        context_.reset(engine_->createExecutionContext());
        if (!context_) throw RunnerError("TensorRT execution context could not be created (" + logger_.last_error_ + ")");
        check_cuda(cudaStreamCreate(&stream_), "cudaStreamCreate");

        for (const std::string& name : {names_.image, names_.source_domain, names_.target_domain, names_.strength, names_.edited}) io_tensor(name);
        if (manifest.has_masks()) io_tensor(names_.masks);
    }

    ~TensorRtBackend() override {
        if (stream_) cudaStreamDestroy(stream_);
    }

    std::string name() const override { return "tensorrt"; }
    std::string device() const override { return device_; }
    std::string precision() const override { return precision_; }
    std::string requested_precision() const override { return precision_; }

    void infer(const EditRequest& request, Tensor& edited) override {
        const Tensor& image = *request.image;
        const auto n = image.batch();
        set_input(io_tensor(names_.image), image.shape, image.data);
        set_input(io_tensor(names_.source_domain), {n}, request.source_domain);
        set_input(io_tensor(names_.target_domain), {n}, request.target_domain);
        set_input(io_tensor(names_.strength), {n}, request.strength);
        if (request.masks != nullptr) set_input(io_tensor(names_.masks), request.masks->shape, request.masks->data);

        IoTensor& out = io_tensor(names_.edited);
        const nvinfer1::Dims dims = context_->getTensorShape(out.name.c_str());
        edited.shape.clear();
        for (int i = 0; i < dims.nbDims; ++i) edited.shape.push_back(static_cast<int64_t>(dims.d[i]));
        const size_t count = edited.numel();
        const size_t bytes = count * element_size(out.type);
        if (dims.nbDims != 4 || bytes == 0) throw RunnerError("engine output '" + names_.edited + "' has shape " + shape_string(edited.shape) + "; expected [N,3,H,W]");
        out.device.reserve(bytes);
        if (!context_->setTensorAddress(out.name.c_str(), out.device.ptr)) throw RunnerError("TensorRT refused the address of '" + names_.edited + "'");

        if (!context_->enqueueV3(stream_)) throw RunnerError("TensorRT enqueueV3 failed (" + logger_.last_error_ + ")");
        out.host.resize(bytes);
        check_cuda(cudaMemcpyAsync(out.host.data(), out.device.ptr, bytes, cudaMemcpyDeviceToHost, stream_), "copy to host");
        check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");

        edited.data.resize(count);
        if (out.type == nvinfer1::DataType::kFLOAT) {
            std::memcpy(edited.data.data(), out.host.data(), bytes);
        } else if (out.type == nvinfer1::DataType::kHALF) {
            const auto* half = reinterpret_cast<const __half*>(out.host.data());
            for (size_t i = 0; i < count; ++i) edited.data[i] = __half2float(half[i]);
        } else {
            throw RunnerError("engine output '" + names_.edited + "' is neither float32 nor float16");
        }
    }

private:
    static std::string engine_file(const Manifest& manifest, const BackendOptions& options) {
        if (!options.engine.empty()) return options.engine;
        const std::string listed = manifest.find_file(".engine");
        if (!listed.empty()) return listed;
        const std::string built = (std::filesystem::path(manifest.directory) / kBundleEngine).string();
        if (std::filesystem::is_regular_file(built)) return built;
        throw RunnerError(manifest.directory + ": no TensorRT engine; build it on this device (./build_engine.sh) or pass --engine FILE");
    }

    IoTensor& io_tensor(const std::string& name) {
        for (const std::unique_ptr<IoTensor>& io : io_) {
            if (io->name == name) return *io;
        }
        bool found = false;
        for (int32_t i = 0; i < engine_->getNbIOTensors(); ++i) found = found || name == engine_->getIOTensorName(i);
        if (!found) throw RunnerError("the engine has no tensor named '" + name + "'; export it with `l2m-edge export`");
        auto io = std::make_unique<IoTensor>();
        io->name = name;
        io->type = engine_->getTensorDataType(name.c_str());
        if (element_size(io->type) == 0) throw RunnerError("engine tensor '" + name + "' has an element type the runner does not handle");
        io_.push_back(std::move(io));
        return *io_.back();
    }

    template <typename T>
    void set_input(IoTensor& io, const std::vector<int64_t>& shape, const std::vector<T>& values) {
        nvinfer1::Dims dims{};
        dims.nbDims = static_cast<int32_t>(shape.size());
        using Dim = std::remove_reference_t<decltype(dims.d[0])>;
        for (size_t i = 0; i < shape.size(); ++i) dims.d[i] = static_cast<Dim>(shape[i]);
        if (!context_->setInputShape(io.name.c_str(), dims)) {
            throw RunnerError("the engine does not accept '" + io.name + "' of shape " + shape_string(shape) + " (" + logger_.last_error_ + ")");
        }
        stage(io, values);
        io.device.reserve(io.host.size());
        check_cuda(cudaMemcpyAsync(io.device.ptr, io.host.data(), io.host.size(), cudaMemcpyHostToDevice, stream_), "copy to device");
        if (!context_->setTensorAddress(io.name.c_str(), io.device.ptr)) throw RunnerError("TensorRT refused the address of '" + io.name + "'");
    }

    Logger logger_;  // outlives every TensorRT object below (declared first, destroyed last)
    std::unique_ptr<nvinfer1::IRuntime> runtime_;
    std::unique_ptr<nvinfer1::ICudaEngine> engine_;
    std::unique_ptr<nvinfer1::IExecutionContext> context_;
    std::vector<std::unique_ptr<IoTensor>> io_;  // stable addresses; device buffers freed before the context
    cudaStream_t stream_ = nullptr;
    std::string device_;
    std::string precision_;
    EditorNames names_;
};

}  // namespace

std::unique_ptr<Backend> make_tensorrt_backend(const Manifest& manifest, const BackendOptions& options) {
    return std::make_unique<TensorRtBackend>(manifest, options);
}

}  // namespace l2m
