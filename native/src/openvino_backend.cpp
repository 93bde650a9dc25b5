// The OpenVINO backend: reads the artifact's IR (.xml/.bin) or ONNX file and runs it with the
// OpenVINO C++ runtime, the same runtime the Python `openvino` backend drives.
#include <openvino/openvino.hpp>

#include <cstring>

#include "backend.hpp"
#include "error.hpp"

namespace l2m {

namespace {

// `manifest` resolves to what the export certified (the manifest's compute_precision).
std::string resolve_precision(const BackendOptions& options, const Manifest& manifest) {
    return options.precision == "manifest" ? manifest.compute_precision : options.precision;
}

ov::AnyMap compile_config(const std::string& precision, int threads) {
    ov::AnyMap config{ov::hint::performance_mode(ov::hint::PerformanceMode::LATENCY)};
    if (precision == "fp32") {
        config.emplace(ov::hint::inference_precision(ov::element::f32));
    } else if (precision == "bf16") {
        config.emplace(ov::hint::inference_precision(ov::element::bf16));
    } else if (precision == "fp16") {
        config.emplace(ov::hint::inference_precision(ov::element::f16));
    } else if (precision != "default") {
        throw usage_error("unknown precision '" + precision + "'; choose fp32, fp16, bf16 or default");
    }
    if (threads > 0) config.emplace(ov::inference_num_threads(threads));
    return config;
}

// A host tensor of the port's element type holding `values` (float or integer inputs).
template <typename T>
ov::Tensor make_tensor(const ov::Output<const ov::Node>& port, const ov::Shape& shape, const std::vector<T>& values) {
    ov::Tensor tensor(port.get_element_type(), shape);
    const ov::element::Type type = port.get_element_type();
    for (size_t i = 0; i < values.size(); ++i) {
        if (type == ov::element::f32) tensor.data<float>()[i] = static_cast<float>(values[i]);
        else if (type == ov::element::f16) tensor.data<ov::float16>()[i] = ov::float16(static_cast<float>(values[i]));
        else if (type == ov::element::i64) tensor.data<int64_t>()[i] = static_cast<int64_t>(values[i]);
        else if (type == ov::element::i32) tensor.data<int32_t>()[i] = static_cast<int32_t>(values[i]);
        else throw RunnerError("model input '" + port.get_any_name() + "' has element type " + type.to_string() + ", which the runner does not feed");
    }
    return tensor;
}

class OpenVinoBackend : public Backend {
public:
    OpenVinoBackend(const Manifest& manifest, const BackendOptions& options)
        : device_(options.device), requested_(resolve_precision(options, manifest)), names_(manifest.names) {
        if (manifest.format != "openvino" && manifest.format != "onnx") {
            throw RunnerError(manifest.directory + ": a " + manifest.format + " artifact; the openvino backend runs openvino or onnx artifacts (use --backend auto)");
        }
        std::string model_path = manifest.find_file(".xml");
        if (model_path.empty()) model_path = manifest.find_file(".onnx");
        if (model_path.empty()) throw RunnerError(manifest.directory + ": the manifest lists no .xml or .onnx model for OpenVINO");
        const ov::AnyMap config = compile_config(requested_, options.threads);
        try {
            std::shared_ptr<ov::Model> model = core_.read_model(model_path);
            compiled_ = core_.compile_model(model, device_, config);
            request_ = compiled_.create_infer_request();
        } catch (const std::exception& exc) {
            throw RunnerError(model_path + ": OpenVINO cannot load it on " + device_ + " (" + first_line(exc.what()) + ")");
        }
        precision_ = manifest.precision == "int8" ? "int8" : ran_precision();
    }

    std::string name() const override { return "openvino"; }
    std::string device() const override { return device_; }
    std::string precision() const override { return precision_; }
    std::string requested_precision() const override { return requested_; }

    void infer(const EditRequest& request, Tensor& edited) override {
        const Tensor& image = *request.image;
        const auto n = static_cast<size_t>(image.batch());
        const ov::Shape batch{n};
        try {
            const ov::Output<const ov::Node> image_port = compiled_.input(names_.image);
            if (image_port.get_element_type() == ov::element::f32) {
                // Zero-copy: the request reads the caller's buffer.
                request_.set_tensor(image_port, ov::Tensor(ov::element::f32, ov::Shape(image.shape.begin(), image.shape.end()),
                                                           const_cast<float*>(image.data.data())));
            } else {
                request_.set_tensor(image_port, make_tensor(image_port, ov::Shape(image.shape.begin(), image.shape.end()), image.data));
            }
            request_.set_tensor(names_.source_domain, make_tensor(compiled_.input(names_.source_domain), batch, request.source_domain));
            request_.set_tensor(names_.target_domain, make_tensor(compiled_.input(names_.target_domain), batch, request.target_domain));
            request_.set_tensor(names_.strength, make_tensor(compiled_.input(names_.strength), batch, request.strength));
            if (request.masks != nullptr) {
                const Tensor& masks = *request.masks;
                request_.set_tensor(names_.masks, make_tensor(compiled_.input(names_.masks), ov::Shape(masks.shape.begin(), masks.shape.end()), masks.data));
            }
            request_.infer();
            const ov::Tensor out = request_.get_tensor(names_.edited);
            const ov::Shape shape = out.get_shape();
            edited.shape.assign(shape.begin(), shape.end());
            edited.data.resize(out.get_size());
            if (out.get_element_type() == ov::element::f32) {
                std::memcpy(edited.data.data(), out.data<const float>(), out.get_byte_size());
            } else if (out.get_element_type() == ov::element::f16) {
                const ov::float16* src = out.data<const ov::float16>();
                for (size_t i = 0; i < edited.data.size(); ++i) edited.data[i] = static_cast<float>(src[i]);
            } else {
                throw RunnerError("model output '" + names_.edited + "' has element type " + out.get_element_type().to_string() + "; expected f32 or f16");
            }
        } catch (const RunnerError&) {
            throw;
        } catch (const std::exception& exc) {
            throw RunnerError("OpenVINO inference failed (" + first_line(exc.what()) + ")");
        }
    }

private:
    // The compiled model's inference precision in the project's names ("unknown" where a device does not say).
    std::string ran_precision() const {
        try {
            const ov::element::Type type = compiled_.get_property(ov::hint::inference_precision);
            if (type == ov::element::f32) return "fp32";
            if (type == ov::element::f16) return "fp16";
            if (type == ov::element::bf16) return "bf16";
            return type.to_string();
        } catch (const std::exception&) {
            return "unknown";
        }
    }

    static std::string first_line(const std::string& text) {
        // OpenVINO messages span lines (with source locations); keep the error one line.
        std::string line;
        for (size_t start = 0; start < text.size();) {
            size_t end = text.find('\n', start);
            if (end == std::string::npos) end = text.size();
            std::string part = text.substr(start, end - start);
            start = end + 1;
            if (part.find_first_not_of(" \t\r") == std::string::npos || part.rfind("Exception from", 0) == 0) continue;
            line = part;
            break;
        }
        return line.empty() ? text : line;
    }

    std::string device_;
    std::string requested_;
    std::string precision_;
    EditorNames names_;
    ov::Core core_;
    ov::CompiledModel compiled_;
    ov::InferRequest request_;
};

}  // namespace

std::unique_ptr<Backend> make_openvino_backend(const Manifest& manifest, const BackendOptions& options) {
    return std::make_unique<OpenVinoBackend>(manifest, options);
}

}  // namespace l2m
