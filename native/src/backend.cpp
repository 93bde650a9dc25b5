#include "backend.hpp"

#include <algorithm>

#include "error.hpp"

namespace l2m {

std::vector<std::string> available_backends() {
    std::vector<std::string> names;
#ifdef L2M_EDGE_WITH_TENSORRT
    names.emplace_back("tensorrt");
#endif
#ifdef L2M_EDGE_WITH_OPENVINO
    names.emplace_back("openvino");
#endif
    return names;
}

std::unique_ptr<Backend> create_backend(const std::string& kind, const Manifest& manifest, const BackendOptions& options) {
    const std::vector<std::string> names = available_backends();
    std::string chosen = kind;
    if (kind == "auto") {
        const bool engine_artifact = manifest.format == "tensorrt" || manifest.format == "jetson";
        chosen = engine_artifact ? "tensorrt" : "openvino";
    }
    std::string built;
    for (const std::string& n : names) built += (built.empty() ? "" : ", ") + n;
    if (chosen != "openvino" && chosen != "tensorrt") throw usage_error("unknown backend '" + kind + "'; choose auto, openvino or tensorrt");
    if (std::find(names.begin(), names.end(), chosen) == names.end()) {
        throw RunnerError("backend '" + chosen + "' is not compiled into this runner (it has: " + (built.empty() ? "none" : built) +
                          "); rebuild with -DL2M_EDGE_WITH_" + (chosen == "tensorrt" ? "TENSORRT" : "OPENVINO") + "=ON");
    }
#ifdef L2M_EDGE_WITH_TENSORRT
    if (chosen == "tensorrt") return make_tensorrt_backend(manifest, options);
#endif
#ifdef L2M_EDGE_WITH_OPENVINO
    if (chosen == "openvino") return make_openvino_backend(manifest, options);
#endif
    throw RunnerError("backend '" + chosen + "' could not be created");
}

}  // namespace l2m
