// Text helpers shared by the readers: number and timestamp parsing, JSON string escaping,
// line/column arithmetic and glob matching. Nothing here allocates per value except the
// functions that return std::string.
#pragma once

#include "isoflow/core/detail/text.hpp"
#include <bit>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace isoflow::detail {

[[nodiscard]] constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

[[nodiscard]] constexpr bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

[[nodiscard]] inline std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

// Parses the whole of `s` as a base-10 int64 (optional sign). No spaces, no fraction.
[[nodiscard]] inline bool parse_int64(std::string_view s, std::int64_t& out) noexcept {
    if (s.empty()) return false;
    const char* b = s.data();
    const char* e = b + s.size();
    if (*b == '+') {
        ++b;
        if (b == e || *b == '-') return false;
    }
    const auto [ptr, ec] = std::from_chars(b, e, out);
    return ec == std::errc{} && ptr == e;
}

// True for an optional sign followed by 1 to 18 digits: certainly an int64 (parse_int64
// accepts it). A cheap test that spares std::from_chars on the common case.
[[nodiscard]] constexpr bool looks_like_int64(std::string_view s) noexcept {
    std::size_t i = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
    const std::size_t n = s.size() - i;
    if (n == 0 || n > 18) return false;
    for (; i < s.size(); ++i)
        if (!is_digit(s[i])) return false;
    return true;
}

// True when `s` is an optional sign and digits only (the shape parse_int64 may accept).
[[nodiscard]] constexpr bool is_signed_digits(std::string_view s) noexcept {
    std::size_t i = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
    if (i == s.size()) return false;
    for (; i < s.size(); ++i)
        if (!is_digit(s[i])) return false;
    return true;
}

// Byte equality of two short texts, inline (keys and column names are a few bytes long;
// a memcmp call costs more than the comparison).
[[nodiscard]] constexpr bool same_text(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i] != b[i]) return false;
    return true;
}

// The special values Spark accepts in JSON and CSV: NaN, Infinity, -Infinity (and +Infinity).
[[nodiscard]] inline std::optional<double> special_double(std::string_view s) noexcept {
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (s == "Infinity" || s == "+Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
    return std::nullopt;
}

// Parses the whole of `s` as a double: decimal or exponent notation, optional sign, or one of
// NaN/Infinity/-Infinity. Rejects the other spellings std::from_chars takes ("inf", "nan").
[[nodiscard]] inline bool parse_double(std::string_view s, double& out) noexcept {
    if (s.empty()) return false;
    const char* b = s.data();
    const char* e = b + s.size();
    const char* digits = b;
    if (*digits == '+' || *digits == '-') ++digits;
    if (digits == e || !(is_digit(*digits) || *digits == '.')) {
        if (auto v = special_double(s)) {
            out = *v;
            return true;
        }
        return false;
    }
    if (*b == '+') ++b;
    const auto [ptr, ec] = std::from_chars(b, e, out);
    // Out-of-range text (1e400) is not taken as a double: the value is rescued as written.
    return ec == std::errc{} && ptr == e;
}

// The value of eight ASCII digits loaded little-endian (the first digit in the lowest byte).
// Three multiply-and-shift steps combine pairs, then quads, then the two halves.
[[nodiscard]] constexpr std::uint64_t eight_digits_value(std::uint64_t v) noexcept {
    v = ((v & 0x0F0F0F0F0F0F0F0FULL) * 2561) >> 8;
    v = ((v & 0x00FF00FF00FF00FFULL) * 6553601) >> 16;
    return ((v & 0x0000FFFF0000FFFFULL) * 42949672960001ULL) >> 32;
}

// Appends the run of decimal digits starting at `p` to `m` (m = m * 10^n + run) and returns
// the end of the run. Eight bytes at a time where eight bytes remain before `end`; `m` wraps
// on overflow, so callers bound the number of digits themselves.
#if defined(__GNUC__) || defined(__clang__)
#define ISOFLOW_IO_INLINE [[gnu::always_inline]] inline
// For the per-record loops: everything they call inlined (GCC otherwise leaves small
// helpers such as std::vector::push_back as calls once the function is large).
#define ISOFLOW_IO_FLATTEN [[gnu::flatten]]
#else
#define ISOFLOW_IO_INLINE inline
#define ISOFLOW_IO_FLATTEN
#endif

[[nodiscard]] ISOFLOW_IO_INLINE const char* digit_run(const char* p, const char* end, std::uint64_t& m) noexcept {
    if constexpr (std::endian::native == std::endian::little) {
        static constexpr std::uint64_t pow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};
        while (end - p >= 8) {
            std::uint64_t v;
            std::memcpy(&v, p, 8);
            // A byte is a digit when its high nibble is 3 and adding 6 keeps it so. Bytes past
            // the first non-digit may be misjudged (a carry), but only the first one matters.
            const std::uint64_t non_digit = ((v & 0xF0F0F0F0F0F0F0F0ULL) ^ 0x3030303030303030ULL) |
                                            (((v + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) ^
                                             0x3030303030303030ULL);
            if (non_digit == 0) {
                m = m * 100000000ULL + eight_digits_value(v);
                p += 8;
                continue;
            }
            const int k = std::countr_zero(non_digit) / 8;
            if (k > 0) m = m * pow10[k] + eight_digits_value(v << (8 * (8 - k)));
            return p + k;
        }
    }
    while (p != end && is_digit(*p)) {
        m = m * 10 + static_cast<std::uint64_t>(*p - '0');
        ++p;
    }
    return p;
}

// digit_run for integer parts, which are mostly one to three digits long: a byte loop is
// cheaper than the eight-byte step for those. Same result as digit_run (m wraps the same way).
[[nodiscard]] ISOFLOW_IO_INLINE const char* lead_digit_run(const char* p, const char* end, std::uint64_t& m) noexcept {
    for (int k = 0; k < 3; ++k) {
        if (p == end || !is_digit(*p)) return p;
        m = m * 10 + static_cast<std::uint64_t>(*p - '0');
        ++p;
    }
    return digit_run(p, end, m);
}

// Fast path for the common shape "-12.345" / "7" / "1.5e-3" with at most 19 significant
// digits: the mantissa and the power of ten are both exact doubles, so one multiplication or
// division rounds correctly (Clinger). Returns the end of the number, or nullptr when the
// text needs the general parser (the caller then uses parse_double on the whole field).
[[nodiscard]] ISOFLOW_IO_INLINE const char* parse_double_prefix(const char* p, const char* end,
                                                     double& out) noexcept {
    static constexpr double powers[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                        1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                        1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char* q = p;
    bool negative = false;
    if (q != end && *q == '-') {
        negative = true;
        ++q;
    }
    std::uint64_t mantissa = 0;
    int digits = 0;
    int exponent = 0;
    const char* start_digits = q;
    q = lead_digit_run(q, end, mantissa);
    digits += static_cast<int>(q - start_digits);
    if (q == start_digits) return nullptr;
    if (q != end && *q == '.') {
        ++q;
        const char* frac = q;
        q = digit_run(q, end, mantissa);
        digits += static_cast<int>(q - frac);
        if (q == frac) return nullptr;
        exponent = -static_cast<int>(q - frac);
    }
    if (q != end && (*q == 'e' || *q == 'E')) {
        ++q;
        bool exp_negative = false;
        if (q != end && (*q == '+' || *q == '-')) {
            exp_negative = *q == '-';
            ++q;
        }
        const char* exp_start = q;
        int e = 0;
        while (q != end && is_digit(*q) && e < 10000) {
            e = e * 10 + (*q - '0');
            ++q;
        }
        if (q == exp_start || (q != end && is_digit(*q))) return nullptr;
        exponent += exp_negative ? -e : e;
    }
    if (digits > 19 || mantissa > (std::uint64_t{1} << 53) || exponent < -22 || exponent > 22)
        return nullptr;
    double value = static_cast<double>(mantissa);
    value = exponent < 0 ? value / powers[-exponent] : value * powers[exponent];
    out = negative ? -value : value;
    return q;
}


[[nodiscard]] inline std::string json_quote(std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
}

// Line and column (both 1-based) of `offset` inside `text`, whose first byte is on `first_line`.
struct TextPosition {
    std::uint64_t line = 1;
    std::uint64_t column = 1;
};
[[nodiscard]] inline TextPosition position_in(std::string_view text, std::size_t offset,
                                              std::uint64_t first_line) noexcept {
    TextPosition pos{first_line, 1};
    if (offset > text.size()) offset = text.size();
    for (std::size_t i = 0; i < offset; ++i) {
        if (text[i] == '\n') {
            ++pos.line;
            pos.column = 1;
        } else {
            ++pos.column;
        }
    }
    return pos;
}

// A file or directory name a file source never takes: `.x` (hidden, temporary) or `_x`
// (`_SUCCESS`, a writer's staging area).
[[nodiscard]] inline bool hidden_name(std::string_view name) noexcept {
    return !name.empty() && (name.front() == '.' || name.front() == '_');
}

// Shell-style match of a file name: '*' any run, '?' one character, '[abc]' / '[a-z]' / '[!a]'
// a set, '{a,b}' alternatives, '\' escapes. Matches the whole name.
[[nodiscard]] inline bool glob_match(std::string_view pattern, std::string_view name) {
    if (pattern.empty()) return name.empty();
    const char c = pattern.front();
    if (c == '*') {
        for (std::size_t i = 0; i <= name.size(); ++i)
            if (glob_match(pattern.substr(1), name.substr(i))) return true;
        return false;
    }
    if (c == '{') {
        const std::size_t close = pattern.find('}');
        if (close != std::string_view::npos) {
            const std::string_view rest = pattern.substr(close + 1);
            std::string_view alts = pattern.substr(1, close - 1);
            while (true) {
                const std::size_t comma = alts.find(',');
                std::string candidate(alts.substr(0, comma));
                candidate += rest;
                if (glob_match(candidate, name)) return true;
                if (comma == std::string_view::npos) return false;
                alts.remove_prefix(comma + 1);
            }
        }
    }
    if (name.empty()) return false;
    if (c == '?') return glob_match(pattern.substr(1), name.substr(1));
    if (c == '[') {
        std::size_t i = 1;
        bool negate = false;
        if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
            negate = true;
            ++i;
        }
        bool matched = false;
        bool first = true;
        while (i < pattern.size() && (first || pattern[i] != ']')) {
            first = false;
            char lo = pattern[i];
            char hi = lo;
            if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
                hi = pattern[i + 2];
                i += 2;
            }
            if (name.front() >= lo && name.front() <= hi) matched = true;
            ++i;
        }
        if (i >= pattern.size()) return pattern.front() == name.front() &&
                                        glob_match(pattern.substr(1), name.substr(1));
        if (matched == negate) return false;
        return glob_match(pattern.substr(i + 1), name.substr(1));
    }
    if (c == '\\' && pattern.size() > 1) {
        return pattern[1] == name.front() && glob_match(pattern.substr(2), name.substr(1));
    }
    return c == name.front() && glob_match(pattern.substr(1), name.substr(1));
}

}  // namespace isoflow::detail
