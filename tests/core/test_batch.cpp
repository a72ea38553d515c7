// Columns and batches: case-insensitive lookup, validity, filtering.
#include <isoflow/core.hpp>

#include "catch.hpp"

namespace {

isoflow::Batch sample() {
    isoflow::Batch b;
    isoflow::Column ids(isoflow::DataType::int64), amounts(isoflow::DataType::float64),
        flags(isoflow::DataType::boolean), names(isoflow::DataType::string), times(isoflow::DataType::timestamp);
    for (int i = 0; i < 130; ++i) {
        ids.append_int64(i);
        i % 3 == 0 ? amounts.append_null() : amounts.append_double(i * 0.5);
        flags.append_bool(i % 2 == 0);
        i % 5 == 0 ? names.append_null() : names.append_string("name" + std::to_string(i));
        times.append_timestamp(1'000'000LL * i);
    }
    b.add_column("id", std::move(ids));
    b.add_column("Amount", std::move(amounts));
    b.add_column("flag", std::move(flags));
    b.add_column("name", std::move(names));
    b.add_column("ts", std::move(times));
    return b;
}

}  // namespace

TEST_CASE("Batch::filter keeps exactly the flagged rows with their values and nulls", "[core][batch]") {
    const auto b = sample();
    std::vector<std::uint8_t> keep(b.num_rows());
    for (std::size_t i = 0; i < keep.size(); ++i) keep[i] = (i % 4 == 1 || i % 7 == 0) ? 1 : 0;
    const auto f = b.filter(keep);
    std::size_t out = 0;
    for (std::size_t i = 0; i < keep.size(); ++i) {
        if (!keep[i]) continue;
        CHECK(f.column("id").int64_values()[out] == static_cast<std::int64_t>(i));
        CHECK(f.column("Amount").is_null(out) == (i % 3 == 0));
        if (i % 3 != 0) {
            CHECK(f.column("Amount").double_values()[out] == i * 0.5);
        }
        CHECK(f.column("flag").bool_values()[out] == (i % 2 == 0 ? 1 : 0));
        CHECK(f.column("name").is_null(out) == (i % 5 == 0));
        if (i % 5 != 0) {
            CHECK(f.column("name").string_at(out) == "name" + std::to_string(i));
        }
        CHECK(f.column("ts").int64_values()[out] == 1'000'000LL * static_cast<std::int64_t>(i));
        ++out;
    }
    CHECK(f.num_rows() == out);
    std::size_t nulls = 0;
    for (std::size_t r = 0; r < out; ++r) nulls += f.column("Amount").is_null(r);
    CHECK(f.column("Amount").null_count() == nulls);
    const auto none = b.filter(std::vector<std::uint8_t>(b.num_rows(), 0));
    CHECK(none.num_rows() == 0);
    CHECK(none.num_columns() == 5);
}

TEST_CASE("column lookup is case-insensitive: exact case wins, ambiguity names both", "[core][schema]") {
    auto b = sample();
    CHECK(b.find_column("AMOUNT") == b.find_column("Amount"));
    isoflow::Column other(isoflow::DataType::float64);
    for (std::size_t i = 0; i < b.num_rows(); ++i) other.append_double(1.0);
    b.add_column("amount", std::move(other));
    CHECK(*b.find_column("amount") == 5);
    CHECK(*b.find_column("Amount") == 1);
    try {
        (void)b.find_column("AMOUNT");
        FAIL("an ambiguous lookup must throw");
    } catch (const isoflow::schema_error& e) {
        const std::string m = e.what();
        CHECK(m.find("'Amount'") != std::string::npos);
        CHECK(m.find("'amount'") != std::string::npos);
    }
    try {
        (void)b.column("amont");
        FAIL("an unknown column must throw");
    } catch (const isoflow::schema_error& e) {
        CHECK(std::string(e.what()).find("did you mean") != std::string::npos);
    }
}

TEST_CASE("Batch::filter with long runs of kept rows, a run to the end, and columns without nulls", "[core][batch]") {
    const auto b = sample();  // 130 rows: runs below cross the 64-row word boundaries
    std::vector<std::uint8_t> keep(b.num_rows(), 1);
    for (std::size_t i : {0u, 1u, 63u, 64u, 100u}) keep[i] = 0;
    const auto f = b.filter(keep);
    REQUIRE(f.num_rows() == 125);
    std::size_t out = 0;
    for (std::size_t i = 0; i < keep.size(); ++i) {
        if (!keep[i]) continue;
        CHECK(f.column("id").int64_values()[out] == static_cast<std::int64_t>(i));
        CHECK(!f.column("id").is_null(out));
        CHECK(!f.column("flag").is_null(out));
        CHECK(f.column("name").is_null(out) == (i % 5 == 0));
        if (i % 5 != 0) {
            CHECK(f.column("name").string_at(out) == "name" + std::to_string(i));
        }
        ++out;
    }
    CHECK(f.column("id").null_count() == 0);
    const auto all = b.filter(std::vector<std::uint8_t>(b.num_rows(), 1));
    REQUIRE(all.num_rows() == 130);
    CHECK(all.column("name").string_at(129) == "name129");
    CHECK(!all.column("ts").is_null(129));
    CHECK(all.column("Amount").null_count() == b.column("Amount").null_count());
}
