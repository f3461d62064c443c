/* Calls the system calls docker's seccomp profile forbids to a container
 * with the default capabilities and prints what the kernel answered, one
 * "name errno-name" line each ("ok" when the call succeeded). Built static
 * by the runtime tests and run inside the sandbox, with two CVE-2019-5736
 * checks on the init's binary. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *name, long rc) {
    if (rc >= 0)
        printf("%s ok\n", name);
    else
        printf("%s %s\n", name, strerrorname_np(errno));
}

int main(void) {
    report("unshare", unshare(CLONE_NEWUTS));
    report("mount", mount("none", "/tmp", "tmpfs", 0, NULL));
    report("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0));
    report("add_key", syscall(SYS_add_key, "user", "kiln", "x", 1, -3));
    report("bpf", syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, NULL, 0));
    report("clone3", syscall(SYS_clone3, NULL, 0));
    report("getpid", getpid());
    /* CVE-2019-5736: the init is kiln's binary; it must not be writable
     * (nor even openable: the init is not dumpable). */
    report("open_init_exe", open("/proc/1/exe", O_WRONLY | O_APPEND));
    report("read_init_exe", open("/proc/1/exe", O_RDONLY));
    return 0;
}
