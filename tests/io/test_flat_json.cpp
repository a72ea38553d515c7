// The fast paths for flat JSON records (scan_flat_object, the per-file key template) and the
// SWAR helpers must give exactly what the general simdjson path gives. A record with a nested
// value never takes a fast path, so appending `"_z": [0]` to every record of a file gives a
// reference read through simdjson; every other column must then be identical, bit for bit.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "catch.hpp"
#include "isoflow/io.hpp"
#include "isoflow/io/detail/csv_cursor.hpp"
#include "isoflow/io/detail/flat_json.hpp"

using namespace isoflow;

namespace {

struct Rng {
    std::uint64_t s = 12345;
    std::uint64_t next() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return s;
    }
};

// Numbers that stress the conversion: every shape of the JSON grammar, values at the edges of
// the double range, long mantissas, the int64 limit, negative zero.
const std::vector<std::string> tricky_numbers = {
    "0", "-0", "-0.0", "0.0", "1", "-1", "7", "10", "1e5", "1E-7", "-2.5e+3", "1.5e22", "1.5e23",
    "123456789012345678", "-123456789012345678", "1234567890123456789", "9223372036854775807",
    "-9223372036854775808", "99999999999999999999", "0.1", "0.30000000000000004",
    "3.141592653589793238462643383279", "1e308", "1.7976931348623157e308", "2.2250738585072014e-308",
    "4.9e-324", "1e-320", "9007199254740993", "9007199254740993.0", "0.000001234", "123.456e-2",
    "100000000000000000000000", "1.00000000000000011102230246251565404236316680908203125",
    "12345678.12345678", "0.12345678901234567890"};

// A random double printed like JSON writers do (shortest or %.17g), or an integer.
std::string random_number(Rng& rng) {
    const std::uint64_t r = rng.next();
    char buf[64];
    switch (r % 4) {
        case 0: std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(rng.next() % 2000000) - 1000000); break;
        case 1: std::snprintf(buf, sizeof buf, "%.6g", (static_cast<double>(rng.next() % 1000000) / 1000.0) - 500.0); break;
        case 2: {
            double d = 0;
            const std::uint64_t bits = rng.next() & 0x7FEFFFFFFFFFFFFFULL;
            std::memcpy(&d, &bits, sizeof d);
            std::snprintf(buf, sizeof buf, "%.17g", (r & 8) ? -d : d);
            break;
        }
        default: std::snprintf(buf, sizeof buf, "%.10f", static_cast<double>(rng.next() % 100000000) / 7.0); break;
    }
    return buf;
}

// Compares two columns value by value (doubles bit for bit, so -0.0 and 0.0 differ).
void require_same_column(const Column& a, const Column& b, const std::string& name) {
    INFO("column " << name);
    REQUIRE(a.type() == b.type());
    REQUIRE(a.size() == b.size());
    for (std::size_t r = 0; r < a.size(); ++r) {
        INFO("row " << r);
        REQUIRE(a.is_valid(r) == b.is_valid(r));
        if (!a.is_valid(r)) continue;
        switch (a.type()) {
            case DataType::float64: {
                const double x = a.double_values()[r];
                const double y = b.double_values()[r];
                std::uint64_t bx = 0, by = 0;
                std::memcpy(&bx, &x, 8);
                std::memcpy(&by, &y, 8);
                REQUIRE(bx == by);
                break;
            }
            case DataType::int64:
            case DataType::timestamp: REQUIRE(a.int64_values()[r] == b.int64_values()[r]); break;
            case DataType::boolean: REQUIRE(a.bool_values()[r] == b.bool_values()[r]); break;
            case DataType::string: REQUIRE(a.string_at(r) == b.string_at(r)); break;
        }
    }
}

// Reads `lines` as they are and with a nested member appended to each, and compares.
void require_same_as_simdjson(const std::vector<std::string>& lines, const ReadOptions& options) {
    std::string fast_text, slow_text;
    for (const auto& l : lines) {
        fast_text += l + "\n";
        std::string slow = l;
        const std::size_t close = slow.rfind('}');
        REQUIRE(close != std::string::npos);
        const bool empty = slow.find_first_not_of(" {", 0) == close;
        slow.insert(close, empty ? "\"_z\": [0]" : ", \"_z\": [0]");
        slow_text += slow + "\n";
    }
    const Batch fast = read_json_text(fast_text, options, "f.json");
    const Batch slow = read_json_text(slow_text, options, "f.json");
    REQUIRE(fast.num_rows() == slow.num_rows());
    for (std::size_t c = 0; c < fast.num_columns(); ++c) {
        const std::string& name = fast.schema().field(c).name;
        const auto other = slow.find_column(name);
        REQUIRE(other.has_value());
        CHECK(fast.schema().field(c).type == slow.schema().field(*other).type);
        require_same_column(fast.column(c), slow.column(*other), name);
    }
    for (std::size_t c = 0; c < slow.num_columns(); ++c) {
        const std::string& name = slow.schema().field(c).name;
        if (name != "_z") CHECK(fast.find_column(name).has_value());
    }
}

}  // namespace

TEST_CASE("scan_json_number converts like std::from_chars and follows the JSON grammar") {
    using detail::scan_json_number;
    Rng rng;
    std::vector<std::string> inputs = tricky_numbers;
    for (int i = 0; i < 20000; ++i) inputs.push_back(random_number(rng));
    std::size_t fast = 0;
    for (const auto& t : inputs) {
        INFO(t);
        bool integer = false;
        std::int64_t iv = 0;
        double d = 0;
        const char* end = scan_json_number(t.data(), t.data() + t.size(), integer, iv, d);
        if (!end) continue;  // left to simdjson
        ++fast;
        REQUIRE(end == t.data() + t.size());
        double expected = 0;
        const auto r = std::from_chars(t.data(), t.data() + t.size(), expected);
        REQUIRE(r.ec == std::errc{});
        REQUIRE(std::memcmp(&d, &expected, sizeof d) == 0);
        if (integer) REQUIRE(std::to_string(iv) == t);
    }
    // The fast path must take the usual shapes, or it is not a fast path.
    CHECK(fast > inputs.size() * 9 / 10);
    for (const char* bad : {"01", "1.", ".5", "-", "+1", "1e", "1e+", "--1", "0x10", "1.5.2", "NaN", "Infinity"}) {
        const std::string t = bad;
        bool integer = false;
        std::int64_t iv = 0;
        double d = 0;
        const char* end = scan_json_number(t.data(), t.data() + t.size(), integer, iv, d);
        INFO(t);
        CHECK((end == nullptr || end != t.data() + t.size()));
    }
}

TEST_CASE("digit_run and the SWAR field search agree with byte loops at every alignment") {
    for (std::size_t len = 0; len <= 24; ++len) {
        for (std::size_t tail = 0; tail <= 9; ++tail) {
            std::string digits;
            for (std::size_t i = 0; i < len; ++i) digits += static_cast<char>('0' + (i * 7 + len) % 10);
            const std::string text = digits + std::string(tail, 'x') + ",";
            std::uint64_t m = 0;
            const char* end = detail::digit_run(text.data(), text.data() + text.size(), m);
            REQUIRE(static_cast<std::size_t>(end - text.data()) == len);
            if (len <= 19) {
                std::uint64_t expected = 0;
                for (char c : digits) expected = expected * 10 + static_cast<std::uint64_t>(c - '0');
                REQUIRE(m == expected);
            }
            for (const char stop : {',', '\n', '\r', ';'}) {
                std::string field(len, 'a');
                field += stop;
                field += std::string(tail, 'b');
                const char* f = detail::find_field_end(field.data(), field.data() + field.size(), ';');
                REQUIRE(static_cast<std::size_t>(f - field.data()) == (stop == ',' ? field.size() : len));
            }
        }
    }
}

TEST_CASE("Flat records read through the fast paths equal the simdjson path") {
    Rng rng;
    std::vector<std::string> lines;
    // Regular rows (the template path), with a few that change shape in between.
    for (int i = 0; i < 400; ++i) {
        std::string l = "{\"id\": " + std::to_string(i) + ", \"x\": " + random_number(rng) +
                        ", \"flag\": " + (i % 3 ? "true" : "false") + ", \"name\": \"n" + std::to_string(i % 7) +
                        "\", \"when\": \"2024-03-01T12:30:0" + std::to_string(i % 10) + "Z\"";
        if (i % 50 == 7) l += ", \"extra\": " + random_number(rng);       // a new column
        if (i % 60 == 11) l += ", \"x\": 5";                               // a duplicate key
        if (i % 70 == 13) l += ", \"X\": 6";                               // same name, other case
        l += "}";
        if (i % 40 == 3) l = "{\"x\": null, \"id\": " + std::to_string(i) + "}";  // other order, null
        if (i % 45 == 5) l = "{\"id\": \"text\", \"x\": \"1.5\", \"flag\": 1}";   // values that do not fit
        if (i % 55 == 9) l = "{\"id\": 1.5e3, \"x\": -0, \"name\": \"caf\\u00e9\"}"; // escapes, -0
        if (i % 65 == 1) l = "{}";
        lines.push_back(l);
    }
    for (const auto& n : tricky_numbers) lines.push_back("{\"id\": " + n + ", \"x\": " + n + ", \"name\": " + n + "}");

    SECTION("inferred types") {
        ReadOptions o;
        o.infer_column_types = true;
        require_same_as_simdjson(lines, o);
    }
    SECTION("all strings") { require_same_as_simdjson(lines, ReadOptions{}); }
    SECTION("hints, evolution mode none, source line") {
        ReadOptions o;
        o.infer_column_types = true;
        o.schema_hints = "id BIGINT, x DOUBLE, name STRING, flag BOOLEAN";
        o.schema_evolution_mode = SchemaEvolutionMode::none;
        o.add_source_line = true;
        require_same_as_simdjson(lines, o);
    }
    SECTION("small batches") {
        ReadOptions o;
        o.infer_column_types = true;
        o.batch_rows = 7;
        o.infer_sample_rows = 3;
        require_same_as_simdjson(lines, o);
    }
}
