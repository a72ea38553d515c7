// A small, slow, forgiving JSON parser used only when simdjson rejects a record. It accepts
// what Spark's JSON reader accepts by default beyond the standard: single-quoted strings and
// the numbers NaN, Infinity and -Infinity, and Python's None, True and False (records written
// with str(dict)). It also finds where a value ends (for top-level
// arrays and multi-line records), and when the text is not JSON it says where and what was
// expected.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "isoflow/io/detail/builder.hpp"
#include "isoflow/io/detail/text.hpp"

namespace isoflow::detail {

struct LenientMember {
    std::string key;
    ValueKind kind = ValueKind::null;
    std::string text;  // decoded string, number as written, or nested value as standard JSON
    bool boolean = false;
};

class LenientJson {
public:
    explicit LenientJson(std::string_view text) : s_(text) {}

    // Offset and description of the first error (valid after a failed call).
    [[nodiscard]] std::size_t error_offset() const noexcept { return error_at_; }
    [[nodiscard]] const std::string& expected() const noexcept { return expected_; }

    // Parses the whole text as one object (surrounding white space allowed).
    [[nodiscard]] bool parse_object_record(std::vector<LenientMember>& members) {
        members.clear();
        pos_ = 0;
        skip_ws();
        if (pos_ >= s_.size() || s_[pos_] != '{') return fail("expected '{' at the start of a record (a JSON object)");
        ++pos_;
        skip_ws();
        if (peek() == '}') {
            ++pos_;
        } else {
            while (true) {
                skip_ws();
                LenientMember m;
                const char q = peek();
                if (q != '"' && q != '\'') return fail("expected a quoted field name");
                if (!parse_string(m.key)) return false;
                skip_ws();
                if (peek() != ':') return fail("expected ':' after the field name");
                ++pos_;
                skip_ws();
                if (!parse_member_value(m)) return false;
                members.push_back(std::move(m));
                skip_ws();
                if (peek() == ',') {
                    ++pos_;
                    continue;
                }
                if (peek() == '}') {
                    ++pos_;
                    break;
                }
                return fail("expected ',' or '}' after a field value");
            }
        }
        skip_ws();
        if (pos_ != s_.size()) return fail("expected the end of the record after '}'");
        return true;
    }

    // Skips one value starting at `pos` (after white space); returns its end offset via `pos`.
    [[nodiscard]] bool skip_value(std::size_t& pos) {
        pos_ = pos;
        skip_ws();
        if (!parse_value(nullptr, 0)) return false;
        pos = pos_;
        return true;
    }

private:
    [[nodiscard]] char peek() const noexcept { return pos_ < s_.size() ? s_[pos_] : '\0'; }
    void skip_ws() noexcept {
        while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
    }
    bool fail(std::string what) {
        if (expected_.empty()) {
            expected_ = std::move(what);
            error_at_ = pos_;
            if (pos_ >= s_.size()) expected_ += ", found the end of the text";
        }
        return false;
    }

    bool parse_member_value(LenientMember& m) {
        const char c = peek();
        if (c == '{' || c == '[') {
            m.kind = ValueKind::nested;
            return parse_value(&m.text, 0);
        }
        if (c == '"' || c == '\'') {
            m.kind = ValueKind::string;
            return parse_string(m.text);
        }
        const std::size_t start = pos_;
        if (!parse_value(nullptr, 0)) return false;
        const std::string_view token = s_.substr(start, pos_ - start);
        if (token == "null" || token == "None") {
            m.kind = ValueKind::null;
        } else if (token == "true" || token == "false" || token == "True" || token == "False") {
            m.kind = ValueKind::boolean;
            m.boolean = token == "true" || token == "True";
        } else {
            m.kind = ValueKind::number;
        }
        m.text = std::string(token);
        return true;
    }

    // Parses a value; when `out` is set, appends it as standard JSON (strings re-quoted).
    bool parse_value(std::string* out, int depth) {
        if (depth > 512) return fail("expected nesting at most 512 deep");
        const char c = peek();
        if (c == '{' || c == '[') {
            const char close = c == '{' ? '}' : ']';
            ++pos_;
            if (out) *out += c;
            skip_ws();
            if (peek() == close) {
                ++pos_;
                if (out) *out += close;
                return true;
            }
            while (true) {
                skip_ws();
                if (c == '{') {
                    const char q = peek();
                    if (q != '"' && q != '\'') return fail("expected a quoted field name");
                    std::string key;
                    if (!parse_string(key)) return false;
                    if (out) append_json_string(*out, key);
                    skip_ws();
                    if (peek() != ':') return fail("expected ':' after the field name");
                    ++pos_;
                    if (out) *out += ':';
                    skip_ws();
                }
                if (!parse_value(out, depth + 1)) return false;
                skip_ws();
                if (peek() == ',') {
                    ++pos_;
                    if (out) *out += ',';
                    continue;
                }
                if (peek() == close) {
                    ++pos_;
                    if (out) *out += close;
                    return true;
                }
                return fail(c == '{' ? "expected ',' or '}' after a field value"
                                     : "expected ',' or ']' after an array element");
            }
        }
        if (c == '"' || c == '\'') {
            std::string decoded;
            if (!parse_string(decoded)) return false;
            if (out) append_json_string(*out, decoded);
            return true;
        }
        const std::size_t start = pos_;
        for (std::string_view lit : {"true", "false", "null", "NaN", "Infinity", "-Infinity", "+Infinity"}) {
            if (s_.substr(pos_, lit.size()) == lit) {
                pos_ += lit.size();
                if (out) *out += lit;
                return check_token_end();
            }
        }
        // Python's literals, as str(dict) writes them (the seed's generator wrote records so);
        // nested text gets their JSON spelling.
        static constexpr std::pair<std::string_view, std::string_view> python[] = {
            {"None", "null"}, {"True", "true"}, {"False", "false"}};
        for (const auto& [lit, json] : python) {
            if (s_.substr(pos_, lit.size()) == lit) {
                pos_ += lit.size();
                if (out) *out += json;
                return check_token_end();
            }
        }
        // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
        if (peek() == '-') ++pos_;
        if (peek() == '0') {
            ++pos_;
        } else if (peek() >= '1' && peek() <= '9') {
            while (is_digit(peek())) ++pos_;
        } else {
            pos_ = start;
            return fail("expected a value (object, array, string, number, true, false or null)");
        }
        if (peek() == '.') {
            ++pos_;
            if (!is_digit(peek())) return fail("expected a digit after the decimal point");
            while (is_digit(peek())) ++pos_;
        }
        if (peek() == 'e' || peek() == 'E') {
            ++pos_;
            if (peek() == '+' || peek() == '-') ++pos_;
            if (!is_digit(peek())) return fail("expected a digit in the exponent");
            while (is_digit(peek())) ++pos_;
        }
        if (out) *out += s_.substr(start, pos_ - start);
        return check_token_end();
    }

    bool check_token_end() {
        const char c = peek();
        if (c == '\0' || is_space(c) || c == ',' || c == '}' || c == ']' || c == ':') return true;
        return fail("expected ',', '}' or ']' after a value");
    }


    bool parse_hex4(std::uint32_t& out) {
        out = 0;
        for (int k = 0; k < 4; ++k) {
            const char h = peek();
            std::uint32_t v = 0;
            if (h >= '0' && h <= '9') v = static_cast<std::uint32_t>(h - '0');
            else if (h >= 'a' && h <= 'f') v = static_cast<std::uint32_t>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') v = static_cast<std::uint32_t>(h - 'A' + 10);
            else return fail("expected four hexadecimal digits after \\u");
            out = out * 16 + v;
            ++pos_;
        }
        return true;
    }

    // Parses a string quoted with " or ' and appends its decoded text.
    bool parse_string(std::string& out) {
        const char quote = peek();
        ++pos_;
        while (true) {
            if (pos_ >= s_.size()) return fail(std::string("expected a closing ") + quote);
            const char c = s_[pos_];
            if (c == quote) {
                ++pos_;
                return true;
            }
            if (static_cast<unsigned char>(c) < 0x20)
                return fail("expected control characters in strings to be escaped");
            if (c != '\\') {
                out += c;
                ++pos_;
                continue;
            }
            ++pos_;
            const char e = peek();
            ++pos_;
            switch (e) {
                case '"': out += '"'; break;
                case '\'': out += '\''; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    std::uint32_t cp = 0;
                    if (!parse_hex4(cp)) return false;
                    if (cp >= 0xD800 && cp <= 0xDBFF && s_.substr(pos_, 2) == "\\u") {
                        const std::size_t save = pos_;
                        pos_ += 2;
                        std::uint32_t low = 0;
                        if (!parse_hex4(low)) return false;
                        if (low >= 0xDC00 && low <= 0xDFFF) {
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                        } else {
                            pos_ = save;
                        }
                    }
                    append_utf8(out, cp);
                    break;
                }
                default:
                    --pos_;
                    return fail("expected a valid escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
            }
        }
    }

    std::string_view s_;
    std::size_t pos_ = 0;
    std::size_t error_at_ = 0;
    std::string expected_;
};

}  // namespace isoflow::detail
