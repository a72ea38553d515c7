// Records written with Python's str(dict), as the seed project's generator wrote them: single
// quotes and the literals None, True and False.
#include <isoflow/io.hpp>

#include "catch.hpp"

TEST_CASE("JSON reader: Python dict syntax with None, True and False", "[io][json]") {
    isoflow::ReadOptions options;
    options.infer_column_types = true;
    const auto batch = isoflow::read_json_text(
        "{'id': 1, 'amount': None, 'ok': True, 'tags': {'a': None, 'b': [True, False]}}\n"
        "{'id': 2, 'amount': 2.5, 'ok': False, 'tags': {}}\n",
        options);
    REQUIRE(batch.num_rows() == 2);
    CHECK(batch.column("id").int64_values()[0] == 1);
    CHECK(batch.column("amount").type() == isoflow::DataType::float64);
    CHECK(batch.column("amount").is_null(0));
    CHECK(batch.column("amount").double_values()[1] == 2.5);
    CHECK(batch.column("ok").type() == isoflow::DataType::boolean);
    CHECK(batch.column("ok").bool_values()[0] == 1);
    CHECK(batch.column("ok").bool_values()[1] == 0);
    // Nested values are kept as JSON text, with JSON's spelling of the literals.
    CHECK(batch.column("tags").string_at(0).find("null") != std::string_view::npos);
    CHECK(batch.column("tags").string_at(0).find("None") == std::string_view::npos);
    const auto rescued = batch.find_column("_rescued_data");
    if (rescued) {
        CHECK(batch.column(*rescued).null_count() == 2);
    }
}
