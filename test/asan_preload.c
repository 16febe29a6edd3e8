/*
 * asan_preload.c — preloaded after the ASan runtime by test/asan_check.sh
 * (LD_PRELOAD="libasan.so asan_preload.so"), so that the non-instrumented
 * PostgreSQL programs (postgres, initdb, pg_ctl, ...) start at all.
 *
 * A preloaded ASan runtime initializes lazily, on the first call into one
 * of its interceptors, because the constructors of a program's own
 * libraries run before those of preloaded ones.  When that first call is a
 * malloc() made by glibc while it holds its locale or gettext lock for
 * writing (libgpg-error's constructor calls bindtextdomain(), libp11-kit's
 * calls newlocale()), ASan's initialization calls dlerror(), which takes
 * the same lock for reading, gets EDEADLK, unlocks anyway and leaves the
 * lock corrupt: the program then hangs in its next setlocale() or
 * bindtextdomain() (google/sanitizers#1270).
 *
 * The functions below interpose glibc's functions that malloc under those
 * locks (setlocale and textdomain are already intercepted by ASan itself):
 * each makes sure ASan is initialized, by one malloc() with no lock held,
 * and forwards to the real function.
 *
 * Also: gcc's UBSan runtime initializes at its first report and reads
 * UBSAN_OPTIONS from /proc/self/environ, which a postgres process has
 * overwritten with its ps title by then; UBSAN_OPTIONS would be ignored
 * (no stack trace, no halt).  __ubsan_default_options() returns the value
 * saved at start instead.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

static char ubsan_options[1024];

__attribute__((constructor))
static void
save_ubsan_options(void)
{
	const char *o = getenv("UBSAN_OPTIONS");

	if (o != NULL)
		snprintf(ubsan_options, sizeof(ubsan_options), "%s", o);
}

const char *__ubsan_default_options(void);

const char *
__ubsan_default_options(void)
{
	return ubsan_options;
}

static void
asan_init_once(void)
{
	static int	done = 0;

	if (!done)
	{
		void	   *volatile p = malloc(1);

		free(p);
		done = 1;
	}
}

static void *
real_function(const char *name)
{
	void	   *f;

	asan_init_once();
	f = dlsym(RTLD_NEXT, name);
	if (f == NULL)
		abort();
	return f;
}

char	   *bindtextdomain(const char *domainname, const char *dirname);
char	   *bind_textdomain_codeset(const char *domainname, const char *codeset);

char *
bindtextdomain(const char *domainname, const char *dirname)
{
	static char *(*real) (const char *, const char *) = NULL;

	if (real == NULL)
		real = (char *(*) (const char *, const char *)) real_function("bindtextdomain");
	return real(domainname, dirname);
}

char *
bind_textdomain_codeset(const char *domainname, const char *codeset)
{
	static char *(*real) (const char *, const char *) = NULL;

	if (real == NULL)
		real = (char *(*) (const char *, const char *)) real_function("bind_textdomain_codeset");
	return real(domainname, codeset);
}

locale_t
newlocale(int category_mask, const char *locale, locale_t base)
{
	static locale_t (*real) (int, const char *, locale_t) = NULL;

	if (real == NULL)
		real = (locale_t (*) (int, const char *, locale_t)) real_function("newlocale");
	return real(category_mask, locale, base);
}

locale_t
duplocale(locale_t locobj)
{
	static locale_t (*real) (locale_t) = NULL;

	if (real == NULL)
		real = (locale_t (*) (locale_t)) real_function("duplocale");
	return real(locobj);
}
