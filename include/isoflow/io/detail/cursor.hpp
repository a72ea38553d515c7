// A cursor reads the records of one file into a BatchBuilder, a bounded number at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "isoflow/core/error.hpp"
#include "isoflow/io/detail/builder.hpp"
#include "isoflow/io/detail/text.hpp"
#include "isoflow/io/options.hpp"

namespace isoflow::detail {

class RecordCursor {
public:
    virtual ~RecordCursor() = default;
    // Appends up to `max_rows` records; returns false once the file is exhausted.
    virtual bool read_into(BatchBuilder& builder, std::size_t max_rows) = 0;
    // Feeds the first records (within the options' sample bounds) to `inference`.
    virtual void sample(TypeInference& inference) = 0;
    [[nodiscard]] virtual bool done() const noexcept = 0;
};

// Handles a malformed record according to on_malformed. Returns false when the rest of the
// file must be dropped (skip_file); the caller then rolls the builder back.
[[nodiscard]] inline bool handle_malformed(BatchBuilder& builder, std::string_view raw, std::string_view record,
                                           std::size_t error_offset, std::uint64_t line,
                                           const std::string& expected, std::string& skip_reason) {
    const TextPosition at = position_in(record, error_offset, line);
    // file:line:column, as compilers write it, so editors and terminals can jump there.
    const std::string where = builder.file() + ":" + std::to_string(at.line) + ":" + std::to_string(at.column);
    switch (builder.options().on_malformed) {
        case OnMalformed::fail:
            builder.abort_record();
            throw_error<parse_error>(where + ": " + expected);
        case OnMalformed::skip_file:
            builder.abort_record();
            skip_reason = where + ": " + expected;
            return false;
        case OnMalformed::rescue:
            builder.malformed_record(raw, "line " + std::to_string(at.line) + ", column " +
                                              std::to_string(at.column) + ": " + expected);
            return true;
    }
    return true;
}

}  // namespace isoflow::detail
