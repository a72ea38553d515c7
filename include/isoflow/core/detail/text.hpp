// Text helpers shared by the readers, the expression language, the store and the pipeline:
// ISO 8601 timestamps (UTC microseconds) and JSON string literals. Standard library only.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace isoflow::detail {

[[nodiscard]] constexpr bool ascii_digit(char c) noexcept { return c >= '0' && c <= '9'; }

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
            if (!ascii_digit(s[i + k])) return false;
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
                while (i < s.size() && ascii_digit(s[i])) {
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

// Appends the UTF-8 encoding of a code point (for \u escapes).
inline void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

[[nodiscard]] inline std::string json_quoted(std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
}

}  // namespace isoflow::detail
