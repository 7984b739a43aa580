// aftershock: the user CLI (gen, import, groundtruth, search, eval, recall, inspect).
#include "commands.hpp"

#include "aftershock/common/error.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
    CLI::App app{"aftershock: learned sparse and dense retrieval, from corpus to cluster"};
    app.set_version_flag("--version", std::string("aftershock ") + AFTERSHOCK_VERSION);
    app.set_config("--config", "", "read flags from an INI/TOML file");
    auto logger = spdlog::stderr_color_mt("aftershock");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");
    app.add_option_function<std::string>(
           "--log-level", [](const std::string& l) { spdlog::set_level(spdlog::level::from_str(l)); },
           "trace|debug|info|warn|error|off (default info)")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
    app.require_subcommand(1);
    aftershock::cli::register_gen(app);
    aftershock::cli::register_import(app);
    aftershock::cli::register_groundtruth(app);
    aftershock::cli::register_search(app);
    aftershock::cli::register_eval(app);
    aftershock::cli::register_recall(app);
    aftershock::cli::register_inspect(app);
    aftershock::cli::register_bench(app);
    aftershock::cli::register_load(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const aftershock::Error& e) {
        // Commands run inside parse() through callbacks; their errors end here as one line.
        spdlog::error("{}", e.what());
        return 1;
    } catch (const std::exception& e) {
        spdlog::error("unexpected error: {}", e.what());
        return 2;
    }
    return 0;
}
