// Test main for suites that need a running EAL: initialises DPDK once per process with no
// hugepages, no PCI and a null port, under a file prefix unique to this process, then runs Catch2.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <rte_eal.h>

#include <cstdio>
#include <string>
#include <unistd.h>
#include <vector>

int main(int argc, char** argv) {
    const std::string prefix = "--file-prefix=tcpterm-test-" + std::to_string(getpid());
    std::vector<std::string> eal_args = {"tcpterm-test",
                                         "--no-huge",
                                         "-m",
                                         "128",
                                         "--no-pci",
                                         "--vdev=net_null0",
                                         "--log-level=lib.eal:error",
                                         "--no-telemetry",
                                         prefix,
                                         "-l",
                                         "0"};
    std::vector<char*> eal_argv;
    for (auto& a : eal_args) {
        eal_argv.push_back(a.data());
    }
    if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
        std::fprintf(stderr, "rte_eal_init failed (are we root?)\n");
        return 2;
    }
    const int rc = Catch::Session().run(argc, argv);
    rte_eal_cleanup();
    return rc;
}
