#include "manifest.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "error.hpp"
#include "json.hpp"
#include "sha256.hpp"

namespace fs = std::filesystem;

namespace l2m {

namespace {

TensorSpec parse_spec(const JsonValue& value, const std::string& where) {
    TensorSpec spec;
    spec.name = value.at("name").as_string(where + ".name");
    spec.dtype = value.at("dtype").as_string(where + ".dtype");
    for (const JsonValue& dim : value.at("shape").as_array(where + ".shape")) {
        spec.shape.push_back(dim.is_number() ? static_cast<int64_t>(dim.as_number(where + ".shape")) : -1);
    }
    return spec;
}

// The editor's tensor names from the manifest's inputs (in the contract's graph order) and outputs.
EditorNames editor_names(const Manifest& manifest, const std::string& path) {
    const size_t count = manifest.inputs.size();
    if ((count != 4 && count != 5) || manifest.outputs.size() != 1) {
        throw RunnerError(path + ": the manifest lists " + std::to_string(count) + " inputs and " + std::to_string(manifest.outputs.size()) +
                          " outputs; the runner feeds the editor's 4 inputs (5 with masks) and reads its one output: re-export with this version");
    }
    EditorNames names;
    names.image = manifest.inputs[0].name;
    names.source_domain = manifest.inputs[1].name;
    names.target_domain = manifest.inputs[2].name;
    names.strength = manifest.inputs[3].name;
    if (count == 5) names.masks = manifest.inputs[4].name;
    names.edited = manifest.outputs[0].name;
    return names;
}

// Whether manifest.json's bytes `raw` (parsed: `root`) carry their own hash, as contract/manifest.py defines it
// (self_hash_holds there): the sha256 of `raw` with the 64 lower-case hex digits of its one "manifest_sha256"
// key's value read as '0's equals those digits, and the top-level field holds them. A quoted name followed
// by ':' is a key (inside a JSON string a quote is escaped), and the key must occur exactly once.
bool self_hash_holds(const std::string& raw, const JsonValue& root) {
    const std::string key = std::string("\"") + kSelfHashField + "\"";
    auto skip_space = [&raw](size_t at) {
        while (at < raw.size() && (raw[at] == ' ' || raw[at] == '\t' || raw[at] == '\r' || raw[at] == '\n')) ++at;
        return at;
    };
    size_t value = std::string::npos;
    int keys = 0;
    for (size_t at = raw.find(key); at != std::string::npos; at = raw.find(key, at + 1)) {
        const size_t colon = skip_space(at + key.size());
        if (colon < raw.size() && raw[colon] == ':') {
            ++keys;
            value = skip_space(colon + 1);
        }
    }
    if (keys != 1 || value + 66 > raw.size() || raw[value] != '"' || raw[value + 65] != '"') return false;
    const std::string recorded = raw.substr(value + 1, 64);
    for (char c : recorded) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    if (!root.has(kSelfHashField) || !root.at(kSelfHashField).is_string() || root.at(kSelfHashField).as_string(kSelfHashField) != recorded) return false;
    std::string zeroed = raw;
    zeroed.replace(value + 1, 64, 64, '0');
    Sha256 hash;
    hash.update(zeroed.data(), zeroed.size());
    return to_hex(hash.finish()) == recorded;
}

// A manifest path must stay inside the artifact directory.
void check_relative(const std::string& path, const std::string& manifest_path) {
    fs::path p(path);
    bool escapes = p.empty() || p.is_absolute();
    for (const auto& part : p) escapes = escapes || part == "..";
    if (escapes) throw RunnerError(manifest_path + ": file path '" + path + "' leaves the artifact directory; re-export it");
}

}  // namespace

std::string Manifest::find_file(const std::string& suffix) const {
    for (const ArtifactFile& file : files) {
        if (file.path.size() >= suffix.size() && file.path.compare(file.path.size() - suffix.size(), suffix.size(), suffix) == 0) {
            return (fs::path(directory) / file.path).string();
        }
    }
    return "";
}

std::pair<int64_t, int64_t> Manifest::image_size() const {
    const TensorSpec& image = inputs.front();
    int64_t height = image.shape.size() == 4 ? image.shape[2] : -1;
    int64_t width = image.shape.size() == 4 ? image.shape[3] : -1;
    if (height <= 0) height = img_size;
    if (width <= 0) width = img_size;
    if (height <= 0 || width <= 0) {
        throw RunnerError(directory + "/" + kManifestName + ": the image input has no fixed height/width and config has no img_size");
    }
    return {height, width};
}

Manifest read_manifest(const std::string& directory) {
    fs::path dir(directory);
    if (fs::is_regular_file(dir)) dir = dir.parent_path();
    if (!fs::is_directory(dir)) throw RunnerError(directory + ": no such artifact directory; export one with `l2m-edge export`");
    const std::string path = (dir / kManifestName).string();
    std::ifstream file(path, std::ios::binary);
    if (!file) throw RunnerError(dir.string() + ": no " + kManifestName + "; export it with `l2m-edge export`");
    std::stringstream text;
    text << file.rdbuf();

    Manifest manifest;
    manifest.directory = dir.string();
    try {
        JsonValue root = JsonValue::parse(text.str());
        const std::string schema = root.has("schema") && root.at("schema").is_string() ? root.at("schema").as_string("schema") : "";
        if (schema != kManifestSchema) {
            throw RunnerError(path + ": manifest schema '" + schema + "' is not '" + kManifestSchema +
                              "' (another l2m-edge version wrote it); re-export with this version");
        }
        if (!self_hash_holds(text.str(), root)) {
            throw RunnerError(path + ": the manifest was modified after export (its " + kSelfHashField + " does not match its bytes); re-export");
        }
        manifest.format = root.at("format").as_string("format");
        manifest.target = root.at("target").as_string("target");
        manifest.precision = root.at("precision").as_string("precision");
        manifest.preset = root.at("preset").as_string("preset");
        manifest.attribute = root.has("attribute") ? root.at("attribute").as_string("attribute") : "";
        const JsonValue& config = root.at("config");
        if (config.has("img_size")) manifest.img_size = static_cast<int64_t>(config.at("img_size").as_number("config.img_size"));
        for (const JsonValue& entry : root.at("files").as_array("files")) {
            ArtifactFile f;
            f.path = entry.at("path").as_string("files[].path");
            f.sha256 = entry.at("sha256").as_string("files[].sha256");
            f.bytes = static_cast<uint64_t>(entry.at("bytes").as_number("files[].bytes"));
            check_relative(f.path, path);
            manifest.files.push_back(f);
        }
        for (const JsonValue& entry : root.at("inputs").as_array("inputs")) manifest.inputs.push_back(parse_spec(entry, "inputs[]"));
        for (const JsonValue& entry : root.at("outputs").as_array("outputs")) manifest.outputs.push_back(parse_spec(entry, "outputs[]"));
        for (const JsonValue& entry : root.at("domains").as_array("domains")) manifest.domains.push_back(entry.as_string("domains[]"));
        const JsonValue& compute = root.at("compute_precision");
        manifest.compute_precision = compute.is_null() ? "default" : compute.as_string("compute_precision");
    } catch (const RunnerError&) {
        throw;
    } catch (const std::exception& exc) {
        throw RunnerError(path + ": unreadable manifest (" + exc.what() + ")");
    }
    if (manifest.files.empty()) throw RunnerError(path + ": the manifest lists no files; re-export");
    if (manifest.domains.size() < 2) throw RunnerError(path + ": the manifest lists fewer than two domains; re-export");
    manifest.names = editor_names(manifest, path);
    return manifest;
}

void verify_files(const Manifest& manifest) {
    for (const ArtifactFile& f : manifest.files) {
        const std::string path = (fs::path(manifest.directory) / f.path).string();
        if (!fs::is_regular_file(path)) throw RunnerError(path + ": listed in the manifest but missing; re-export");
        const std::string actual = sha256_file(path);
        if (actual != f.sha256) {
            throw RunnerError(path + ": sha256 " + actual.substr(0, 12) + "\u2026 does not match the manifest's " + f.sha256.substr(0, 12) +
                              "\u2026; the artifact was modified, re-export it");
        }
    }
}

int64_t domain_index(const Manifest& manifest, const std::string& name_or_index) {
    const auto count = static_cast<int64_t>(manifest.domains.size());
    bool digits = !name_or_index.empty() && name_or_index.size() < 10;
    for (char c : name_or_index) digits = digits && c >= '0' && c <= '9';
    if (digits) {
        int64_t index = std::stoll(name_or_index);
        if (index < count) return index;
    } else {
        for (int64_t i = 0; i < count; ++i) {
            if (manifest.domains[static_cast<size_t>(i)] == name_or_index) return i;
        }
    }
    std::string known;
    for (int64_t i = 0; i < count; ++i) known += (i ? ", " : "") + std::to_string(i) + "=" + manifest.domains[static_cast<size_t>(i)];
    throw usage_error("unknown domain '" + name_or_index + "'; this model knows " + known);
}

}  // namespace l2m
