#include "json.hpp"

#include <cstdlib>
#include <limits>
#include <stdexcept>

namespace l2m {

namespace {

const char* type_name(JsonValue::Type type) {
    switch (type) {
        case JsonValue::Type::Null: return "null";
        case JsonValue::Type::Bool: return "a boolean";
        case JsonValue::Type::Number: return "a number";
        case JsonValue::Type::String: return "a string";
        case JsonValue::Type::Array: return "an array";
        case JsonValue::Type::Object: return "an object";
    }
    return "?";
}

void append_utf8(std::string& out, unsigned code) {
    if (code < 0x80) {
        out += static_cast<char>(code);
    } else if (code < 0x800) {
        out += static_cast<char>(0xC0 | (code >> 6));
        out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
        out += static_cast<char>(0xE0 | (code >> 12));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (code >> 18));
        out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (code & 0x3F));
    }
}

}  // namespace

class JsonParser {
public:
    explicit JsonParser(const std::string& text) : text_(text) {}

    JsonValue document() {
        JsonValue value = parse_value(0);
        skip_space();
        if (pos_ != text_.size()) fail("trailing characters after the JSON value");
        return value;
    }

private:
    static constexpr int kMaxDepth = 64;
    const std::string& text_;
    size_t pos_ = 0;

    [[noreturn]] void fail(const std::string& what) const {
        throw std::runtime_error("invalid JSON at offset " + std::to_string(pos_) + ": " + what);
    }

    void skip_space() {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\r' || text_[pos_] == '\t')) ++pos_;
    }

    char peek() {
        skip_space();
        if (pos_ >= text_.size()) fail("unexpected end of input");
        return text_[pos_];
    }

    void expect(char c) {
        if (peek() != c) fail(std::string("expected '") + c + "'");
        ++pos_;
    }

    bool consume_literal(const char* literal) {
        size_t n = std::char_traits<char>::length(literal);
        if (text_.compare(pos_, n, literal) == 0) {
            pos_ += n;
            return true;
        }
        return false;
    }

    // The items of an object or array, after its opening bracket: none, or items separated by commas up to `close`.
    template <typename ParseItem>
    void parse_items(char close, const char* what, ParseItem parse_item) {
        ++pos_;
        if (peek() == close) {
            ++pos_;
            return;
        }
        while (true) {
            parse_item();
            char next = peek();
            ++pos_;
            if (next == close) return;
            if (next != ',') fail(std::string("expected ',' or '") + close + "' in " + what);
        }
    }

    JsonValue parse_value(int depth) {
        if (depth > kMaxDepth) fail("nested too deeply");
        JsonValue value;
        char c = peek();
        if (c == '{') {
            value.type_ = JsonValue::Type::Object;
            parse_items('}', "an object", [&] {
                if (peek() != '"') fail("expected a string key");
                std::string key = parse_string();
                expect(':');
                value.object_[key] = parse_value(depth + 1);
            });
        } else if (c == '[') {
            value.type_ = JsonValue::Type::Array;
            parse_items(']', "an array", [&] { value.array_.push_back(parse_value(depth + 1)); });
        } else if (c == '"') {
            value.type_ = JsonValue::Type::String;
            value.string_ = parse_string();
        } else if (consume_literal("true")) {
            value.type_ = JsonValue::Type::Bool;
            value.boolean_ = true;
        } else if (consume_literal("false")) {
            value.type_ = JsonValue::Type::Bool;
        } else if (consume_literal("null")) {
            value.type_ = JsonValue::Type::Null;
        } else if (consume_literal("NaN")) {
            // Python's json.dumps writes NaN and ±Infinity for non-finite floats (e.g. an infinite PSNR).
            value.type_ = JsonValue::Type::Number;
            value.number_ = std::numeric_limits<double>::quiet_NaN();
        } else if (consume_literal("Infinity")) {
            value.type_ = JsonValue::Type::Number;
            value.number_ = std::numeric_limits<double>::infinity();
        } else if (consume_literal("-Infinity")) {
            value.type_ = JsonValue::Type::Number;
            value.number_ = -std::numeric_limits<double>::infinity();
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            value.type_ = JsonValue::Type::Number;
            const char* start = text_.c_str() + pos_;
            char* end = nullptr;
            value.number_ = std::strtod(start, &end);
            if (end == start) fail("bad number");
            pos_ += static_cast<size_t>(end - start);
        } else {
            fail(std::string("unexpected character '") + c + "'");
        }
        return value;
    }

    unsigned parse_hex4() {
        if (pos_ + 4 > text_.size()) fail("short \\u escape");
        unsigned code = 0;
        for (int i = 0; i < 4; ++i) {
            char h = text_[pos_++];
            code <<= 4;
            if (h >= '0' && h <= '9') code |= static_cast<unsigned>(h - '0');
            else if (h >= 'a' && h <= 'f') code |= static_cast<unsigned>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') code |= static_cast<unsigned>(h - 'A' + 10);
            else fail("bad \\u escape");
        }
        return code;
    }

    std::string parse_string() {
        ++pos_;  // opening quote
        std::string out;
        while (true) {
            if (pos_ >= text_.size()) fail("unterminated string");
            char c = text_[pos_++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= text_.size()) fail("unterminated escape");
            char e = text_[pos_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    unsigned code = parse_hex4();
                    if (code >= 0xD800 && code < 0xDC00 && text_.compare(pos_, 2, "\\u") == 0) {
                        pos_ += 2;
                        unsigned low = parse_hex4();
                        if (low < 0xDC00 || low >= 0xE000) fail("bad surrogate pair");
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                    }
                    append_utf8(out, code);
                    break;
                }
                default: fail(std::string("bad escape '\\") + e + "'");
            }
        }
    }
};

JsonValue JsonValue::parse(const std::string& text) { return JsonParser(text).document(); }

const std::string& JsonValue::as_string(const std::string& what) const {
    if (type_ != Type::String) throw std::runtime_error(what + " is " + type_name(type_) + ", expected a string");
    return string_;
}

double JsonValue::as_number(const std::string& what) const {
    if (type_ != Type::Number) throw std::runtime_error(what + " is " + type_name(type_) + ", expected a number");
    return number_;
}

bool JsonValue::as_bool(const std::string& what) const {
    if (type_ != Type::Bool) throw std::runtime_error(what + " is " + type_name(type_) + ", expected a boolean");
    return boolean_;
}

const std::vector<JsonValue>& JsonValue::as_array(const std::string& what) const {
    if (type_ != Type::Array) throw std::runtime_error(what + " is " + type_name(type_) + ", expected an array");
    return array_;
}

bool JsonValue::has(const std::string& key) const { return type_ == Type::Object && object_.count(key) > 0; }

const JsonValue& JsonValue::at(const std::string& key) const {
    if (type_ != Type::Object) throw std::runtime_error("expected an object holding '" + key + "'");
    auto it = object_.find(key);
    if (it == object_.end()) throw std::runtime_error("missing field '" + key + "'");
    return it->second;
}

}  // namespace l2m
