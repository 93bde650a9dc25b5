#include "json_writer.hpp"

#include <cmath>
#include <cstdio>

namespace l2m {

std::string json_quote(const std::string& text) {
    std::string out = "\"";
    for (unsigned char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

void JsonObject::key(const std::string& k) {
    if (!body_.empty()) body_ += ", ";
    body_ += json_quote(k) + ": ";
}

JsonObject& JsonObject::add(const std::string& k, const std::string& value) {
    key(k);
    body_ += json_quote(value);
    return *this;
}

JsonObject& JsonObject::add(const std::string& k, double value) {
    key(k);
    if (!std::isfinite(value)) {
        body_ += "null";
    } else {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%.6g", value);
        body_ += buf;
    }
    return *this;
}

JsonObject& JsonObject::add(const std::string& k, long long value) {
    key(k);
    body_ += std::to_string(value);
    return *this;
}

JsonObject& JsonObject::add(const std::string& k, const JsonObject& value) {
    key(k);
    body_ += value.str();
    return *this;
}

}  // namespace l2m
