// A small JSON document model, parser and writer for model files.
//
// `#include <isoflow/forest.hpp>` must work with only Eigen installed, so the forest cannot use
// simdjson (which the readers of io/ use). Model files are small and read once, so a plain
// recursive-descent parser is enough. Numbers keep their text, so integers and doubles convert
// exactly (std::from_chars) when they are read.
#pragma once

#include <charconv>
#include <cstdio>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "isoflow/core/detail/text.hpp"
#include "isoflow/core/error.hpp"

namespace isoflow::detail::json {

struct Member;

struct Value {
    enum class Kind : std::uint8_t { null, boolean, number, string, array, object };
    Kind kind = Kind::null;
    bool boolean = false;
    std::string text;  // a number's text, or a string's (unescaped) value
    std::vector<Value> array;
    std::vector<Member> object;  // in document order (std::vector allows the incomplete type)
    std::size_t line = 1, column = 1;  // where the value starts, for messages

    [[nodiscard]] const Value* find(std::string_view key) const;
};

struct Member {
    std::string key;
    Value value;
};

inline const Value* Value::find(std::string_view key) const {
    for (const auto& member : object)
        if (member.key == key) return &member.value;
    return nullptr;
}

class Parser {
public:
    Parser(std::string_view text, std::string source) : text_(text), source_(std::move(source)) {}

    [[nodiscard]] Value parse_document() {
        skip_space();
        Value v = parse_value(0);
        skip_space();
        if (pos_ != text_.size()) fail("expected the end of the document");
        return v;
    }

    [[noreturn]] void fail(const std::string& what) const {
        std::size_t line = 1, column = 1;
        for (std::size_t i = 0; i < pos_ && i < text_.size(); ++i) {
            if (text_[i] == '\n') {
                ++line;
                column = 1;
            } else {
                ++column;
            }
        }
        throw_error<parse_error>(source_ + ":" + std::to_string(line) + ":" +
                                 std::to_string(column) + ": " + what);
    }

private:
    void skip_space() {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                        text_[pos_] == '\r' || text_[pos_] == '\t'))
            ++pos_;
    }

    // Line and column of the current position; the parser only moves forward, so the scan
    // continues from where it last stopped (linear in the document's size).
    void locate(Value& v) {
        for (; scanned_ < pos_ && scanned_ < text_.size(); ++scanned_) {
            if (text_[scanned_] == '\n') {
                ++line_;
                column_ = 1;
            } else {
                ++column_;
            }
        }
        v.line = line_;
        v.column = column_;
    }

    Value parse_value(int depth) {
        if (depth > 64) fail("nesting deeper than 64 levels");
        if (pos_ >= text_.size()) fail("unexpected end of the document; expected a value");
        Value v;
        locate(v);
        const char c = text_[pos_];
        if (c == '{') {
            v.kind = Value::Kind::object;
            ++pos_;
            skip_space();
            if (peek('}')) return ++pos_, v;
            for (;;) {
                skip_space();
                if (!peek('"')) fail("expected a string key");
                std::string key = parse_string();
                skip_space();
                expect(':');
                skip_space();
                v.object.push_back(Member{std::move(key), parse_value(depth + 1)});
                skip_space();
                if (peek(',')) {
                    ++pos_;
                    continue;
                }
                expect('}');
                return v;
            }
        }
        if (c == '[') {
            v.kind = Value::Kind::array;
            ++pos_;
            skip_space();
            if (peek(']')) return ++pos_, v;
            for (;;) {
                skip_space();
                v.array.push_back(parse_value(depth + 1));
                skip_space();
                if (peek(',')) {
                    ++pos_;
                    continue;
                }
                expect(']');
                return v;
            }
        }
        if (c == '"') {
            v.kind = Value::Kind::string;
            v.text = parse_string();
            return v;
        }
        if (literal("true")) {
            v.kind = Value::Kind::boolean;
            v.boolean = true;
            return v;
        }
        if (literal("false")) {
            v.kind = Value::Kind::boolean;
            return v;
        }
        if (literal("null")) return v;
        if (c == '-' || (c >= '0' && c <= '9')) {
            v.kind = Value::Kind::number;
            const std::size_t start = pos_;
            while (pos_ < text_.size() &&
                   std::string_view("+-0123456789.eE").find(text_[pos_]) != std::string_view::npos)
                ++pos_;
            v.text = std::string(text_.substr(start, pos_ - start));
            return v;
        }
        fail(std::string("unexpected character '") + c + "'; expected a value");
    }

    std::string parse_string() {
        ++pos_;  // opening quote
        std::string out;
        while (pos_ < text_.size() && text_[pos_] != '"') {
            char c = text_[pos_++];
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= text_.size()) break;
            c = text_[pos_++];
            switch (c) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    unsigned code = hex4();
                    if (code >= 0xD800 && code < 0xDC00 && text_.substr(pos_, 2) == "\\u") {
                        pos_ += 2;
                        const unsigned low = hex4();
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                    }
                    detail::append_utf8(out, code);
                    break;
                }
                default: fail(std::string("invalid escape '\\") + c + "' in a string");
            }
        }
        if (pos_ >= text_.size()) fail("unterminated string");
        ++pos_;
        return out;
    }

    unsigned hex4() {
        if (pos_ + 4 > text_.size()) fail("truncated \\u escape");
        unsigned code = 0;
        auto [ptr, ec] = std::from_chars(text_.data() + pos_, text_.data() + pos_ + 4, code, 16);
        if (ec != std::errc{} || ptr != text_.data() + pos_ + 4) fail("invalid \\u escape");
        pos_ += 4;
        return code;
    }


    bool peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
    void expect(char c) {
        if (!peek(c)) fail(std::string("expected '") + c + "'");
        ++pos_;
    }
    bool literal(std::string_view word) {
        if (text_.substr(pos_, word.size()) != word) return false;
        pos_ += word.size();
        return true;
    }

    std::string_view text_;
    std::string source_;
    std::size_t pos_ = 0;
    std::size_t scanned_ = 0, line_ = 1, column_ = 1;
};

// Typed access with messages that name the key and where it is.
class Reader {
public:
    explicit Reader(std::string source) : source_(std::move(source)) {}

    [[noreturn]] void fail(const Value& at, const std::string& what) const {
        throw_error<parse_error>(source_ + ":" + std::to_string(at.line) + ":" +
                                 std::to_string(at.column) + ": " + what);
    }

    const Value& member(const Value& object, std::string_view key) const {
        if (const Value* v = object.find(key)) return *v;
        fail(object, "missing key \"" + std::string(key) + "\"");
    }

    template <class Number>
    Number number(const Value& v, std::string_view what) const {
        if (v.kind != Value::Kind::number) fail(v, std::string(what) + ": expected a number");
        Number out{};
        const char* end = v.text.data() + v.text.size();
        auto [ptr, ec] = std::from_chars(v.text.data(), end, out);
        if (ec != std::errc{} || ptr != end)
            fail(v, std::string(what) + ": '" + v.text + "' is not " +
                        (std::is_integral_v<Number> ? "an integer in range" : "a number"));
        return out;
    }

    template <class Number>
    std::vector<Number> numbers(const Value& v, std::string_view what) const {
        if (v.kind != Value::Kind::array) fail(v, std::string(what) + ": expected an array");
        std::vector<Number> out;
        out.reserve(v.array.size());
        for (const auto& item : v.array) out.push_back(number<Number>(item, what));
        return out;
    }

    const std::string& string(const Value& v, std::string_view what) const {
        if (v.kind != Value::Kind::string) fail(v, std::string(what) + ": expected a string");
        return v.text;
    }

private:
    std::string source_;
};

// Writes a JSON string literal.
inline void write_string(std::string& out, std::string_view s) { append_json_string(out, s); }

// Writes a number in its shortest round-trip form.
template <class Number>
void write_number(std::string& out, Number v) {
    char buffer[40];
    auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
    out.append(buffer, result.ptr);
}

}  // namespace isoflow::detail::json
