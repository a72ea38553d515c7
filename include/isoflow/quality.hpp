// Data quality: a Spark-SQL-compatible expression language over Batches (Expression,
// Projection, Filter) and expectations with warn / drop / fail / quarantine actions and their
// metrics (TableExpectations, DatasetMetrics). Uses only core/ and the standard library.
// The language and the expectations are documented in docs/expectations.md.
#pragma once

#include "isoflow/core.hpp"
#include "isoflow/quality/expectation.hpp"
#include "isoflow/quality/expression.hpp"
