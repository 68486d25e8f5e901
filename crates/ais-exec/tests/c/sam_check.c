/*
 * A client of Debian's libsam (corosync's Simple Availability Manager), run by the libsam
 * tests against aisexec. libsam forks: sam_register() returns in a child, the instance,
 * while the parent stays behind as its manager, restarting it when it fails, keeping the
 * data it stored, and (with the QUORUM policy) stopping it while the node is not quorate.
 * Every line printed says which instance did what, so the test can follow the story.
 *
 *   sam_check restart   (RESTART | CMAP) instance 1 stores data and stops sending health
 *                       checks: the manager kills and restarts it; instance 2 finds the
 *                       data, stores more and crashes: restarted again; instance 3 finds
 *                       instance 2's data and calls sam_mark_failed(): the manager kills it
 *                       and exits, leaving resources.process.<its pid>.state = failed in
 *                       cmap.
 *   sam_check quorum    every instance starts (sam_start waits for quorum), then sends
 *                       health checks until it is killed; the test takes quorum away and
 *                       gives it back.
 */
#define _GNU_SOURCE
#include <corosync/sam.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HC_PERIOD_MS 500

static void say(unsigned int instance, const char *what)
{
	printf("instance %u pid %d %s\n", instance, (int)getpid(), what);
	fflush(stdout);
}

static void fail(unsigned int instance, const char *call, cs_error_t err)
{
	printf("instance %u pid %d FAILED %s: %d\n", instance, (int)getpid(), call, err);
	fflush(stdout);
	exit(2);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0) {
	}
}

/* Health checks for `count` periods of a fifth of HC_PERIOD_MS; forever if count < 0. */
static void beat(unsigned int instance, long count)
{
	for (long i = 0; count < 0 || i < count; i++) {
		cs_error_t err = sam_hc_send();
		if (err != CS_OK) {
			fail(instance, "sam_hc_send", err);
		}
		sleep_ms(HC_PERIOD_MS / 5);
	}
}

/* The data the previous instance stored, or "" when there is none. */
static void restore(unsigned int instance, char *buf, size_t len)
{
	size_t size = 0;
	cs_error_t err = sam_data_getsize(&size);
	if (err != CS_OK) {
		fail(instance, "sam_data_getsize", err);
	}
	memset(buf, 0, len);
	if (size == 0) {
		return;
	}
	if (size > len - 1) {
		fail(instance, "stored data size", CS_ERR_NO_SPACE);
	}
	err = sam_data_restore(buf, len);
	if (err != CS_OK) {
		fail(instance, "sam_data_restore", err);
	}
}

static void store(unsigned int instance, const char *data)
{
	cs_error_t err = sam_data_store(data, strlen(data) + 1);
	if (err != CS_OK) {
		fail(instance, "sam_data_store", err);
	}
}

static int restart_scenario(void)
{
	unsigned int instance = 0;
	char data[64];
	cs_error_t err;

	err = sam_initialize(HC_PERIOD_MS, SAM_RECOVERY_POLICY_RESTART | SAM_RECOVERY_POLICY_CMAP);
	if (err != CS_OK) {
		fail(0, "sam_initialize", err);
	}
	err = sam_register(&instance);
	if (err != CS_OK) {
		fail(0, "sam_register", err);
	}
	restore(instance, data, sizeof(data));
	printf("instance %u pid %d restored \"%s\"\n", instance, (int)getpid(), data);
	fflush(stdout);
	err = sam_start();
	if (err != CS_OK) {
		fail(instance, "sam_start", err);
	}
	switch (instance) {
	case 1:
		store(instance, "state of instance 1");
		beat(instance, 10);
		say(instance, "stops sending health checks");
		for (;;) {
			pause();
		}
	case 2:
		if (strcmp(data, "state of instance 1") != 0) {
			fail(instance, "data kept across the restart", CS_ERR_LIBRARY);
		}
		store(instance, "state of instance 2");
		beat(instance, 5);
		say(instance, "crashes");
		_exit(1);
	case 3:
		if (strcmp(data, "state of instance 2") != 0) {
			fail(instance, "data kept across the restart", CS_ERR_LIBRARY);
		}
		beat(instance, 5);
		say(instance, "marks itself failed");
		err = sam_mark_failed();
		if (err != CS_OK) {
			fail(instance, "sam_mark_failed", err);
		}
		for (;;) {
			pause();
		}
	default:
		fail(instance, "more restarts than expected", CS_ERR_LIBRARY);
	}
	return 1;
}

static int quorum_scenario(void)
{
	unsigned int instance = 0;
	cs_error_t err;

	err = sam_initialize(HC_PERIOD_MS, SAM_RECOVERY_POLICY_QUORUM_RESTART);
	if (err != CS_OK) {
		fail(0, "sam_initialize", err);
	}
	err = sam_register(&instance);
	if (err != CS_OK) {
		fail(0, "sam_register", err);
	}
	say(instance, "waits for quorum");
	err = sam_start();
	if (err != CS_OK) {
		fail(instance, "sam_start", err);
	}
	say(instance, "runs");
	beat(instance, -1);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "restart") == 0) {
		return restart_scenario();
	}
	if (argc == 2 && strcmp(argv[1], "quorum") == 0) {
		return quorum_scenario();
	}
	fprintf(stderr, "usage: sam_check restart|quorum\n");
	return 64;
}
