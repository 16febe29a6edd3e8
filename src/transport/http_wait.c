/*
 * http_wait.c — how a backend waits for libcurl: asleep on its latch and
 * on the sockets libcurl names, never by polling.
 *
 * The backend's multi handle (http.c) is driven by libcurl's socket
 * interface: the socket callback tells which sockets to watch for what
 * (kept here in a small malloc'd table), the timer callback when libcurl
 * next needs to run.  aig_http_wait() builds a WaitEventSet of those
 * sockets, the process latch and postmaster death, sleeps in it until a
 * socket is ready, the latch is set (a cancel, a terminate, a job queued)
 * or libcurl's timer is due, and then runs curl_multi_socket_action for
 * what happened.  The set is made per wait (the socket set changes as
 * connections open and close) and freed on every path, errors included.
 *
 * While asleep the backend reports a wait event (base/compat.h:
 * 'Extension' on PostgreSQL 15 and 16, 'AiGatewayProvider' on 17+), so
 * pg_stat_activity shows it waiting for a provider, and it exits at once
 * when the postmaster dies (WL_EXIT_ON_PM_DEATH).
 */
#include "postgres.h"

#include <curl/curl.h>

#include <time.h>

#include "miscadmin.h"
#include "storage/latch.h"

#include "base/compat.h"
#include "transport/http_internal.h"

/* A socket libcurl asked us to watch, and for what (CURL_POLL_*). */
typedef struct WatchedSocket
{
	curl_socket_t fd;
	int			what;
} WatchedSocket;

static WatchedSocket *watched = NULL;	/* malloc'd */
static int	nwatched = 0;
static int	watched_cap = 0;

/*
 * libcurl's timer: active, when it is due (monotonic µs), and whether that
 * due time was already run (libcurl may find it not quite due by its own
 * clock and leave it in place without calling the timer callback again).
 */
static bool timer_active = false;
static int64 timer_due_us;
static bool timer_fired = false;

/* the latch woke a wait since the last aig_http_take_wakeup() */
static bool woken = false;

/* Monotonic time in microseconds. */
static int64
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* libcurl names a socket to watch, changes what for, or drops it. */
static int
aig_socket_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	int			i;

	for (i = 0; i < nwatched; i++)
		if (watched[i].fd == s)
			break;
	if (what == CURL_POLL_REMOVE)
	{
		if (i < nwatched)
			watched[i] = watched[--nwatched];
		return 0;
	}
	if (i == nwatched)
	{
		if (nwatched == watched_cap)
		{
			int			cap = watched_cap ? watched_cap * 2 : 16;
			WatchedSocket *w = realloc(watched, cap * sizeof(WatchedSocket));

			if (w == NULL)
				return -1;		/* libcurl fails the transfer */
			watched = w;
			watched_cap = cap;
		}
		watched[nwatched].fd = s;
		nwatched++;
	}
	watched[i].what = what;
	return 0;
}

/* libcurl wants to run in timeout_ms (0: at once; -1: no timer). */
static int
aig_timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	if (timeout_ms < 0)
	{
		timer_active = false;
		return 0;
	}
	timer_due_us = now_us() + (int64) timeout_ms * 1000;
	timer_active = true;
	timer_fired = false;
	return 0;
}

/* A multi handle whose sockets and timer are watched here (NULL on OOM). */
CURLM *
aig_http_multi_create(void)
{
	CURLM	   *m = curl_multi_init();

	if (m == NULL)
		return NULL;
	curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, aig_socket_cb);
	curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, aig_timer_cb);
	/* HTTP/2 upstreams: concurrent transfers share one connection */
	curl_multi_setopt(m, CURLMOPT_PIPELINING, (long) CURLPIPE_MULTIPLEX);
	return m;
}

/* The multi handle was cleaned up: nothing is watched any more. */
void
aig_http_wait_reset(void)
{
	nwatched = 0;
	timer_active = false;
}

/* Socket s is being closed: never wait on it again (however libcurl ordered it). */
void
aig_http_wait_forget(curl_socket_t s)
{
	for (int i = 0; i < nwatched; i++)
		if (watched[i].fd == s)
		{
			watched[i] = watched[--nwatched];
			return;
		}
}

/*
 * Did the latch wake a transfer's wait since the last look?  (Cleared by
 * looking.)  A wait resets the latch, so a signal meant for the caller (the
 * job worker's "a job was queued") is passed on this way.
 */
bool
aig_http_take_wakeup(void)
{
	bool		w = woken;

	woken = false;
	return w;
}

/* Free the table (at the backend's exit). */
void
aig_http_wait_cleanup(void)
{
	free(watched);
	watched = NULL;
	nwatched = watched_cap = 0;
	timer_active = false;
}

/* Milliseconds until libcurl's timer is due (rounded up; 0 when due; -1: none). */
static long
timer_left_ms(void)
{
	int64		us;

	if (!timer_active)
		return -1;
	us = timer_due_us - now_us();
	if (us <= 0)
		return 0;
	return (long) ((us + 999) / 1000);
}

/* Run libcurl's timeouts (and whatever else is due). */
static bool
run_timeouts(CURLM *m)
{
	int			running;

	timer_fired = true;
	return curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running) == CURLM_OK;
}

/*
 * Sleep until a watched socket is ready, the latch is set, libcurl's timer
 * is due or max_ms have passed, then let libcurl do what is ready.  The
 * latch is reset here: the caller checks for interrupts after every call.
 * Returns false on a libcurl error (the caller fails its transfers).
 */
bool
aig_http_wait(CURLM *m, long max_ms)
{
	long		left = timer_left_ms();
	long		timeout = Max(max_ms, 0);
	WaitEventSet *volatile set = NULL;
	WaitEvent  *events;
	int			nev;
	volatile int n = 0;
	bool		ok = true;

	if (left == 0)
	{
		/* due: run it at once (the caller then looks at what finished) */
		if (!timer_fired)
			return run_timeouts(m);
		/* run, but not yet due by libcurl's clock: a moment's sleep, then again */
		left = 1;
	}
	if (left >= 0)
		timeout = Min(timeout, left);

	nev = nwatched + 2;
	events = palloc(sizeof(WaitEvent) * nev);
	PG_TRY();
	{
		set = aig_create_wait_event_set(nev);
		AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
		if (IsUnderPostmaster)
			AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
		for (int i = 0; i < nwatched; i++)
		{
			uint32		ev = 0;

			if (watched[i].what & CURL_POLL_IN)
				ev |= WL_SOCKET_READABLE;
			if (watched[i].what & CURL_POLL_OUT)
				ev |= WL_SOCKET_WRITEABLE;
			if (ev != 0)
				AddWaitEventToSet(set, ev, watched[i].fd, NULL, NULL);
		}
		n = WaitEventSetWait(set, timeout, events, nev, aig_provider_wait_event());
	}
	PG_FINALLY();
	{
		if (set != NULL)
			FreeWaitEventSet(set);
	}
	PG_END_TRY();

	for (int i = 0; i < n && ok; i++)
	{
		int			flags = 0;
		int			running;

		if (events[i].events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			woken = true;
			continue;
		}
		if (events[i].events & WL_SOCKET_READABLE)
			flags |= CURL_CSELECT_IN;
		if (events[i].events & WL_SOCKET_WRITEABLE)
			flags |= CURL_CSELECT_OUT;
		if (flags != 0)
			ok = curl_multi_socket_action(m, events[i].fd, flags, &running) == CURLM_OK;
	}
	pfree(events);
	if (ok && timer_left_ms() == 0)
		ok = run_timeouts(m);
	return ok;
}
