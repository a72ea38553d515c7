// Reads JSON records of one file: JSON Lines, a top-level array of objects, or objects that
// span several lines (one pretty-printed object per file). Each record is parsed by simdjson
// On-Demand straight into the columns; a record simdjson rejects is parsed again by the
// lenient parser (single quotes, NaN, Infinity), and if that fails too it is malformed.
#pragma once

#include <simdjson.h>

#include <bit>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "isoflow/io/detail/builder.hpp"
#include "isoflow/io/detail/cursor.hpp"
#include "isoflow/io/detail/flat_json.hpp"
#include "isoflow/io/detail/input.hpp"
#include "isoflow/io/detail/lenient_json.hpp"
#include "isoflow/io/detail/text.hpp"
#include "isoflow/io/options.hpp"

namespace isoflow::detail {

// True when `t` is a JSON number as the grammar defines it (simdjson's raw token is not checked).
[[nodiscard]] inline bool is_json_number(std::string_view t) noexcept {
    std::size_t i = 0;
    if (i < t.size() && t[i] == '-') ++i;
    if (i >= t.size()) return false;
    if (t[i] == '0') {
        ++i;
    } else if (t[i] >= '1' && t[i] <= '9') {
        while (i < t.size() && is_digit(t[i])) ++i;
    } else {
        return false;
    }
    if (i < t.size() && t[i] == '.') {
        ++i;
        if (i >= t.size() || !is_digit(t[i])) return false;
        while (i < t.size() && is_digit(t[i])) ++i;
    }
    if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
        ++i;
        if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
        if (i >= t.size() || !is_digit(t[i])) return false;
        while (i < t.size() && is_digit(t[i])) ++i;
    }
    return i == t.size();
}

// Decodes a JSON string body (between quotes, escapes included) for keys with a backslash.
[[nodiscard]] inline std::string decode_json_key(std::string_view body) {
    std::vector<LenientMember> members;
    const std::string wrapped = "{\"" + std::string(body) + "\":0}";
    LenientJson parser(wrapped);
    if (parser.parse_object_record(members) && !members.empty()) return members.front().key;
    return std::string(body);
}

// A double as Python's repr() writes it: the shortest digits that round-trip, in fixed notation
// when 1e-4 <= |x| < 1e16 (always with a '.'), else d.ddde[+-]XX.
[[nodiscard]] inline std::string_view python_repr(double x, char* buf, std::size_t cap) {
    char sci[40];
    const auto r = std::to_chars(sci, sci + sizeof sci, x, std::chars_format::scientific);
    const std::string_view s(sci, static_cast<std::size_t>(r.ptr - sci));
    const std::size_t e = s.find('e');
    if (e == std::string_view::npos) {  // inf or nan: not produced by a JSON parse
        const std::size_t n = std::min(s.size(), cap);
        std::copy_n(s.data(), n, buf);
        return {buf, n};
    }
    int exp = 0;
    std::from_chars(s.data() + e + 1 + (s[e + 1] == '+' ? 1 : 0), s.data() + s.size(), exp);
    std::string digits;
    bool negative = false;
    for (char c : s.substr(0, e)) {
        if (c == '-') negative = true;
        else if (c != '.') digits += c;
    }
    std::string out = negative ? "-" : "";
    if (exp >= -4 && exp < 16) {
        if (exp < 0) {
            out += "0.";
            out.append(static_cast<std::size_t>(-exp - 1), '0');
            out += digits;
        } else if (static_cast<std::size_t>(exp) + 1 >= digits.size()) {
            out += digits;
            out.append(static_cast<std::size_t>(exp) + 1 - digits.size(), '0');
            out += ".0";
        } else {
            out += digits.substr(0, static_cast<std::size_t>(exp) + 1);
            out += '.';
            out += digits.substr(static_cast<std::size_t>(exp) + 1);
        }
    } else {
        out += digits.substr(0, 1);
        if (digits.size() > 1) {
            out += '.';
            out += digits.substr(1);
        }
        out += exp < 0 ? "e-" : "e+";
        const int a = exp < 0 ? -exp : exp;
        if (a < 10) out += '0';
        out += std::to_string(a);
    }
    const std::size_t n = std::min(out.size(), cap);
    std::copy_n(out.data(), n, buf);
    return {buf, n};
}

class JsonCursor final : public RecordCursor {
public:
    enum class Mode { unknown, lines, sequence, array };

    JsonCursor(std::string path, std::string display_name, const ReadOptions& options,
               simdjson::dom::parser& parser)
        : path_(std::move(path)), name_(std::move(display_name)), options_(&options), parser_(&parser) {}

    // Reads from in-memory text instead of a file.
    JsonCursor(std::string_view text, std::string display_name, const ReadOptions& options,
               simdjson::dom::parser& parser)
        : name_(std::move(display_name)), options_(&options), parser_(&parser), text_(text), in_memory_(true) {}

    [[nodiscard]] bool done() const noexcept override { return done_; }
    [[nodiscard]] const std::string& skip_reason() const noexcept { return skip_reason_; }

    bool read_into(BatchBuilder& builder, std::size_t max_rows) override {
        if (done_) return false;
        open();
        const std::size_t limit = builder.rows() + max_rows;
        if (mode_ == Mode::lines) {
            read_lines(builder, limit);
        } else {
            read_values(builder, limit);
        }
        return !done_;
    }

    void sample(TypeInference& inference) override {
        open();
        if (mode_ == Mode::lines) {
            while (input_ && buffer_.size() < options_->infer_sample_bytes && buffer_.fill(*input_)) {
            }
        }
        std::string_view data = buffer_.view();
        const std::size_t bytes = std::min(data.size(), options_->infer_sample_bytes);
        std::size_t rows = 0;
        std::size_t pos = 0;
        // Sampling uses the lenient parser alone: it agrees with simdjson on standard JSON and
        // the sample is bounded.
        std::vector<LenientMember> members;
        auto observe = [&](std::string_view record) {
            if (scan_flat_object(record, flat_)) {
                // Numbers as written: the same text the lenient parser would give.
                for (const auto& m : flat_)
                    inference.observe(m.key, m.kind == FlatKind::number ? ValueRef{ValueKind::number, m.text, false}
                                                                        : flat_value(m));
                return;
            }
            LenientJson lenient(record);
            if (!lenient.parse_object_record(members)) return;
            for (const auto& m : members) inference.observe(m.key, ValueRef{m.kind, m.text, m.boolean});
        };
        if (mode_ == Mode::lines) {
            while (pos < bytes && rows < options_->infer_sample_rows) {
                std::size_t nl = data.find('\n', pos);
                if (nl == std::string_view::npos) {
                    if (!buffer_.eof()) break;
                    nl = data.size();
                }
                const std::string_view line = trim(data.substr(pos, nl - pos));
                if (!line.empty()) {
                    observe(line);
                    ++rows;
                }
                pos = nl + 1;
            }
        } else {
            pos = value_start_;
            while (pos < bytes && rows < options_->infer_sample_rows) {
                std::size_t start = pos;
                if (!next_value(data, start, pos)) break;
                observe(data.substr(start, pos - start));
                ++rows;
            }
        }
    }

private:
    void open() {
        if (mode_ != Mode::unknown) return;
        if (in_memory_) {
            buffer_.assign(text_);
        } else {
            input_ = std::make_unique<InputFile>(path_, options_->compression);
            buffer_.fill(*input_);
        }
        // Skip a UTF-8 byte order mark and leading white space.
        std::string_view v = buffer_.view();
        if (v.substr(0, 3) == "\xEF\xBB\xBF") buffer_.consume(3);
        while (true) {
            v = buffer_.view();
            std::size_t i = 0;
            while (i < v.size() && is_space(v[i])) {
                if (v[i] == '\n') ++line_;
                ++i;
            }
            buffer_.consume(i);
            if (buffer_.size() > 0 || buffer_.eof() || !buffer_.fill(*input_)) break;
        }
        v = buffer_.view();
        if (v.empty()) {
            mode_ = Mode::lines;
            return;
        }
        if (v.front() == '[') {
            load_all();
            mode_ = Mode::array;
            value_start_ = 1;
            return;
        }
        // Lines, unless the first value spans several lines (pretty-printed objects).
        const std::size_t nl = v.find('\n');
        if (nl == std::string_view::npos && !buffer_.eof()) load_all();
        v = buffer_.view();
        std::size_t end = 0;
        LenientJson probe(v);
        if (probe.skip_value(end) && v.substr(0, end).find('\n') != std::string_view::npos) {
            load_all();
            mode_ = Mode::sequence;
            value_start_ = 0;
            return;
        }
        if (!probe.expected().empty() && nl != std::string_view::npos && !buffer_.eof()) {
            // The first value may simply be longer than a block; look at the whole file.
            load_all();
            v = buffer_.view();
            LenientJson whole(v);
            end = 0;
            if (whole.skip_value(end) && v.substr(0, end).find('\n') != std::string_view::npos) {
                mode_ = Mode::sequence;
                value_start_ = 0;
                return;
            }
        }
        mode_ = Mode::lines;
    }

    void load_all() {
        if (input_) buffer_.fill_all(*input_);
    }

    void read_lines(BatchBuilder& builder, std::size_t limit) {
        while (builder.rows() < limit) {
            const char* p = buffer_.begin();
            const char* e = buffer_.end();
            const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(e - p)));
            if (!nl) {
                if (!buffer_.eof() && input_ && buffer_.fill(*input_)) continue;
                if (p == e) {
                    done_ = true;
                    return;
                }
                nl = e;
            }
            const std::size_t consumed = static_cast<std::size_t>(nl - p) + (nl == e ? 0 : 1);
            const std::string_view line(p, static_cast<std::size_t>(nl - p));
            ++line_;
            std::string_view record = line;
            while (!record.empty() && is_space(record.back())) record.remove_suffix(1);
            std::size_t lead = 0;
            while (lead < record.size() && is_space(record[lead])) ++lead;
            record.remove_prefix(lead);
            builder.stats().bytes += consumed;
            if (!record.empty()) {
                if (!process(builder, record, line_, line, lead)) return;
            }
            buffer_.consume(consumed);
        }
    }

    // Finds the next top-level value in array or sequence mode; `pos` moves past it.
    bool next_value(std::string_view data, std::size_t& start, std::size_t& pos) {
        std::size_t i = pos;
        while (i < data.size() && is_space(data[i])) ++i;
        if (mode_ == Mode::array && i < data.size() && data[i] == ',' && pos != value_start_) {
            ++i;
            while (i < data.size() && is_space(data[i])) ++i;
        }
        if (i >= data.size()) return false;
        if (mode_ == Mode::array && data[i] == ']') return false;
        start = i;
        LenientJson skipper(data);
        std::size_t end = i;
        if (!skipper.skip_value(end)) return false;
        pos = end;
        return true;
    }

    void read_values(BatchBuilder& builder, std::size_t limit) {
        const std::string_view data = buffer_.view();
        while (builder.rows() < limit) {
            std::size_t i = value_start_;
            const std::size_t before = i;
            while (i < data.size() && is_space(data[i])) ++i;
            if (mode_ == Mode::array && array_elements_ > 0) {
                if (i < data.size() && data[i] == ']') {
                    finish_values(builder, data, i + 1);
                    return;
                }
                if (i >= data.size() || data[i] != ',') {
                    malformed_rest(builder, data, i, "expected ',' or ']' after an array element");
                    return;
                }
                ++i;
                while (i < data.size() && is_space(data[i])) ++i;
            } else if (mode_ == Mode::array && i < data.size() && data[i] == ']') {
                finish_values(builder, data, i + 1);
                return;
            }
            line_ += count_newlines(data.substr(before, i - before));
            if (i >= data.size()) {
                if (mode_ == Mode::array) {
                    malformed_rest(builder, data, i, "expected ']' to close the top-level array");
                } else {
                    builder.stats().bytes += data.size();
                    done_ = true;
                }
                return;
            }
            LenientJson skipper(data);
            std::size_t end = i;
            if (!skipper.skip_value(end)) {
                value_start_ = i;
                malformed_rest(builder, data, skipper.error_offset(), skipper.expected());
                return;
            }
            const std::string_view record = data.substr(i, end - i);
            const std::uint64_t first_line = line_ + 1;
            line_ += count_newlines(record);
            value_start_ = end;
            ++array_elements_;
            if (!process(builder, record, first_line, record, 0)) return;
        }
    }

    void finish_values(BatchBuilder& builder, std::string_view data, std::size_t after) {
        std::size_t i = after;
        while (i < data.size() && is_space(data[i])) ++i;
        builder.stats().bytes += data.size();
        if (i < data.size()) {
            value_start_ = i;
            malformed_rest(builder, data, i, "expected the end of the file after the top-level array");
            return;
        }
        done_ = true;
    }

    // The rest of the file cannot be split into records: one malformed record holds it.
    void malformed_rest(BatchBuilder& builder, std::string_view data, std::size_t error_at, const std::string& expected) {
        const std::size_t start = std::min(value_start_, data.size());
        const std::uint64_t first_line = line_ + 1 + count_newlines(data.substr(start, 0));
        const std::string_view rest = data.substr(start);
        const std::size_t offset = error_at >= start ? error_at - start : 0;
        done_ = true;
        builder.stats().bytes += data.size();
        if (!handle_malformed(builder, rest, rest, offset, first_line, expected, skip_reason_)) skip_ = true;
    }

    [[nodiscard]] static std::uint64_t count_newlines(std::string_view s) noexcept {
        std::uint64_t n = 0;
        for (char c : s) n += c == '\n';
        return n;
    }

    // Parses one record. Returns false when the file is to be skipped.
    bool process(BatchBuilder& builder, std::string_view record, std::uint64_t line, std::string_view raw_line,
                 std::size_t lead) {
        builder.begin_record(line);
        // Records that keep missing the template (varying keys) stop paying for it.
        if (!template_.empty() && template_layout_ == builder.layout_version() && template_misses_ < 16) {
            if (parse_templated(builder, record)) {
                template_misses_ = 0;
                builder.end_record();
                return true;
            }
            ++template_misses_;
            builder.abort_record();
            builder.begin_record(line);
        }
        if (scan_flat_object(record, flat_)) {
            put_flat(builder);
            // Records that keep missing the template (varying keys) stop paying for it.
            if (template_misses_ < 16) learn_template(builder);
            builder.end_record();
            return true;
        }
        if (parse_fast(builder, record)) {
            builder.end_record();
            return true;
        }
        builder.abort_record();
        builder.begin_record(line);
        LenientJson lenient(record);
        if (lenient.parse_object_record(members_)) {
            for (auto& m : members_) {
                if (m.kind == ValueKind::nested) normalize_nested(m.text);
                const ValueRef v{m.kind, m.text, m.boolean};
                int col = builder.find(m.key);
                if (col == BatchBuilder::unknown) col = builder.resolve_unknown(m.key, v);
                put(builder, col, m.key, v);
            }
            builder.end_record();
            return true;
        }
        if (!handle_malformed(builder, raw_line, raw_line, lenient.error_offset() + lead, line, lenient.expected(),
                              skip_reason_)) {
            skip_ = true;
            done_ = true;
            return false;
        }
        return true;
    }

    // The lenient parser writes a nested value back with its numbers as written; simdjson's
    // path writes numbers in shortest round-trip form. So that a nested value's text does not
    // depend on what else the record holds (a NaN or a single quote elsewhere sends the whole
    // record here), it is written as simdjson writes it whenever simdjson can read it. It
    // cannot when the value holds NaN, Infinity, an integer beyond 64 bits or a number out of
    // the double range: then the numbers stay as written.
    void normalize_nested(std::string& text) {
        simdjson::dom::element value;
        if (parser_->parse(text).get(value)) return;
        text = simdjson::minify(value);
    }

    static void put(BatchBuilder& builder, int col, std::string_view key, const ValueRef& v) {
        if (col == BatchBuilder::ignore) return;
        if (col == BatchBuilder::rescue || !builder.claim(col)) return builder.rescue_value(key, v);
        builder.put(col, v);
    }

    // A member of a flat record as the value simdjson's DOM would give: integers keep their
    // text (which, being JSON, is canonical), other numbers are written back as to_value does.
    [[nodiscard]] ValueRef flat_value(const FlatMember& m) {
        switch (m.kind) {
            case FlatKind::null: return ValueRef{};
            case FlatKind::boolean: return ValueRef{ValueKind::boolean, {}, m.boolean};
            case FlatKind::string: return ValueRef{ValueKind::string, m.text, false};
            case FlatKind::number: break;
        }
        if (m.integer) return ValueRef{ValueKind::number, m.text, false};
        return ValueRef{ValueKind::number, python_repr(m.d, number_buf_, sizeof number_buf_), false};
    }

    // The members of a record scan_flat_object accepted, with the same builder calls, in the
    // same order, as parse_fast makes for that record.
    void put_flat(BatchBuilder& builder) {
        for (const FlatMember& m : flat_) {
            int col = builder.find(m.key);
            if (col >= 0 && builder.claim(col)) {
                if (m.kind == FlatKind::number) {
                    const DataType t = builder.type(col);
                    if (t == DataType::float64) {
                        builder.column(col).append_double(m.d);
                        continue;
                    }
                    if (t == DataType::int64 && m.integer) {
                        builder.column(col).append_int64(m.i);
                        continue;
                    }
                }
                builder.put(col, flat_value(m));
                continue;
            }
            const ValueRef v = flat_value(m);
            if (col == BatchBuilder::unknown) {
                col = builder.resolve_unknown(m.key, v);
                put(builder, col, m.key, v);
            } else if (col >= 0) {
                builder.rescue_value(m.key, v);  // duplicate key
            }
        }
    }

    // The quickest path, for a record with the same keys in the same order as the last flat
    // record: each key is compared with the expected one and each value appended straight
    // to its column, without the member list. It only appends (what abort_record undoes) and
    // gives up on anything needing more (a value that must be converted or rescued, a
    // different key); the caller then takes the general path.
    struct Slot {
        std::string key;
        int col;
        DataType type;
        // The key and its closing quote as one little-endian word, for keys of up to 7 bytes
        // (key_mask 0 otherwise): one comparison instead of a scan and a byte loop.
        std::uint64_t key_word = 0;
        std::uint64_t key_mask = 0;
    };

    void learn_template(BatchBuilder& builder) {
        template_.clear();
        taken_.assign(builder.fields().size(), 0);
        for (const FlatMember& m : flat_) {
            const int col = builder.find(m.key);
            // A column whose type its first non-null value will decide takes values through
            // BatchBuilder::put only.
            if (col < 0 || taken_[static_cast<std::size_t>(col)] || builder.type_undecided(col)) {
                template_.clear();
                return;
            }
            taken_[static_cast<std::size_t>(col)] = 1;
            Slot slot{std::string(m.key), col, builder.type(col)};
            if (std::endian::native == std::endian::little && m.key.size() < 8) {
                char bytes[8] = {};
                std::memcpy(bytes, m.key.data(), m.key.size());
                bytes[m.key.size()] = '"';
                std::memcpy(&slot.key_word, bytes, 8);
                slot.key_mask = m.key.size() == 7 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * (m.key.size() + 1))) - 1;
            }
            template_.push_back(std::move(slot));
        }
        template_layout_ = builder.layout_version();
    }

    ISOFLOW_IO_FLATTEN bool parse_templated(BatchBuilder& builder, std::string_view record) {
        const char* p = record.data();
        const char* const end = p + record.size();
        p = flat::skip_ws(p, end);
        if (p == end || *p != '{') return false;
        p = flat::skip_ws(p + 1, end);
        for (std::size_t k = 0; k < template_.size(); ++k) {
            const Slot& slot = template_[k];
            if (k > 0) {
                if (p == end || *p != ',') return false;
                p = flat::skip_ws(p + 1, end);
            }
            if (p == end || *p != '"') return false;
            const char* key_end;
            if (slot.key_mask != 0 && end - p > 8) {
                std::uint64_t w;
                std::memcpy(&w, p + 1, 8);
                if (((w ^ slot.key_word) & slot.key_mask) != 0) return false;
                key_end = p + 1 + slot.key.size();
            } else {
                key_end = flat::scan_plain_string(p + 1, end);
                if (!key_end || !same_text(slot.key, std::string_view(p + 1, static_cast<std::size_t>(key_end - p - 1))))
                    return false;
            }
            p = flat::skip_ws(key_end + 1, end);
            if (p == end || *p != ':') return false;
            p = flat::skip_ws(p + 1, end);
            if (p == end || !builder.claim(slot.col)) return false;
            Column& column = builder.column(slot.col);
            const char c = *p;
            if (c == '-' || is_digit(c)) {
                bool integer = false;
                std::int64_t i = 0;
                double d = 0;
                const char* q = scan_json_number(p, end, integer, i, d);
                if (!q) return false;
                if (slot.type == DataType::float64) {
                    column.append_double(d);
                } else if (slot.type == DataType::int64 && integer) {
                    column.append_int64(i);
                } else if (slot.type == DataType::string) {
                    // As put_flat writes it: integers as written, others as Python's repr.
                    column.append_string(integer ? std::string_view(p, static_cast<std::size_t>(q - p))
                                                 : python_repr(d, number_buf_, sizeof number_buf_));
                } else {
                    return false;
                }
                p = q;
            } else if (c == '"') {
                const char* close = flat::scan_plain_string(p + 1, end);
                if (!close) return false;
                const std::string_view text(p + 1, static_cast<std::size_t>(close - p - 1));
                if (slot.type == DataType::string) {
                    column.append_string(text);
                } else if (slot.type == DataType::timestamp) {
                    const auto t = parse_timestamp(text);
                    if (!t) return false;  // rescued by the general path
                    column.append_timestamp(*t);
                } else {
                    return false;
                }
                p = close + 1;
            } else if (flat::literal(p, end, "null")) {
                column.append_null();
            } else if (flat::literal(p, end, "true")) {
                if (slot.type == DataType::boolean) column.append_bool(true);
                else if (slot.type == DataType::string) column.append_string("true");
                else return false;
            } else if (flat::literal(p, end, "false")) {
                if (slot.type == DataType::boolean) column.append_bool(false);
                else if (slot.type == DataType::string) column.append_string("false");
                else return false;
            } else {
                return false;
            }
            p = flat::skip_ws(p, end);
        }
        if (p == end || *p != '}') return false;
        return flat::skip_ws(p + 1, end) == end;
    }

    // simdjson path (DOM: its kernels are picked at run time, so a consumer compiling with
    // default flags still gets the SIMD parser). False on any error: the caller rolls back and
    // tries the lenient parser.
    bool parse_fast(BatchBuilder& builder, std::string_view record) {
        using namespace simdjson;
        const char* p = record.data();
        if (buffer_.capacity_from(p) < record.size() + SIMDJSON_PADDING) return false;
        dom::element doc;
        if (parser_->parse(p, record.size(), false).get(doc)) return false;
        dom::object object;
        if (doc.get_object().get(object)) return false;
        for (const dom::key_value_pair field : object) {
            const std::string_view key = field.key;
            const dom::element value = field.value;
            int col = builder.find(key);
            if (col >= 0 && builder.claim(col)) {
                const dom::element_type et = value.type();
                const DataType t = builder.type(col);
                if (t == DataType::float64 && (et == dom::element_type::DOUBLE || et == dom::element_type::INT64)) {
                    builder.column(col).append_double(et == dom::element_type::DOUBLE ? double(value) : double(int64_t(value)));
                    continue;
                }
                if (t == DataType::int64 && et == dom::element_type::INT64) {
                    builder.column(col).append_int64(int64_t(value));
                    continue;
                }
                ValueRef v;
                to_value(value, v);
                builder.put(col, v);
                continue;
            }
            ValueRef v;
            to_value(value, v);
            if (col == BatchBuilder::unknown) {
                col = builder.resolve_unknown(key, v);
                put(builder, col, key, v);
            } else if (col >= 0) {
                builder.rescue_value(key, v);  // duplicate key
            }
        }
        return true;
    }

    // Numbers have no source text in the DOM: they are written back in shortest round-trip form
    // (a double always with a '.' or exponent, as Python's repr), which is the input text for
    // JSON written by Python, Java or JavaScript.
    void to_value(const simdjson::dom::element& value, ValueRef& v) {
        using simdjson::dom::element_type;
        char* buf = number_buf_;
        switch (value.type()) {
            case element_type::NULL_VALUE: v.kind = ValueKind::null; return;
            case element_type::BOOL:
                v.kind = ValueKind::boolean;
                v.boolean = bool(value);
                return;
            case element_type::INT64: {
                const auto r = std::to_chars(buf, buf + sizeof number_buf_, int64_t(value));
                v = ValueRef{ValueKind::number, std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)), false};
                return;
            }
            case element_type::UINT64: {
                const auto r = std::to_chars(buf, buf + sizeof number_buf_, uint64_t(value));
                v = ValueRef{ValueKind::number, std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)), false};
                return;
            }
            case element_type::DOUBLE: {
                v = ValueRef{ValueKind::number, python_repr(double(value), buf, sizeof number_buf_), false};
                return;
            }
            case element_type::STRING:
                v = ValueRef{ValueKind::string, std::string_view(value), false};
                return;
            case element_type::OBJECT:
            case element_type::ARRAY:
                nested_ = simdjson::minify(value);
                v = ValueRef{ValueKind::nested, nested_, false};
                return;
        }
    }

public:
    [[nodiscard]] bool skipped() const noexcept { return skip_; }

private:
    std::string path_;
    std::string name_;
    const ReadOptions* options_;
    simdjson::dom::parser* parser_;
    std::string_view text_;
    bool in_memory_ = false;
    std::unique_ptr<InputFile> input_;
    BlockBuffer buffer_;
    Mode mode_ = Mode::unknown;
    std::size_t value_start_ = 0;
    std::size_t array_elements_ = 0;
    std::uint64_t line_ = 0;
    bool done_ = false;
    bool skip_ = false;
    std::string skip_reason_;
    std::vector<LenientMember> members_;
    std::vector<FlatMember> flat_;
    std::vector<Slot> template_;
    std::uint64_t template_layout_ = 0;  // the builder's column layout the template refers to
    std::size_t template_misses_ = 0;
    std::vector<std::uint8_t> taken_;
    char number_buf_[40] = {};
    std::string nested_;
};

}  // namespace isoflow::detail
