// Text helpers of the store: SQL identifier quoting, JSON string escaping, and the fixed
// formats the store writes (ISO 8601 UTC timestamps, shortest round-trip doubles).
#pragma once

#include "isoflow/core/detail/text.hpp"
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>

namespace isoflow::detail::store {

using isoflow::detail::append_json_string;

// "name" with embedded double quotes doubled: safe for any table or column name.
inline void append_quoted_identifier(std::string& out, std::string_view name) {
    out += '"';
    for (char c : name) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
}

[[nodiscard]] inline std::string quote_identifier(std::string_view name) {
    std::string out;
    out.reserve(name.size() + 2);
    append_quoted_identifier(out, name);
    return out;
}


[[nodiscard]] inline std::string json_string(std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
}

// Shortest text that reads back as the same double ("0.1", "1e+300"); finite values only.
inline void append_double(std::string& out, double v) {
    char buf[32];
    const auto res = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, res.ptr);
}

inline void append_int(std::string& out, std::int64_t v) {
    char buf[24];
    const auto res = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, res.ptr);
}

// Microseconds since the epoch as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC). `fraction_digits` is 6
// (micros, for data) or 3 (millis, for the event log as DLT writes it).
inline void append_iso_timestamp(std::string& out, std::int64_t micros, int fraction_digits = 6) {
    using namespace std::chrono;
    const sys_time<microseconds> t{microseconds{micros}};
    const sys_days day = floor<days>(t);
    const year_month_day ymd{day};
    std::int64_t in_day = (t - day).count();  // 0 .. 86'399'999'999
    const auto h = in_day / 3'600'000'000;
    in_day %= 3'600'000'000;
    const auto m = in_day / 60'000'000;
    in_day %= 60'000'000;
    const auto s = in_day / 1'000'000;
    const auto us = in_day % 1'000'000;
    char buf[64];
    int n = 0;
    if (fraction_digits == 3)
        n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                          static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                          static_cast<unsigned>(ymd.day()), static_cast<long long>(h),
                          static_cast<long long>(m), static_cast<long long>(s),
                          static_cast<long long>(us / 1000));
    else
        n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ",
                          static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                          static_cast<unsigned>(ymd.day()), static_cast<long long>(h),
                          static_cast<long long>(m), static_cast<long long>(s),
                          static_cast<long long>(us));
    if (n > 0) out.append(buf, static_cast<std::size_t>(n));
}

[[nodiscard]] inline std::int64_t now_micros() {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

[[nodiscard]] inline std::string now_iso_millis() {
    std::string out;
    append_iso_timestamp(out, now_micros(), 3);
    return out;
}

}  // namespace isoflow::detail::store
