/*
 * Key material out of the process environment. Variables such as ENCRYPTION_KEY are read once
 * at start-up; afterwards nothing in the process needs them, and the kernel would otherwise keep
 * showing them in /proc/<pid>/environ (to the same user, to root, to anything that dumps the
 * process) for the process's whole life.
 *
 * Why unsetenv is not enough: glibc's `environ` points into the stack area the kernel filled
 * at exec, and /proc/<pid>/environ reads that area. unsetenv only removes the pointer; the bytes
 * stay. sluice_secretenv_detach copies every variable to the heap, points `environ` at the
 * copies and overwrites the original area with zeros, so /proc/<pid>/environ shows nothing
 * while getenv keeps working (a SIGHUP reload still reads the write-key and plugin variables it
 * needs). sluice_secretenv_forget then removes a variable the process never needs again and
 * wipes its bytes wherever they are.
 *
 * Threading: main thread only, before any other thread starts (getenv is not safe against a
 * concurrent change of the environment).
 */
#ifndef SLUICE_CRYPTO_SECRETENV_H
#define SLUICE_CRYPTO_SECRETENV_H

/* Moves the environment to the heap and zeroes the area /proc/<pid>/environ shows. Safe to call
 * more than once (later calls do nothing). Returns 0, or -1 when memory ran out (the environment
 * is then unchanged). */
int sluice_secretenv_detach(void) __attribute__((warn_unused_result));

/* Removes name from the environment and overwrites its value's bytes (every occurrence). Does
 * nothing when name is not set. */
void sluice_secretenv_forget(const char *name);

#endif
