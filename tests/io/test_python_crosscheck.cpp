// The readers agree with Python's json and csv modules on tricky inputs.
#include <simdjson.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "catch.hpp"
#include "io_test_util.hpp"
#include "isoflow/io.hpp"

using namespace isoflow;

namespace {
std::vector<std::string> run_python(const std::string& kind, const std::string& file, const std::string& delimiter = "") {
    std::string cmd = std::string(ISOFLOW_PYTHON) + " " + ISOFLOW_SOURCE_DIR + "/tests/io/python_parse.py " +
                      kind + " '" + file + "'";
    if (!delimiter.empty()) cmd += " '" + delimiter + "'";
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
    REQUIRE(pipe);
    std::vector<std::string> lines;
    std::string line;
    std::array<char, 4096> buf{};
    while (fgets(buf.data(), buf.size(), pipe.get())) {
        line += buf.data();
        if (!line.empty() && line.back() == '\n') {
            line.pop_back();
            lines.push_back(line);
            line.clear();
        }
    }
    return lines;
}
}  // namespace

TEST_CASE("JSON Lines: same values as Python's json module") {
    io_test::TempDir dir;
    const std::string text =
        "{\"a\": \"tab\\there \\\"quoted\\\" back\\\\slash\", \"b\": 1, \"c\": -0.5, \"d\": true}\n"
        "{\"a\": \"\\u00e9\\u4e2d\\ud83d\\ude00 / \\/\", \"b\": 12345678901234, \"c\": 1e-07, \"d\": null}\n"
        "{\"a\": \"\", \"b\": -7, \"c\": 2.5E+20, \"d\": false, \"e\": {\"x\": [1, \"y\", null]}}\n"
        "  {\"a\":\"caf\u00c3\u00a9 utf8\",\"b\":0,\"c\":100000.0,\"d\":true,\"e\":[]}  \r\n"
        "\n"
        "{\"b\": 3, \"a\": \"order differs\", \"c\": 0.1, \"d\": false, \"e\": {}}\n";
    const auto file = (dir / "t.json").string();
    io_test::write_file(file, text);
    const auto expected = run_python("json", file);
    REQUIRE(expected.size() == 5);
    const Batch b = read_json(file);  // no inference: every column a string
    REQUIRE(b.num_rows() == expected.size());
    simdjson::dom::parser parser;
    for (std::size_t r = 0; r < expected.size(); ++r) {
        simdjson::dom::object obj = parser.parse(expected[r]);
        std::size_t keys = 0;
        for (auto [key, value] : obj) {
            ++keys;
            const auto& col = b.column(key);
            INFO("row " << r << " key " << key);
            if (value.is_null()) {
                CHECK(col.is_null(r));
            } else {
                REQUIRE(col.is_valid(r));
                CHECK(std::string(col.string_at(r)) == std::string(std::string_view(value)));
            }
        }
        CHECK(keys >= 4);
    }
    CHECK(b.column("_rescued_data").null_count() == b.num_rows());
}

TEST_CASE("CSV: same fields as Python's csv module") {
    io_test::TempDir dir;
    const std::string text =
        "id,text,other\r\n"
        "1,\"comma, inside\",x\r\n"
        "2,\"line\nbreak\",\"doubled \"\"quotes\"\"\"\r\n"
        "3,,\"\"\n"
        "\n"
        "4,  spaces  ,\"\u00e9\"\n"
        "5,\"a\"\"\",end";
    const auto file = (dir / "t.csv").string();
    io_test::write_file(file, text);
    const auto expected = run_python("csv", file);
    REQUIRE(expected.size() == 6);  // header + 5 rows
    ReadOptions o;
    o.null_value = "<no null token>";
    const Batch b = read_csv(file, o);
    REQUIRE(b.num_rows() == 5);
    simdjson::dom::parser parser;
    simdjson::dom::array header = parser.parse(expected[0]);
    std::vector<std::string> names;
    for (auto h : header) names.emplace_back(std::string_view(h));
    REQUIRE(names.size() == 3);
    for (std::size_t r = 1; r < expected.size(); ++r) {
        simdjson::dom::array row = parser.parse(expected[r]);
        std::size_t c = 0;
        for (auto v : row) {
            INFO("row " << r << " column " << names[c]);
            CHECK(std::string(b.column(names[c]).string_at(r - 1)) == std::string(std::string_view(v)));
            ++c;
        }
        CHECK(c == names.size());
    }
}

// Python's json reads NaN, Infinity and -Infinity too; nested values are compared as compact
// JSON text, also in a record only the lenient parser reads (NaN elsewhere in it).
TEST_CASE("JSON Lines: NaN, Infinity, nested values, big integers and repeated keys as Python's json module reads them") {
    io_test::TempDir dir;
    const std::string text =
        "{\"a\": NaN, \"b\": Infinity, \"c\": -Infinity, \"d\": 1}\n"
        "{\"n\": {\"x\": [1.0, 1e-07, 2.5E+20, -0.0, 100000.0, 0.1], \"y\": {}, \"z\": \"\\u00e9/\\/\\n\"}, \"m\": [true, null, \"s\"]}\n"
        "{\"n\": {\"x\": [1.0, 2.5E+20, 0.1, -0.0], \"y\": [[]]}, \"m\": NaN, \"d\": 2}\n"
        "{\"big\": 123456789012345678901234567890, \"u\": 18446744073709551615, \"i\": 9223372036854775808,"
        " \"neg\": -9223372036854775809, \"d\": 9223372036854775807}\n"
        "{\"a\": \"first\", \"a\": \"second\", \"d\": 3}\n"
        "{\"d\": 4, \"d\": 4.5, \"n\": {\"k\": 1}}\n";
    const auto file = (dir / "t.json").string();
    io_test::write_file(file, text);
    const auto expected = run_python("json", file);
    REQUIRE(expected.size() == 6);
    const Batch b = read_json(file);  // no inference: every column a string
    REQUIRE(b.num_rows() == expected.size());
    simdjson::dom::parser parser;
    std::size_t repeated_rows = 0;
    for (std::size_t r = 0; r < expected.size(); ++r) {
        simdjson::dom::object obj = parser.parse(expected[r]);
        bool repeated = false;
        for (auto [key, value] : obj) {
            INFO("row " << r << " key " << key);
            if (key == "_repeated") {
                // The first value is the column's; each later one is in the rescued data.
                repeated = true;
                const std::string rescued = io_test::str(b, "_rescued_data", r);
                for (simdjson::dom::array pair : simdjson::dom::array(value)) {
                    const std::string entry = "\"" + std::string(std::string_view(pair.at(0))) + "\": " +
                                              std::string(std::string_view(pair.at(1)));
                    CHECK(rescued.find(entry) != std::string::npos);
                }
                continue;
            }
            const auto& col = b.column(key);
            if (value.is_null()) {
                CHECK(col.is_null(r));
            } else {
                REQUIRE(col.is_valid(r));
                CHECK(std::string(col.string_at(r)) == std::string(std::string_view(value)));
            }
        }
        if (!repeated) CHECK(b.column("_rescued_data").is_null(r));
        repeated_rows += repeated;
    }
    CHECK(repeated_rows == 2);

    // With inference, integers beyond int64 make their column double (correctly rounded), as a
    // mix of integers and decimals does; NaN and the infinities are doubles.
    ReadOptions typed;
    typed.infer_column_types = true;
    const Batch t = read_json(file, typed);
    CHECK(t.column("big").type() == DataType::float64);
    CHECK(t.column("big").double_values()[3] == 123456789012345678901234567890.0);
    CHECK(t.column("u").double_values()[3] == 18446744073709551615.0);
    CHECK(t.column("b").type() == DataType::float64);
    CHECK(t.column("b").double_values()[0] == INFINITY);
}

TEST_CASE("CSV: delimiters, a byte order mark, quoted newlines, doubled quotes and empty trailing fields as Python's csv module") {
    io_test::TempDir dir;
    const char delimiter = GENERATE(';', '\t', '|');
    const std::string d(1, delimiter);
    const std::string text = "\xEF\xBB\xBFid" + d + "text" + d + "tail\r\n" +
                             "1" + d + "\"with " + d + " inside\"" + d + "\n" +
                             "2" + d + "\"line\nbreak \"\"q\"\"\"" + d + "\n" +
                             "3" + d + d + "\n" +
                             "4" + d + "x" + d + "\"\"\n" +
                             "5" + d + "\"\"\"\"" + d + "last";
    const auto file = (dir / "t.csv").string();
    io_test::write_file(file, text);
    const auto expected = run_python("csv", file, d);
    REQUIRE(expected.size() == 6);  // header + 5 rows
    ReadOptions o;
    o.delimiter = delimiter;
    o.null_value = "<no null token>";
    const Batch b = read_csv(file, o);
    REQUIRE(b.num_rows() == 5);
    simdjson::dom::parser parser;
    simdjson::dom::array header = parser.parse(expected[0]);
    std::vector<std::string> names;
    for (auto h : header) names.emplace_back(std::string_view(h));
    REQUIRE(names == std::vector<std::string>{"id", "text", "tail"});  // no BOM in the first name
    CHECK(b.schema().field(0).name == "id");
    for (std::size_t r = 1; r < expected.size(); ++r) {
        simdjson::dom::array row = parser.parse(expected[r]);
        std::size_t c = 0;
        for (auto v : row) {
            INFO("row " << r << " column " << names[c]);
            REQUIRE(c < names.size());
            CHECK(std::string(b.column(names[c]).string_at(r - 1)) == std::string(std::string_view(v)));
            ++c;
        }
        CHECK(c == names.size());
    }
    CHECK(b.column("_rescued_data").null_count() == 5);
}
