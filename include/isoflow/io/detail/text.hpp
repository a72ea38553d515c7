// Text helpers shared by the readers: number and timestamp parsing, JSON string escaping,
// line/column arithmetic and glob matching. Nothing here allocates per value except the
// functions that return std::string.
#pragma once

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
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

// Fast path for the common shape "-12.345" / "7" / "1.5e-3" with at most 19 significant
// digits: the mantissa and the power of ten are both exact doubles, so one multiplication or
// division rounds correctly (Clinger). Returns the end of the number, or nullptr when the
// text needs the general parser (the caller then uses parse_double on the whole field).
[[nodiscard]] inline const char* parse_double_prefix(const char* p, const char* end,
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
    while (q != end && is_digit(*q)) {
        mantissa = mantissa * 10 + static_cast<std::uint64_t>(*q - '0');
        ++digits;
        ++q;
    }
    if (q == start_digits) return nullptr;
    if (q != end && *q == '.') {
        ++q;
        const char* frac = q;
        while (q != end && is_digit(*q)) {
            mantissa = mantissa * 10 + static_cast<std::uint64_t>(*q - '0');
            ++digits;
            ++q;
        }
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

// Days since 1970-01-01 of a proleptic Gregorian date (the civil-from-days inverse).
[[nodiscard]] constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// ISO 8601 to microseconds since the epoch, UTC: "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.fff]]"
// (T or space), then optionally Z or an offset +HH, +HH:MM, +HHMM. No offset means UTC.
// `require_time` rejects the date-only form (inference does not turn plain dates into
// timestamps; a column declared TIMESTAMP accepts them as midnight UTC).
[[nodiscard]] inline std::optional<std::int64_t> parse_timestamp(std::string_view s,
                                                                 bool require_time = false) noexcept {
    std::size_t i = 0;
    auto num = [&](std::size_t n, int& out) {
        if (i + n > s.size()) return false;
        out = 0;
        for (std::size_t k = 0; k < n; ++k) {
            if (!is_digit(s[i + k])) return false;
            out = out * 10 + (s[i + k] - '0');
        }
        i += n;
        return true;
    };
    auto lit = [&](char c) {
        if (i < s.size() && s[i] == c) {
            ++i;
            return true;
        }
        return false;
    };
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!num(4, year) || !lit('-') || !num(2, month) || !lit('-') || !num(2, day)) return std::nullopt;
    if (month < 1 || month > 12 || day < 1) return std::nullopt;
    static constexpr int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > month_days[month - 1] || (month == 2 && day == 29 && !leap)) return std::nullopt;
    std::int64_t micros_of_second = 0;
    std::int64_t offset_seconds = 0;
    if (i == s.size()) {
        if (require_time) return std::nullopt;
    } else {
        if (!(lit('T') || lit(' ') || lit('t'))) return std::nullopt;
        if (!num(2, hour) || !lit(':') || !num(2, minute)) return std::nullopt;
        if (lit(':')) {
            if (!num(2, second)) return std::nullopt;
            if (lit('.') || lit(',')) {
                std::size_t digits = 0;
                std::int64_t frac = 0;
                while (i < s.size() && is_digit(s[i])) {
                    if (digits < 6) frac = frac * 10 + (s[i] - '0');
                    ++digits;
                    ++i;
                }
                if (digits == 0) return std::nullopt;
                for (std::size_t k = digits; k < 6; ++k) frac *= 10;
                micros_of_second = frac;
            }
        }
        if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
        if (i < s.size()) {
            if (lit('Z') || lit('z')) {
            } else if (s[i] == '+' || s[i] == '-') {
                const int sign = s[i] == '-' ? -1 : 1;
                ++i;
                int oh = 0, om = 0;
                if (!num(2, oh)) return std::nullopt;
                if (lit(':')) {
                    if (!num(2, om)) return std::nullopt;
                } else if (i < s.size()) {
                    if (!num(2, om)) return std::nullopt;
                }
                if (oh > 18 || om > 59) return std::nullopt;
                offset_seconds = sign * (oh * 3600 + om * 60);
            } else {
                return std::nullopt;
            }
        }
        if (i != s.size()) return std::nullopt;
    }
    const std::int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    const std::int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
    return seconds * 1'000'000 + micros_of_second;
}

// Formats microseconds since the epoch as "YYYY-MM-DDTHH:MM:SS.ffffffZ".
[[nodiscard]] inline std::string format_timestamp(std::int64_t micros) {
    std::int64_t secs = micros / 1'000'000;
    std::int64_t frac = micros % 1'000'000;
    if (frac < 0) {
        frac += 1'000'000;
        --secs;
    }
    std::int64_t days = secs / 86400;
    std::int64_t rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        --days;
    }
    // civil_from_days
    days += 719468;
    const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const auto doe = static_cast<unsigned>(days - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) ++y;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ",
                  static_cast<long long>(y), m, d, static_cast<long long>(rem / 3600),
                  static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60),
                  static_cast<long long>(frac));
    return buf;
}

// Appends `s` as a JSON string literal (with quotes).
inline void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    out += "\\u00";
                    out += hex[(static_cast<unsigned char>(c) >> 4) & 0xf];
                    out += hex[static_cast<unsigned char>(c) & 0xf];
                } else {
                    out += c;
                }
        }
    }
    out += '"';
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
