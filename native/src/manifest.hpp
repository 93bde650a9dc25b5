// The artifact manifest (contract/manifest.py, schema "l2m-edge.manifest/3") as the runner sees it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace l2m {

constexpr const char* kManifestSchema = "l2m-edge.manifest/3";
constexpr const char* kManifestName = "manifest.json";
constexpr const char* kSelfHashField = "manifest_sha256";

struct TensorSpec {
    std::string name;
    std::vector<int64_t> shape;  // -1 marks a dynamic axis (a string such as "batch" in the JSON)
    std::string dtype;           // numpy name: float32, float16, int64
};

struct ArtifactFile {
    std::string path;  // relative to the artifact directory
    std::string sha256;
    uint64_t bytes = 0;
};

// The editor graph's tensor names as the manifest lists them: its inputs in the contract's graph order
// (contract/signature.py INPUT_ORDER: image, source domain, target domain, strength[, masks]) and its one output.
struct EditorNames {
    std::string image;
    std::string source_domain;
    std::string target_domain;
    std::string strength;
    std::string masks;  // "" when the graph takes no masks (w_hpf = 0)
    std::string edited;
};

struct Manifest {
    std::string directory;
    std::string format;     // onnx | openvino | tensorrt | jetson
    std::string target;
    std::string precision;  // the artifact's precision, what export wrote: fp32 | fp16 | int8
    std::string preset;
    std::string attribute;
    int64_t img_size = 0;  // config.img_size
    std::vector<ArtifactFile> files;
    std::vector<TensorSpec> inputs;
    std::vector<TensorSpec> outputs;
    std::vector<std::string> domains;
    EditorNames names;
    // The manifest's compute_precision: what a backend computes in unless the user asks otherwise (fp32 | fp16 |
    // int8), "default" where it records none (the device's fastest: FP16/INT8 OpenVINO IRs). Export writes it
    // from the target's row; the runner, like the Python backends, only reads it.
    std::string compute_precision = "default";

    // Absolute path of the first listed file whose name ends with `suffix`, or "" if none.
    std::string find_file(const std::string& suffix) const;
    // Whether the graph takes face masks (high-pass models, w_hpf > 0).
    bool has_masks() const { return !names.masks.empty(); }
    // The (height, width) the image input expects.
    std::pair<int64_t, int64_t> image_size() const;
};

// Reads and checks DIR/manifest.json (a path to a file inside DIR works too): its schema, its self-hash
// (any edit after export is refused), its fields.
Manifest read_manifest(const std::string& directory);
// Refuses a missing file or one whose sha256 differs from the manifest's, like verify_files() in Python.
void verify_files(const Manifest& manifest);
// A domain given by name or index -> its index; anything else is refused naming the valid domains.
int64_t domain_index(const Manifest& manifest, const std::string& name_or_index);

}  // namespace l2m
