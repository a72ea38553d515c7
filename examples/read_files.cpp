// Reads a JSON Lines file and a CSV file, then runs a FileSource over a landing directory.
//   isoflow_example_read_files [DIR]   (default: a fresh folder under the temp directory)
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "isoflow/io.hpp"

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    const fs::path dir = argc > 1 ? fs::path(argv[1]) : fs::temp_directory_path() / "isoflow_read_files_example";
    fs::create_directories(dir / "landing");
    std::ofstream(dir / "landing" / "tx_0001.json") << "{'cust_id': 0, 'Time': 0.0, 'Amount': 149.62}\n";
    std::ofstream(dir / "landing" / "tx_0002.json") << "{'cust_id': 1, 'Time': 1.0, 'Amount': '12,5'}\n";
    std::ofstream(dir / "cards.csv") << "cust_id,Time,Amount\n0,0.0,149.62\n1,1.0,2.69\n";

    try {
        isoflow::ReadOptions options;
        options.infer_column_types = true;
        const isoflow::Batch csv = isoflow::read_csv((dir / "cards.csv").string(), options);
        std::printf("cards.csv: %zu rows, schema %s\n", csv.num_rows(), csv.schema().to_string().c_str());

        isoflow::FileSourceOptions source_options;
        source_options.path = (dir / "landing").string();
        source_options.schema_hints = "cust_id BIGINT, Time DOUBLE, Amount DOUBLE";
        source_options.settle_time = std::chrono::milliseconds(0);
        isoflow::FileSource source(source_options,
                                   std::make_shared<isoflow::FileCheckpoint>(dir / "checkpoint"));
        while (auto plan = source.plan()) {
            const isoflow::SourceBatch batch = source.read(*plan);
            std::printf("batch %llu: %zu files, %zu rows\n", static_cast<unsigned long long>(plan->batch_id),
                        plan->files.size(), batch.data.num_rows());
            const auto& rescued = batch.data.column("_rescued_data");
            for (std::size_t r = 0; r < batch.data.num_rows(); ++r)
                if (!rescued.is_null(r)) std::printf("  rescued: %s\n", std::string(rescued.string_at(r)).c_str());
            source.commit(*plan);
        }
    } catch (const isoflow::error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
