/* A static probe run inside test containers: makes one system call (or a loop of them)
 * and prints what happened, so tests see the errno a container process gets.
 *
 *   probe keyctl | add_key | kexec_load | remount-rw | unshare-user | mknod | setns
 *       prints "ok" or the errno name (e.g. "EPERM")
 *   probe fds      prints "fd -> target" for every open fd but the directory it reads
 *   probe exe-race SECONDS
 *       for SECONDS, tries to open and readlink /proc/<pid>/exe of every other process;
 *       prints "opened N linked M hostexe K" (K: links that name a file the container lacks)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static int report(long ret) {
    if (ret < 0) {
        printf("%s\n", strerrorname_np(errno));
        return 1;
    }
    printf("ok\n");
    return 0;
}

static int fds(void) {
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    char path[64], target[4096];
    if (!d) return report(-1);
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d)) continue;
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n < 0 ? 0 : n] = 0;
        printf("%s -> %s\n", e->d_name, target);
    }
    closedir(d);
    return 0;
}

static int exe_race(int seconds) {
    long opened = 0, linked = 0, hostexe = 0;
    time_t end = time(NULL) + seconds;
    pid_t self = getpid();
    char path[64], target[4096];
    struct stat st;
    while (time(NULL) < end) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            int pid = atoi(e->d_name);
            if (pid <= 1 || pid == self) continue;
            snprintf(path, sizeof path, "/proc/%d/exe", pid);
            int fd = open(path, O_PATH);
            if (fd >= 0) { opened++; close(fd); }
            ssize_t n = readlink(path, target, sizeof target - 1);
            if (n > 0) {
                target[n] = 0;
                linked++;
                /* a binary that the container's own filesystem does not have is the host's */
                if (stat(target, &st) != 0 || strstr(target, "python")) {
                    hostexe++;
                    printf("host exe: %s\n", target);
                }
            }
        }
        if (d) closedir(d);
    }
    printf("opened %ld linked %ld hostexe %ld\n", opened, linked, hostexe);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2) return 2;
    const char *what = argv[1];
    if (!strcmp(what, "keyctl")) return report(syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0));
    if (!strcmp(what, "add_key")) return report(syscall(SYS_add_key, "user", "probe", "x", 1, -3));
    if (!strcmp(what, "kexec_load")) return report(syscall(SYS_kexec_load, 0, 0, NULL, 0));
    if (!strcmp(what, "remount-rw")) return report(mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND, NULL));
    if (!strcmp(what, "unshare-user")) return report(unshare(CLONE_NEWUSER));
    if (!strcmp(what, "mknod")) return report(mknod("/tmp/probe-null", S_IFCHR | 0600, makedev(1, 3)));
    if (!strcmp(what, "setns")) return report(setns(open("/proc/1/ns/net", O_RDONLY), 0));
    if (!strcmp(what, "getpid")) return report(syscall(SYS_getpid));
    if (!strcmp(what, "fds")) return fds();
    if (!strcmp(what, "exe-race")) return exe_race(argc > 2 ? atoi(argv[2]) : 2);
    fprintf(stderr, "unknown probe %s\n", what);
    return 2;
}
