// A small JSON reader: enough for manifest.json (objects, arrays, strings, numbers, literals).
// The runner has no external dependency besides its inference runtime, so it parses JSON itself.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace l2m {

class JsonValue {
public:
    enum class Type { Null, Bool, Number, String, Array, Object };

    JsonValue() = default;
    static JsonValue parse(const std::string& text);  // throws std::runtime_error with the offset

    Type type() const { return type_; }
    bool is_null() const { return type_ == Type::Null; }
    bool is_string() const { return type_ == Type::String; }
    bool is_number() const { return type_ == Type::Number; }
    bool is_array() const { return type_ == Type::Array; }
    bool is_object() const { return type_ == Type::Object; }

    // Typed access: a wrong type throws std::runtime_error naming `what`.
    const std::string& as_string(const std::string& what) const;
    double as_number(const std::string& what) const;
    bool as_bool(const std::string& what) const;
    const std::vector<JsonValue>& as_array(const std::string& what) const;

    bool has(const std::string& key) const;
    // The member `key` of an object; a missing key or a non-object throws.
    const JsonValue& at(const std::string& key) const;

private:
    friend class JsonParser;
    Type type_ = Type::Null;
    bool boolean_ = false;
    double number_ = 0.0;
    std::string string_;
    std::vector<JsonValue> array_;
    std::map<std::string, JsonValue> object_;
};

}  // namespace l2m
