// tcpterm-config-gen: prints the generated configuration reference (`md`) or the defaults file
// (`toml`); scripts/gen-config-docs.sh writes them to docs/configuration.md and
// config/tcpterm.toml. Kept as a separate tool so generation needs no EAL and no NIC.
#include "engine/config.hpp"

#include <cstdio>
#include <string_view>

int main(int argc, char** argv) {
    const std::string_view what = argc == 2 ? argv[1] : "";
    std::string text;
    if (what == "md") {
        text = tcpterm::engine::config_reference_markdown();
    } else if (what == "toml") {
        text = tcpterm::engine::config_defaults_toml();
    } else {
        std::fprintf(stderr, "usage: tcpterm-config-gen md|toml\n");
        return 2;
    }
    std::fwrite(text.data(), 1, text.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
}
