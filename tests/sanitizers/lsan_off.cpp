// Linked into aftershock-build only in ASan builds (CMakeLists.txt, AFTERSHOCK_SANITIZE with address): turns
// LeakSanitizer off for that process. Its MPI_Init makes Open MPI, PMIx and their dlopen'ed plugins allocate once
// and never free, through libraries without frame pointers, so the leak stacks stop at "<unknown module>" and no
// suppression can name them. AddressSanitizer and UBSan errors still abort it; leaks in the code it shares with the
// CLI, worker and unit tests are checked there.
extern "C" int __lsan_is_turned_off() { return 1; }
