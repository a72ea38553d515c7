// Tokens of the expression language and the one place that formats its error messages.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "isoflow/core/batch.hpp"
#include "isoflow/core/error.hpp"

namespace isoflow::detail {

enum class TokenKind : std::uint8_t {
    identifier,         // Amount, AND, current_timestamp (keywords are identifiers the parser knows)
    quoted_identifier,  // `odd name`
    integer,            // 42
    decimal,            // 4.2, 1e3, .5
    string,             // 'text' (value has escapes resolved)
    symbol,             // + - * / % = == != <> < <= > >= ( ) , !
    end,
};

struct Token {
    TokenKind kind = TokenKind::end;
    std::string text;  // identifier / symbol as written; string and quoted identifier: the value
    std::size_t offset = 0;  // byte offset in the source
    std::size_t length = 0;  // bytes covered in the source (0 for end)

    [[nodiscard]] bool is_symbol(std::string_view s) const noexcept {
        return kind == TokenKind::symbol && text == s;
    }
    [[nodiscard]] bool is_keyword(std::string_view k) const noexcept {
        return kind == TokenKind::identifier && iequals(text, k);
    }
};

// Where an error points: the whole source text and a span in it.
struct SourceSpan {
    std::size_t offset = 0;
    std::size_t length = 1;
};

// "<origin>, column N: <message>\n  <source>\n  <spaces>^^^". The caret line underlines the
// offending token (one caret at the end of the text when the problem is a missing token).
// Multi-line sources show only the line that holds the span, and name that line too.
[[nodiscard]] inline std::string format_source_error(std::string_view origin, std::string_view source,
                                                     SourceSpan span, std::string_view message) {
    std::size_t line_start = 0;
    std::size_t line_no = 1;
    for (std::size_t i = 0; i < span.offset && i < source.size(); ++i)
        if (source[i] == '\n') {
            line_start = i + 1;
            ++line_no;
        }
    std::size_t line_end = source.find('\n', line_start);
    if (line_end == std::string_view::npos) line_end = source.size();
    const std::string_view line = source.substr(line_start, line_end - line_start);
    const bool multi_line = source.find('\n') != std::string_view::npos;

    std::string out(origin.empty() ? std::string_view("expression") : origin);
    if (multi_line) out += ", line " + std::to_string(line_no);
    out += ", column " + std::to_string(span.offset - line_start + 1) + ": ";
    out += message;
    out += "\n  ";
    for (char c : line) out += (c == '\t' || c == '\r') ? ' ' : c;
    out += "\n  ";
    // Tabs were shown as one space, so one column per byte keeps the caret aligned.
    out.append(span.offset - line_start, ' ');
    std::size_t carets = span.length == 0 ? 1 : span.length;
    if (span.offset - line_start + carets > line.size() + 1)
        carets = std::max<std::size_t>(1, line.size() + 1 - (span.offset - line_start));
    out.append(carets, '^');
    return out;
}

// A human description of a token, for "expected X but found Y".
[[nodiscard]] inline std::string describe(const Token& t) {
    switch (t.kind) {
        case TokenKind::end: return "the end of the expression";
        case TokenKind::string: return "the string '" + t.text + "'";
        case TokenKind::quoted_identifier: return "`" + t.text + "`";
        default: return "'" + t.text + "'";
    }
}

class Lexer {
public:
    Lexer(std::string_view source, std::string_view origin) : src_(source), origin_(origin) {}

    [[nodiscard]] std::vector<Token> tokenize() {
        std::vector<Token> out;
        while (true) {
            skip_space();
            if (pos_ >= src_.size()) {
                out.push_back(Token{TokenKind::end, "", src_.size(), 0});
                return out;
            }
            out.push_back(next());
        }
    }

private:
    [[noreturn]] void fail(std::size_t offset, std::size_t length, const std::string& message) const {
        throw_error<parse_error>(format_source_error(origin_, src_, {offset, length}, message));
    }

    void skip_space() {
        while (pos_ < src_.size()) {
            const char c = src_[pos_];
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                ++pos_;
            } else if (c == '-' && pos_ + 1 < src_.size() && src_[pos_ + 1] == '-') {
                // SQL line comment
                while (pos_ < src_.size() && src_[pos_] != '\n') ++pos_;
            } else {
                return;
            }
        }
    }

    static bool ident_start(char c) noexcept {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
               static_cast<unsigned char>(c) >= 0x80;
    }
    static bool ident_char(char c) noexcept { return ident_start(c) || (c >= '0' && c <= '9'); }
    static bool digit(char c) noexcept { return c >= '0' && c <= '9'; }

    Token next() {
        const std::size_t start = pos_;
        const char c = src_[pos_];
        if (ident_start(c)) {
            while (pos_ < src_.size() && ident_char(src_[pos_])) ++pos_;
            return {TokenKind::identifier, std::string(src_.substr(start, pos_ - start)), start,
                    pos_ - start};
        }
        if (digit(c) || (c == '.' && pos_ + 1 < src_.size() && digit(src_[pos_ + 1]))) return number();
        if (c == '\'' || c == '"') return quoted(c, TokenKind::string);
        if (c == '`') return quoted('`', TokenKind::quoted_identifier);
        static constexpr std::string_view two[] = {"==", "!=", "<>", "<=", ">="};
        for (std::string_view s : two)
            if (src_.substr(pos_, 2) == s) {
                pos_ += 2;
                return {TokenKind::symbol, std::string(s), start, 2};
            }
        if (std::string_view("+-*/%=<>(),!").find(c) != std::string_view::npos) {
            ++pos_;
            return {TokenKind::symbol, std::string(1, c), start, 1};
        }
        fail(start, 1, std::string("unexpected character '") + c + "'");
    }

    Token number() {
        const std::size_t start = pos_;
        bool is_decimal = false;
        while (pos_ < src_.size() && digit(src_[pos_])) ++pos_;
        if (pos_ < src_.size() && src_[pos_] == '.') {
            is_decimal = true;
            ++pos_;
            while (pos_ < src_.size() && digit(src_[pos_])) ++pos_;
        }
        if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
            std::size_t p = pos_ + 1;
            if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
            if (p < src_.size() && digit(src_[p])) {
                is_decimal = true;
                pos_ = p;
                while (pos_ < src_.size() && digit(src_[pos_])) ++pos_;
            }
        }
        // Spark's typed suffixes: 10L (bigint), 1.5D (double).
        if (pos_ < src_.size() && (src_[pos_] == 'L' || src_[pos_] == 'l') && !is_decimal) {
            ++pos_;
        } else if (pos_ < src_.size() && (src_[pos_] == 'D' || src_[pos_] == 'd')) {
            is_decimal = true;
            ++pos_;
        }
        if (pos_ < src_.size() && ident_char(src_[pos_])) {
            while (pos_ < src_.size() && ident_char(src_[pos_])) ++pos_;
            fail(start, pos_ - start,
                 "malformed number '" + std::string(src_.substr(start, pos_ - start)) + "'");
        }
        std::string text(src_.substr(start, pos_ - start));
        if (!text.empty() && (text.back() == 'L' || text.back() == 'l' || text.back() == 'D' ||
                              text.back() == 'd'))
            text.pop_back();
        return {is_decimal ? TokenKind::decimal : TokenKind::integer, std::move(text), start,
                pos_ - start};
    }

    // 'it''s' and 'it\'s' both give it's; backquotes double to escape themselves.
    Token quoted(char quote, TokenKind kind) {
        const std::size_t start = pos_++;
        std::string value;
        while (true) {
            if (pos_ >= src_.size())
                fail(start, 1,
                     kind == TokenKind::string
                         ? std::string("unterminated string literal: expected a closing ") + quote
                         : std::string("unterminated quoted name: expected a closing `"));
            const char c = src_[pos_];
            if (c == quote) {
                if (pos_ + 1 < src_.size() && src_[pos_ + 1] == quote) {
                    value += quote;
                    pos_ += 2;
                    continue;
                }
                ++pos_;
                break;
            }
            if (c == '\\' && kind == TokenKind::string && pos_ + 1 < src_.size()) {
                const char e = src_[pos_ + 1];
                switch (e) {
                    case 'n': value += '\n'; break;
                    case 't': value += '\t'; break;
                    case 'r': value += '\r'; break;
                    case '0': value += '\0'; break;
                    // \% and \_ stay escaped so that LIKE sees them as literal characters.
                    case '%': value += "\\%"; break;
                    case '_': value += "\\_"; break;
                    default: value += e; break;
                }
                pos_ += 2;
                continue;
            }
            value += c;
            ++pos_;
        }
        return {kind, std::move(value), start, pos_ - start};
    }

    std::string_view src_;
    std::string_view origin_;
    std::size_t pos_ = 0;
};

}  // namespace isoflow::detail
