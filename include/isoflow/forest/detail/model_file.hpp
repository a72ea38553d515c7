// Model files: the binary format and the JSON interchange format (docs/model-format.md).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "isoflow/core/error.hpp"
#include "isoflow/forest/detail/json.hpp"
#include "isoflow/forest/params.hpp"
#include "isoflow/forest/tree.hpp"

namespace isoflow::detail {

// Everything a fitted forest is made of.
struct ModelParts {
    IsolationForestParams params;
    std::vector<Tree> trees;
    std::int64_t n_features = 0;
    std::int64_t psi = 0;
    double offset = -0.5;
    std::vector<std::string> feature_names;
    std::uint64_t seed = 0;
    int float_bytes = 4;  // 4: float32, 8: float64
};

inline constexpr char binary_magic[8] = {'I', 'S', 'O', 'F', 'L', 'O', 'W', '\x1a'};
inline constexpr std::uint32_t binary_format_version = 1;
inline constexpr std::uint32_t endian_marker = 0x01020304u;
inline constexpr std::size_t binary_header_size = 8 + 4 + 4 + 4 + 8;  // magic .. payload size
inline constexpr int json_format_version = 1;

// FNV-1a, 64 bits: detects truncation and corruption (not tampering).
[[nodiscard]] inline std::uint64_t fnv1a(const char* data, std::size_t size) noexcept {
    std::uint64_t hash = 0xCBF29CE484222325ull;
    for (std::size_t i = 0; i < size; ++i) {
        hash ^= static_cast<unsigned char>(data[i]);
        hash *= 0x100000001B3ull;
    }
    return hash;
}

[[nodiscard]] inline const char* float_type_label(int bytes) noexcept {
    return bytes == 4 ? "float32 (IsolationForest<float>)" : "float64 (IsolationForest<double>)";
}

class BinaryWriter {
public:
    template <class Scalar>
    void put(Scalar v) {
        char bytes[sizeof(Scalar)];
        std::memcpy(bytes, &v, sizeof(Scalar));
        out_.append(bytes, sizeof(Scalar));
    }
    template <class Scalar>
    void put_array(const std::vector<Scalar>& values) {
        const std::size_t size = values.size() * sizeof(Scalar);
        if (size == 0) return;
        const std::size_t at = out_.size();
        out_.resize(at + size);
        std::memcpy(out_.data() + at, values.data(), size);
    }
    void put_string(std::string_view s) {
        put(static_cast<std::uint32_t>(s.size()));
        out_.append(s);
    }
    std::string& bytes() noexcept { return out_; }

private:
    std::string out_;
};

class BinaryReader {
public:
    BinaryReader(std::string_view data, std::string source) : data_(data), source_(std::move(source)) {}

    template <class Scalar>
    Scalar get(const char* what) {
        need(sizeof(Scalar), what);
        Scalar v;
        std::memcpy(&v, data_.data() + pos_, sizeof(Scalar));
        pos_ += sizeof(Scalar);
        return v;
    }
    template <class Scalar>
    std::vector<Scalar> get_array(std::size_t count, const char* what) {
        if (count > (data_.size() - pos_) / sizeof(Scalar)) truncated(what);
        std::vector<Scalar> values(count);
        if (count) std::memcpy(values.data(), data_.data() + pos_, count * sizeof(Scalar));
        pos_ += count * sizeof(Scalar);
        return values;
    }
    std::string get_string(const char* what) {
        const auto size = get<std::uint32_t>(what);
        need(size, what);
        std::string s(data_.substr(pos_, size));
        pos_ += size;
        return s;
    }
    [[nodiscard]] bool at_end() const noexcept { return pos_ == data_.size(); }
    [[noreturn]] void fail(const std::string& what) const {
        throw_error<model_error>(source_ + ": " + what);
    }

private:
    void need(std::size_t bytes, const char* what) {
        if (bytes > data_.size() - pos_) truncated(what);
    }
    [[noreturn]] void truncated(const char* what) const {
        fail(std::string("corrupt model file: the payload ends inside ") + what);
    }
    std::string_view data_;
    std::string source_;
    std::size_t pos_ = 0;
};

[[nodiscard]] inline std::string write_binary(const ModelParts& m) {
    BinaryWriter payload;
    const auto& p = m.params;
    payload.put(static_cast<std::int32_t>(p.n_estimators));
    payload.put(static_cast<std::uint8_t>(p.max_samples.kind()));
    payload.put(p.max_samples.count());
    payload.put(p.max_samples.fraction());
    payload.put(static_cast<std::uint8_t>(p.contamination.is_auto()));
    payload.put(p.contamination.value());
    payload.put(static_cast<std::uint8_t>(p.max_features.is_count()));
    payload.put(p.max_features.count());
    payload.put(p.max_features.fraction());
    payload.put(static_cast<std::uint8_t>(p.bootstrap));
    payload.put(static_cast<std::int32_t>(p.n_jobs));
    payload.put(static_cast<std::uint8_t>(p.random_state.has_value()));
    payload.put(p.random_state.value_or(0));
    payload.put(static_cast<std::uint8_t>(p.warm_start));
    payload.put(m.n_features);
    payload.put(m.psi);
    payload.put(m.offset);
    payload.put(m.seed);
    payload.put(static_cast<std::uint32_t>(m.feature_names.size()));
    for (const auto& name : m.feature_names) payload.put_string(name);
    payload.put(static_cast<std::uint32_t>(m.trees.size()));
    for (const auto& tree : m.trees) {
        payload.put(static_cast<std::uint32_t>(tree.size()));
        payload.put_array(tree.feature);
        payload.put_array(tree.threshold);
        payload.put_array(tree.left);
        payload.put_array(tree.right);
        payload.put_array(tree.n_node_samples);
    }

    BinaryWriter file;
    file.bytes().append(binary_magic, sizeof binary_magic);
    file.put(binary_format_version);
    file.put(endian_marker);
    file.put(static_cast<std::uint32_t>(m.float_bytes));
    file.put(static_cast<std::uint64_t>(payload.bytes().size()));
    file.bytes() += payload.bytes();
    file.put(fnv1a(file.bytes().data(), file.bytes().size()));
    return std::move(file.bytes());
}

[[nodiscard]] inline ModelParts read_binary(std::string_view data, const std::string& source,
                                            int expected_float_bytes) {
    auto fail = [&](const std::string& what) { throw_error<model_error>(source + ": " + what); };
    if (data.size() < sizeof binary_magic ||
        std::memcmp(data.data(), binary_magic, sizeof binary_magic) != 0)
        fail("not an isoflow model file (its first bytes are not the isoflow magic)");
    if (data.size() < binary_header_size + 8)
        fail("truncated model file: " + std::to_string(data.size()) +
             " bytes, shorter than the header");
    BinaryReader header(data.substr(0, binary_header_size), source);
    header.get_array<char>(sizeof binary_magic, "the magic");
    const auto version = header.get<std::uint32_t>("the format version");
    const auto marker = header.get<std::uint32_t>("the endianness marker");
    if (marker != endian_marker) {
        if (marker == 0x04030201u)
            fail("the model file was written on a machine of the other byte order");
        fail("corrupt model file: bad endianness marker");
    }
    if (version != binary_format_version)
        fail("model format version " + std::to_string(version) + "; this isoflow reads version " +
             std::to_string(binary_format_version));
    const auto float_bytes = header.get<std::uint32_t>("the float type");
    if (float_bytes != 4 && float_bytes != 8) fail("corrupt model file: unknown float type");
    const auto payload_size = header.get<std::uint64_t>("the payload size");
    const std::uint64_t expected = binary_header_size + payload_size + 8;
    if (payload_size > data.size() || expected != data.size())
        fail((expected > data.size() ? "truncated model file: expected " : "corrupt model file: expected ") +
             std::to_string(expected) + " bytes, the file has " + std::to_string(data.size()));
    std::uint64_t stored_checksum;
    std::memcpy(&stored_checksum, data.data() + data.size() - 8, 8);
    if (fnv1a(data.data(), data.size() - 8) != stored_checksum)
        fail("corrupt model file: checksum mismatch");
    if (static_cast<int>(float_bytes) != expected_float_bytes)
        fail("the model file holds a " + std::string(float_type_label(static_cast<int>(float_bytes))) +
             " model; it cannot be loaded as " + float_type_label(expected_float_bytes));

    BinaryReader r(data.substr(binary_header_size, payload_size), source);
    ModelParts m;
    m.float_bytes = static_cast<int>(float_bytes);
    auto& p = m.params;
    p.n_estimators = r.get<std::int32_t>("n_estimators");
    const auto ms_kind = r.get<std::uint8_t>("max_samples");
    const auto ms_count = r.get<std::int64_t>("max_samples");
    const auto ms_fraction = r.get<double>("max_samples");
    if (ms_kind > 2) r.fail("corrupt model file: bad max_samples kind");
    p.max_samples = ms_kind == 0   ? MaxSamples::automatic()
                    : ms_kind == 1 ? MaxSamples(ms_count)
                                   : MaxSamples(ms_fraction);
    const auto c_auto = r.get<std::uint8_t>("contamination");
    const auto c_value = r.get<double>("contamination");
    p.contamination = c_auto ? Contamination::automatic() : Contamination(c_value);
    const auto mf_count_kind = r.get<std::uint8_t>("max_features");
    const auto mf_count = r.get<std::int64_t>("max_features");
    const auto mf_fraction = r.get<double>("max_features");
    p.max_features = mf_count_kind ? MaxFeatures(mf_count) : MaxFeatures(mf_fraction);
    p.bootstrap = r.get<std::uint8_t>("bootstrap") != 0;
    p.n_jobs = r.get<std::int32_t>("n_jobs");
    const bool has_state = r.get<std::uint8_t>("random_state") != 0;
    const auto state = r.get<std::uint64_t>("random_state");
    if (has_state) p.random_state = state;
    p.warm_start = r.get<std::uint8_t>("warm_start") != 0;
    m.n_features = r.get<std::int64_t>("n_features_in");
    m.psi = r.get<std::int64_t>("max_samples");
    m.offset = r.get<double>("offset");
    m.seed = r.get<std::uint64_t>("seed");
    const auto n_names = r.get<std::uint32_t>("the feature names");
    for (std::uint32_t i = 0; i < n_names; ++i) m.feature_names.push_back(r.get_string("a feature name"));
    const auto n_trees = r.get<std::uint32_t>("the tree count");
    for (std::uint32_t t = 0; t < n_trees; ++t) {
        Tree tree;
        const auto n = r.get<std::uint32_t>("a tree's node count");
        tree.feature = r.get_array<std::int32_t>(n, "a tree's features");
        tree.threshold = r.get_array<double>(n, "a tree's thresholds");
        tree.left = r.get_array<std::int32_t>(n, "a tree's left children");
        tree.right = r.get_array<std::int32_t>(n, "a tree's right children");
        tree.n_node_samples = r.get_array<std::int64_t>(n, "a tree's sample counts");
        m.trees.push_back(std::move(tree));
    }
    if (!r.at_end()) r.fail("corrupt model file: bytes after the last tree");
    return m;
}

[[nodiscard]] inline std::string write_json(const ModelParts& m) {
    using json::write_number;
    using json::write_string;
    std::string out;
    out += "{\n  \"format\": \"isoflow.IsolationForest\",\n  \"format_version\": ";
    write_number(out, json_format_version);
    out += ",\n  \"float_type\": ";
    write_string(out, m.float_bytes == 4 ? "float32" : "float64");
    out += ",\n  \"n_features_in\": ";
    write_number(out, m.n_features);
    if (!m.feature_names.empty()) {
        out += ",\n  \"feature_names_in\": [";
        for (std::size_t i = 0; i < m.feature_names.size(); ++i) {
            if (i) out += ", ";
            write_string(out, m.feature_names[i]);
        }
        out += "]";
    }
    out += ",\n  \"max_samples\": ";
    write_number(out, m.psi);
    out += ",\n  \"offset\": ";
    write_number(out, m.offset);
    out += ",\n  \"seed\": ";
    write_number(out, m.seed);
    const auto& p = m.params;
    out += ",\n  \"params\": {\"n_estimators\": ";
    write_number(out, p.n_estimators);
    out += ", \"max_samples\": ";
    if (p.max_samples.kind() == MaxSamples::Kind::automatic)
        out += "\"auto\"";
    else if (p.max_samples.kind() == MaxSamples::Kind::count)
        write_number(out, p.max_samples.count());
    else
        out += p.max_samples.to_string().find_first_of(".e") == std::string::npos
                   ? p.max_samples.to_string() + ".0"
                   : p.max_samples.to_string();
    out += ", \"contamination\": ";
    if (p.contamination.is_auto())
        out += "\"auto\"";
    else
        write_number(out, p.contamination.value());
    out += ", \"max_features\": ";
    if (p.max_features.is_count())
        write_number(out, p.max_features.count());
    else
        out += p.max_features.to_string().find_first_of(".e") == std::string::npos
                   ? p.max_features.to_string() + ".0"
                   : p.max_features.to_string();
    out += p.bootstrap ? ", \"bootstrap\": true" : ", \"bootstrap\": false";
    out += ", \"n_jobs\": ";
    write_number(out, p.n_jobs);
    out += ", \"random_state\": ";
    if (p.random_state)
        write_number(out, *p.random_state);
    else
        out += "null";
    out += p.warm_start ? ", \"warm_start\": true}" : ", \"warm_start\": false}";
    out += ",\n  \"trees\": [";
    for (std::size_t t = 0; t < m.trees.size(); ++t) {
        const Tree& tree = m.trees[t];
        out += t ? ",\n    {" : "\n    {";
        auto array = [&](const char* key, const auto& values, bool last) {
            out += '"';
            out += key;
            out += "\": [";
            for (std::size_t i = 0; i < values.size(); ++i) {
                if (i) out += ", ";
                write_number(out, values[i]);
            }
            out += last ? "]" : "], ";
        };
        array("feature", tree.feature, false);
        array("threshold", tree.threshold, false);
        array("children_left", tree.left, false);
        array("children_right", tree.right, false);
        array("n_node_samples", tree.n_node_samples, true);
        out += "}";
    }
    out += "\n  ]\n}\n";
    return out;
}

// Reads the interchange format. A tree may carry "features" (scikit-learn's
// estimators_features_ for that tree): its node features then index that list. Leaves may
// have any negative feature (scikit-learn writes -2) and any threshold.
[[nodiscard]] inline ModelParts read_json(std::string_view text, const std::string& source,
                                          int expected_float_bytes) {
    json::Parser parser(text, source);
    const json::Value doc = parser.parse_document();
    json::Reader r(source);
    if (doc.kind != json::Value::Kind::object) r.fail(doc, "expected a JSON object");
    static constexpr std::string_view known[] = {
        "format", "format_version", "float_type", "n_features_in", "feature_names_in",
        "max_samples", "offset", "seed", "params", "trees", "sklearn_version"};
    for (const auto& [key, value] : doc.object) {
        bool ok = false;
        for (auto k : known) ok = ok || key == k;
        if (!ok) r.fail(value, "unknown key \"" + key + "\"");
    }
    if (r.string(r.member(doc, "format"), "format") != "isoflow.IsolationForest")
        r.fail(r.member(doc, "format"), "format: expected \"isoflow.IsolationForest\"");
    const int version = r.number<int>(r.member(doc, "format_version"), "format_version");
    if (version != json_format_version)
        r.fail(r.member(doc, "format_version"),
               "format_version " + std::to_string(version) + "; this isoflow reads version " +
                   std::to_string(json_format_version));
    ModelParts m;
    m.float_bytes = expected_float_bytes;
    if (const json::Value* ft = doc.find("float_type")) {
        const std::string& name = r.string(*ft, "float_type");
        if (name != "float32" && name != "float64")
            r.fail(*ft, "float_type: expected \"float32\" or \"float64\"");
        const int bytes = name == "float32" ? 4 : 8;
        if (bytes != expected_float_bytes)
            r.fail(*ft, "the model is " + std::string(float_type_label(bytes)) +
                            "; it cannot be loaded as " + float_type_label(expected_float_bytes));
    }
    m.n_features = r.number<std::int64_t>(r.member(doc, "n_features_in"), "n_features_in");
    if (const json::Value* names = doc.find("feature_names_in")) {
        if (names->kind != json::Value::Kind::array) r.fail(*names, "feature_names_in: expected an array");
        for (const auto& name : names->array) m.feature_names.push_back(r.string(name, "feature_names_in"));
    }
    m.psi = r.number<std::int64_t>(r.member(doc, "max_samples"), "max_samples");
    m.offset = r.number<double>(r.member(doc, "offset"), "offset");
    if (const json::Value* seed = doc.find("seed")) m.seed = r.number<std::uint64_t>(*seed, "seed");
    if (const json::Value* params = doc.find("params")) {
        if (params->kind != json::Value::Kind::object) r.fail(*params, "params: expected an object");
        auto& p = m.params;
        for (const auto& [key, v] : params->object) {
            if (key == "n_estimators") {
                p.n_estimators = r.number<int>(v, "params.n_estimators");
            } else if (key == "max_samples") {
                if (v.kind == json::Value::Kind::string) {
                    if (v.text != "auto") r.fail(v, "params.max_samples: expected \"auto\" or a number");
                } else if (v.text.find_first_of(".eE") == std::string::npos) {
                    p.max_samples = MaxSamples(r.number<std::int64_t>(v, "params.max_samples"));
                } else {
                    p.max_samples = MaxSamples(r.number<double>(v, "params.max_samples"));
                }
            } else if (key == "contamination") {
                if (v.kind == json::Value::Kind::string) {
                    if (v.text != "auto") r.fail(v, "params.contamination: expected \"auto\" or a number");
                } else {
                    p.contamination = Contamination(r.number<double>(v, "params.contamination"));
                }
            } else if (key == "max_features") {
                if (v.text.find_first_of(".eE") == std::string::npos)
                    p.max_features = MaxFeatures(r.number<std::int64_t>(v, "params.max_features"));
                else
                    p.max_features = MaxFeatures(r.number<double>(v, "params.max_features"));
            } else if (key == "bootstrap" || key == "warm_start") {
                if (v.kind != json::Value::Kind::boolean) r.fail(v, "params." + key + ": expected true or false");
                (key == "bootstrap" ? p.bootstrap : p.warm_start) = v.boolean;
            } else if (key == "n_jobs") {
                if (v.kind != json::Value::Kind::null) p.n_jobs = r.number<int>(v, "params.n_jobs");
            } else if (key == "random_state") {
                if (v.kind != json::Value::Kind::null)
                    p.random_state = r.number<std::uint64_t>(v, "params.random_state");
            } else {
                r.fail(v, "unknown key \"params." + key + "\"");
            }
        }
    }
    const json::Value& trees = r.member(doc, "trees");
    if (trees.kind != json::Value::Kind::array) r.fail(trees, "trees: expected an array");
    for (std::size_t t = 0; t < trees.array.size(); ++t) {
        const json::Value& node = trees.array[t];
        const std::string where = "trees[" + std::to_string(t) + "]";
        if (node.kind != json::Value::Kind::object) r.fail(node, where + ": expected an object");
        Tree tree;
        tree.feature = r.numbers<std::int32_t>(r.member(node, "feature"), where + ".feature");
        tree.threshold = r.numbers<double>(r.member(node, "threshold"), where + ".threshold");
        tree.left = r.numbers<std::int32_t>(r.member(node, "children_left"), where + ".children_left");
        tree.right = r.numbers<std::int32_t>(r.member(node, "children_right"), where + ".children_right");
        tree.n_node_samples =
            r.numbers<std::int64_t>(r.member(node, "n_node_samples"), where + ".n_node_samples");
        std::vector<std::int64_t> features;
        if (const json::Value* f = node.find("features"))
            features = r.numbers<std::int64_t>(*f, where + ".features");
        for (std::size_t i = 0; i < tree.feature.size() && i < tree.left.size(); ++i) {
            if (tree.left[i] < 0) {  // a leaf, in whatever form scikit-learn wrote it
                tree.feature[i] = -1;
                if (i < tree.threshold.size()) tree.threshold[i] = 0.0;
                if (i < tree.right.size()) tree.right[i] = -1;
                tree.left[i] = -1;
                continue;
            }
            if (!features.empty()) {
                const auto f = tree.feature[i];
                if (f < 0 || static_cast<std::size_t>(f) >= features.size())
                    r.fail(node, where + ": node " + std::to_string(i) + " uses feature " +
                                     std::to_string(f) + " of a list of " +
                                     std::to_string(features.size()));
                const std::int64_t mapped = features[static_cast<std::size_t>(f)];
                if (mapped < 0 || mapped > std::numeric_limits<std::int32_t>::max())
                    r.fail(node, where + ".features: " + std::to_string(mapped) + " is out of range");
                tree.feature[i] = static_cast<std::int32_t>(mapped);
            }
        }
        m.trees.push_back(std::move(tree));
    }
    return m;
}

[[nodiscard]] inline std::string read_whole_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw_error<io_error>(path + ": cannot open the file for reading");
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw_error<io_error>(path + ": read failed");
    return data;
}

// Writes the whole file under a temporary name, then renames it into place, so that a reader
// never sees half a model.
inline void write_whole_file(const std::string& path, std::string_view data) {
    const std::string temporary = path + ".tmp";
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        if (!out) throw_error<io_error>(path + ": cannot open the file for writing");
        out.write(data.data(), static_cast<std::streamsize>(data.size()));
        out.flush();
        if (!out) {
            std::remove(temporary.c_str());
            throw_error<io_error>(path + ": write failed (disk full?)");
        }
    }
    if (std::rename(temporary.c_str(), path.c_str()) != 0) {
        std::remove(temporary.c_str());
        throw_error<io_error>(path + ": cannot rename the written file into place");
    }
}

[[nodiscard]] inline bool ends_with_json(std::string_view path) noexcept {
    return path.size() >= 5 && path.substr(path.size() - 5) == ".json";
}

}  // namespace isoflow::detail
