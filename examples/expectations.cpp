// Expectations on a small batch of card readings: the seed's constraint as SQL, a group that
// quarantines, a projection and a filter, and the metrics as DLT reports them.
#include <cstdio>
#include <exception>

#include "isoflow/quality.hpp"

int main() {
    using namespace isoflow;

    // A batch as a reader would produce it, with the source columns it adds.
    Column time(DataType::float64), amount(DataType::float64), file(DataType::string), line(DataType::int64);
    const double times[] = {0, 1, 2, 3, 4};
    const double amounts[] = {149.62, 2.69, -5.0, 0, 378.66};
    const bool time_ok[] = {true, false, true, false, true};
    const bool amount_ok[] = {true, true, true, false, true};
    for (int i = 0; i < 5; ++i) {
        time_ok[i] ? time.append_double(times[i]) : time.append_null();
        amount_ok[i] ? amount.append_double(amounts[i]) : amount.append_null();
        file.append_string("landing/part-0001.json");
        line.append_int64(i + 1);
    }
    Batch bronze;
    bronze.add_column("Time", std::move(time));
    bronze.add_column("Amount", std::move(amount));
    bronze.add_column("_source_file", std::move(file));
    bronze.add_column("_source_line", std::move(line));

    try {
        TableExpectations silver("silver");
        silver.add_sql("CONSTRAINT valid_transaction_reading "
                       "EXPECT (AMOUNT IS NOT NULL OR TIME IS NOT NULL) ON VIOLATION DROP ROW");
        silver.expect_all_or_quarantine({{"non_negative_amount", "Amount >= 0"},
                                         {"plausible_amount", "Amount < 25000"}});
        silver.expect("has_time", "Time IS NOT NULL");  // warn: counted, kept

        const ExpectationResult r = silver.apply(bronze);
        std::printf("silver keeps %zu of %zu rows; %s holds %zu\n", r.output.num_rows(), bronze.num_rows(),
                    silver.quarantine_table().c_str(), r.quarantine.num_rows());
        const Column& why = r.quarantine.column("_failed_expectations");
        for (std::size_t i = 0; i < r.quarantine.num_rows(); ++i)
            std::printf("  quarantined line %lld: %.*s\n",
                        static_cast<long long>(r.quarantine.column("_source_line").int64_values()[i]),
                        static_cast<int>(why.string_at(i).size()), why.string_at(i).data());
        std::printf("metrics: %s\n", silver.totals().to_json().c_str());

        // The same language gives projections and filters.
        const auto gold = Projection::compile("Time, round(Amount * 1.1, 2) AS amount_with_fee, "
                                              "CASE WHEN Amount > 100 THEN 'large' ELSE 'small' END AS size",
                                              r.output.schema());
        const Batch projected = gold.apply(r.output);
        const auto large = Filter::compile("WHERE size = 'large'", projected.schema());
        std::printf("gold: %zu columns (%s), %zu large rows\n", projected.num_columns(),
                    projected.schema().to_string().c_str(), large.apply(projected).num_rows());

        // A mistake in a constraint is reported with a caret under it.
        try {
            (void)Expression::compile("Amout > 0", bronze.schema());
        } catch (const schema_error& e) {
            std::printf("a typo is reported like this:\n%s\n", e.what());
        }

        // `fail` stops the update and names the row and where it came from.
        TableExpectations strict("silver_strict");
        strict.expect_or_fail("positive_amount", "Amount > 0");
        (void)strict.apply(bronze);
    } catch (const expectation_violation& e) {
        std::printf("the update stopped: %s\n", e.what());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    std::fprintf(stderr, "error: the strict expectation should have failed\n");
    return 1;
}
