// The CSV reader splits and converts a record in one pass when it can, and falls back to the
// general split for anything else. These tests hold both to the same results: every value as
// the text says (std::strtod for numbers), whatever the record's shape, and files read in
// blocks (records cut by block boundaries) equal to the same text read from memory.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "catch.hpp"
#include "io_test_util.hpp"
#include "isoflow/io.hpp"

using namespace isoflow;
using io_test::str;

namespace {

Schema xyz_schema() {
    return Schema({Field{"id", DataType::int64, true}, Field{"x", DataType::float64, true},
                   Field{"s", DataType::string, true}});
}

void require_same(const Batch& a, const Batch& b) {
    REQUIRE(a.num_rows() == b.num_rows());
    REQUIRE(a.num_columns() == b.num_columns());
    for (std::size_t c = 0; c < a.num_columns(); ++c) {
        const Column& x = a.column(c);
        const Column& y = b.column(c);
        REQUIRE(x.type() == y.type());
        for (std::size_t r = 0; r < a.num_rows(); ++r) {
            REQUIRE(x.is_null(r) == y.is_null(r));
            if (x.is_null(r)) continue;
            switch (x.type()) {
                case DataType::float64: {
                    const double u = x.double_values()[r];
                    const double v = y.double_values()[r];
                    REQUIRE(std::memcmp(&u, &v, sizeof u) == 0);
                    break;
                }
                case DataType::int64:
                case DataType::timestamp: REQUIRE(x.int64_values()[r] == y.int64_values()[r]); break;
                case DataType::string: REQUIRE(x.string_at(r) == y.string_at(r)); break;
                case DataType::boolean: break;
            }
        }
    }
}

}  // namespace

TEST_CASE("CSV: a file read in blocks equals the same text in memory, numbers equal strtod") {
    std::string text = "id,x,s\n";
    std::vector<std::string> xs;
    std::uint64_t s = 7;
    char buf[64];
    for (int i = 0; i < 60'000; ++i) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        const double v = static_cast<double>(static_cast<std::int64_t>(s >> 11)) / 9007199254740992.0 * 2e4 - 1e4;
        switch (i % 5) {
            case 0: std::snprintf(buf, sizeof buf, "%.17g", v); break;
            case 1: std::snprintf(buf, sizeof buf, "%.6g", v / 1e3); break;
            case 2: std::snprintf(buf, sizeof buf, "%.3e", v); break;
            case 3: std::snprintf(buf, sizeof buf, "%.2f", v); break;
            default: std::snprintf(buf, sizeof buf, "%d", static_cast<int>(v)); break;
        }
        xs.emplace_back(buf);
        text += std::to_string(i) + "," + buf + ",";
        if (i % 7 == 0) {
            text += "\"q,\"\"uoted\"\"\"";
        } else {
            text += 'w';
            text += std::to_string(i % 13);
        }
        text += i % 3 == 0 ? "\r\n" : "\n";
    }
    text += "60000,1.25,last";  // no line break at the end
    REQUIRE(text.size() > 4 * (std::size_t{1} << 18));

    io_test::TempDir dir;
    io_test::write_file(dir / "n.csv", text);
    ReadOptions o;
    o.infer_column_types = true;
    o.batch_rows = 1'000'000;
    const Batch from_file = read_csv((dir / "n.csv").string(), o);
    const Batch from_text = read_csv_text(text, o, (dir / "n.csv").string());
    REQUIRE(from_file.num_rows() == 60'001);
    require_same(from_file, from_text);
    REQUIRE(from_file.column("x").type() == DataType::float64);
    const auto x = from_file.column("x").double_values();
    for (std::size_t i = 0; i < xs.size(); ++i) {
        const double want = std::strtod(xs[i].c_str(), nullptr);
        REQUIRE(std::memcmp(&x[i], &want, sizeof want) == 0);
    }
    CHECK(x[60'000] == 1.25);
    CHECK(str(from_file, "s", 0) == "q,\"uoted\"");
    CHECK(str(from_file, "s", 1) == "w1");
    CHECK(from_file.column("_rescued_data").null_count() == from_file.num_rows());

    // Small batches: the same rows, cut anywhere.
    ReadOptions small = o;
    small.batch_rows = 977;
    CsvReader reader((dir / "n.csv").string(), small);
    std::size_t rows = 0;
    while (auto b = reader.next()) {
        const auto bx = b->column("x").double_values();
        for (std::size_t r = 0; r < b->num_rows(); ++r) REQUIRE(std::memcmp(&bx[r], &x[rows + r], sizeof(double)) == 0);
        rows += b->num_rows();
    }
    CHECK(rows == 60'001);
}

TEST_CASE("CSV: odd fields in double columns are converted or rescued as the text says") {
    ReadOptions o;
    o.schema = xyz_schema();
    o.add_source_line = true;
    const std::string text =
        "id,x,s\n"
        "1,1.5x,a\n"     // not a number: null, rescued
        "2,,b\n"         // empty: null, not rescued
        "3,1e5,c\n"      // exponent
        "4,-0,d\n"       // negative zero
        "5,+1.5,e\n"     // leading plus (accepted, as parse_double does)
        "6, 2,f\n"       // leading space: not a number
        "7,3.25,g,h\n"   // too many fields: malformed
        "8,4.5\n"        // too few fields: malformed
        "9,1e400,i\n"    // out of range: rescued as written
        "10,\"6.5\",j\r\n"  // quoted number
        "11,Infinity,k\r"   // bare CR line end
        "12,0.1,l";
    const Batch b = read_csv_text(text, o, "odd.csv");
    REQUIRE(b.num_rows() == 12);
    const Column& x = b.column("x");
    auto rescued = [&](std::size_t r) { return str(b, "_rescued_data", r); };
    CHECK(x.is_null(0));
    CHECK(rescued(0).find("\"x\": \"1.5x\"") != std::string::npos);
    CHECK(x.is_null(1));
    CHECK(b.column("_rescued_data").is_null(1));
    CHECK(x.double_values()[2] == 1e5);
    CHECK(x.double_values()[3] == 0.0);
    CHECK(std::signbit(x.double_values()[3]));
    CHECK(x.double_values()[4] == 1.5);
    CHECK(x.is_null(5));
    CHECK(rescued(5).find("\" 2\"") != std::string::npos);
    CHECK(x.is_null(6));
    CHECK(rescued(6).find("expected 3 fields") != std::string::npos);
    CHECK(rescued(6).find("3.25,g,h") != std::string::npos);
    CHECK(x.is_null(7));
    CHECK(rescued(7).find("expected 3 fields") != std::string::npos);
    CHECK(x.is_null(8));
    CHECK(rescued(8).find("1e400") != std::string::npos);
    CHECK(x.double_values()[9] == 6.5);
    CHECK(std::isinf(x.double_values()[10]));
    CHECK(x.double_values()[11] == 0.1);
    CHECK(str(b, "s", 11) == "l");
    const auto lines = b.column("_source_line").int64_values();
    CHECK(lines[0] == 2);
    CHECK(lines[11] == 13);
    CHECK(b.column("id").int64_values()[11] == 12);

    // A null token that looks like a number is still the null token.
    ReadOptions zero = o;
    zero.null_value = "0";
    const Batch z = read_csv_text("id,x,s\n1,0,0\n2,0.0,00\n", zero, "z.csv");
    CHECK(z.column("x").is_null(0));
    CHECK(z.column("s").is_null(0));
    CHECK(z.column("x").double_values()[1] == 0.0);
    CHECK_FALSE(z.column("x").is_null(1));
    CHECK(str(z, "s", 1) == "00");

    // A delimiter that can be part of a number splits the number.
    ReadOptions dot;
    dot.infer_column_types = true;
    dot.delimiter = '.';
    const Batch d = read_csv_text("a.b\n1.5\n", dot, "dot.csv");
    CHECK(d.column("a").int64_values()[0] == 1);
    CHECK(d.column("b").int64_values()[0] == 5);

    // Two columns of the same name: the second value is kept in the rescued data.
    ReadOptions dup;
    dup.schema = Schema({Field{"a", DataType::float64, true}});
    const Batch u = read_csv_text("a,a\n1.5,2.5\n", dup, "dup.csv");
    CHECK(u.column("a").double_values()[0] == 1.5);
    CHECK(str(u, "_rescued_data", 0).find("2.5") != std::string::npos);
}
