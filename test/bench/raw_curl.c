/*
 * test/bench/raw_curl.c — the "raw" side of bench_overhead.sh: the cheapest
 * reasonable C client doing the same work one ai_complete() call does over
 * the wire, so the benchmark can tell how much the extension adds on top.
 * bench_peer.sh also sends it through an outside gateway (extra HEADERs
 * tell that gateway which provider and upstream to use).
 *
 *   raw_curl URL API_KEY N [WARMUP [HEADER...]]
 *
 * Does WARMUP untimed and then N timed POSTs of an OpenAI chat-completion
 * request to URL with ONE reused libcurl easy handle (so one keep-alive TCP
 * connection carries them all).  Per call, like the extension's OpenAI
 * dialect, it:
 *   - builds the JSON body with json-c
 *     ({"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]})
 *     and serializes it,
 *   - POSTs it with the headers the extension sends (Content-Type and Accept
 *     application/json, an empty "Expect:", Authorization: Bearer KEY) and
 *     the same User-Agent / Accept-Encoding options, plus any extra
 *     HEADER ("Name: value") given on the command line,
 *   - collects the body in a growable malloc'd buffer,
 *   - checks the HTTP status is 200, parses the body with json-c and
 *     extracts choices[0].message.content, which must be a non-empty string.
 * The header list and the handle options that never change are set once,
 * outside the timed loop, as a hand-written client would do.
 *
 * With RAW_CURL_CAINFO=FILE an https URL is verified against that PEM bundle
 * only (bench_tls.sh's private CA; verification stays on, libcurl's
 * defaults: HTTP/2 when the server offers it, one kept connection).
 *
 * With RAW_CURL_TRANSPORT_ONLY=1 in the environment it does no JSON work:
 * it sends the same body as a constant string and only checks for HTTP 200
 * and a non-empty body (bench_overhead.sh's "transport only" baseline: the
 * libcurl exchange alone, the least any client can spend).
 *
 * On success prints one line to stdout:
 *   raw n=N total_us=T us_per_call=U cpu_us_per_call=P connects=C content_bytes=B
 * U is wall-clock time per timed call; P is this process's own CPU time
 * (user + system, CLOCK_PROCESS_CPUTIME_ID) per timed call, which leaves out
 * the upstream and scheduler wake-up latency; C is the number of TCP
 * connections libcurl opened during the timed calls (0 when the warm-up
 * connection was kept for the whole run).  Any
 * failure prints a message to stderr and exits 1; bad usage exits 2.
 *
 * Build: cc -O2 raw_curl.c -o raw_curl -lcurl -ljson-c
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>

/* growable response buffer, always NUL-terminated */
typedef struct
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buf;

static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	Buf		   *b = userdata;
	size_t		n = size * nmemb;

	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 16384;
		char	   *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (p == NULL)
			return 0;			/* makes libcurl fail with CURLE_WRITE_ERROR */
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static double
clock_us(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static long
parse_count(const char *s, const char *what, long max)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max)
	{
		fprintf(stderr, "raw_curl: %s must be an integer in 0..%ld, got \"%s\"\n",
				what, max, s);
		exit(2);
	}
	return v;
}

/*
 * One request/response round trip; returns the length of the extracted
 * content (> 0) or exits on any failure.
 */
static int	transport_only = 0;

/* RAW_CURL_TRANSPORT_ONLY: the same bytes json-c serializes, sent as they are */
static size_t
one_call_transport(CURL *h, Buf *resp, long seq)
{
	static const char body[] =
	"{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}";
	CURLcode	rc;
	long		status = 0;

	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) (sizeof(body) - 1));
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	resp->len = 0;
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK)
	{
		fprintf(stderr, "raw_curl: call %ld: %s\n", seq, curl_easy_strerror(rc));
		exit(1);
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200 || resp->len == 0)
	{
		fprintf(stderr, "raw_curl: call %ld: HTTP status %ld, %zu bytes\n", seq, status,
				resp->len);
		exit(1);
	}
	return resp->len;
}

static size_t
one_call(CURL *h, Buf *resp, long seq)
{
	json_object *req = json_object_new_object();
	json_object *msgs = json_object_new_array();
	json_object *msg = json_object_new_object();
	json_object *root,
			   *choices,
			   *choice,
			   *message,
			   *content;
	const char *body;
	size_t		body_len,
				clen;
	CURLcode	rc;
	long		status = 0;

	json_object_object_add(msg, "role", json_object_new_string("user"));
	json_object_object_add(msg, "content", json_object_new_string("Hello"));
	json_object_array_add(msgs, msg);
	json_object_object_add(req, "model", json_object_new_string("gpt-4o-mini"));
	json_object_object_add(req, "messages", msgs);
	body = json_object_to_json_string_length(req, JSON_C_TO_STRING_PLAIN, &body_len);

	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_len);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	resp->len = 0;
	if (resp->data)
		resp->data[0] = '\0';

	rc = curl_easy_perform(h);
	json_object_put(req);		/* frees body too */
	if (rc != CURLE_OK)
	{
		fprintf(stderr, "raw_curl: call %ld: %s\n", seq, curl_easy_strerror(rc));
		exit(1);
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200)
	{
		fprintf(stderr, "raw_curl: call %ld: HTTP status %ld\n", seq, status);
		exit(1);
	}
	if (resp->len == 0)
	{
		fprintf(stderr, "raw_curl: call %ld: empty response body\n", seq);
		exit(1);
	}

	root = json_tokener_parse(resp->data);
	if (root == NULL ||
		!json_object_object_get_ex(root, "choices", &choices) ||
		!json_object_is_type(choices, json_type_array) ||
		json_object_array_length(choices) < 1 ||
		(choice = json_object_array_get_idx(choices, 0)) == NULL ||
		!json_object_object_get_ex(choice, "message", &message) ||
		!json_object_object_get_ex(message, "content", &content) ||
		!json_object_is_type(content, json_type_string))
	{
		fprintf(stderr, "raw_curl: call %ld: no choices[0].message.content in: %.200s\n",
				seq, resp->data);
		json_object_put(root);
		exit(1);
	}
	clen = (size_t) json_object_get_string_len(content);
	json_object_put(root);
	if (clen == 0)
	{
		fprintf(stderr, "raw_curl: call %ld: empty content\n", seq);
		exit(1);
	}
	return clen;
}

int
main(int argc, char **argv)
{
	const char *url,
			   *key;
	long		n,
				warmup = 0;
	CURL	   *h;
	struct curl_slist *headers = NULL;
	char		auth[512];
	Buf			resp = {0};
	long		connects = 0;
	double		t0,
				t1,
				cpu0,
				cpu1;
	size_t		total_content = 0;

	if (argc < 4)
	{
		fprintf(stderr, "usage: raw_curl URL API_KEY N [WARMUP [HEADER...]]\n");
		return 2;
	}
	url = argv[1];
	key = argv[2];
	transport_only = getenv("RAW_CURL_TRANSPORT_ONLY") != NULL &&
		strcmp(getenv("RAW_CURL_TRANSPORT_ONLY"), "1") == 0;
	n = parse_count(argv[3], "N", 100000000L);
	if (argc >= 5)
		warmup = parse_count(argv[4], "WARMUP", 100000000L);
	if (n < 1)
	{
		fprintf(stderr, "raw_curl: N must be at least 1\n");
		return 2;
	}
	if (snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key) >= (int) sizeof(auth))
	{
		fprintf(stderr, "raw_curl: API key too long\n");
		return 2;
	}

	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK || (h = curl_easy_init()) == NULL)
	{
		fprintf(stderr, "raw_curl: could not initialize libcurl\n");
		return 1;
	}
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Accept: application/json");
	headers = curl_slist_append(headers, "Expect:");
	headers = curl_slist_append(headers, auth);
	for (int i = 5; i < argc && headers != NULL; i++)	/* extra HEADERs */
		headers = curl_slist_append(headers, argv[i]);
	if (headers == NULL)
	{
		fprintf(stderr, "raw_curl: out of memory\n");
		return 1;
	}

	/* set once for the whole run */
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "ai_gateway/0.1.0");
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	/* an https URL of a private CA (bench_tls.sh): trust that CA's bundle only */
	if (getenv("RAW_CURL_CAINFO") != NULL && getenv("RAW_CURL_CAINFO")[0] != '\0')
	{
		curl_easy_setopt(h, CURLOPT_CAINFO, getenv("RAW_CURL_CAINFO"));
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
	}

	for (long i = 0; i < warmup; i++)
		(transport_only ? one_call_transport : one_call) (h, &resp, -(i + 1));

	cpu0 = clock_us(CLOCK_PROCESS_CPUTIME_ID);
	t0 = clock_us(CLOCK_MONOTONIC);
	for (long i = 0; i < n; i++)
	{
		long		c = 0;

		total_content += (transport_only ? one_call_transport : one_call) (h, &resp, i + 1);
		curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &c);
		connects += c;
	}
	t1 = clock_us(CLOCK_MONOTONIC);
	cpu1 = clock_us(CLOCK_PROCESS_CPUTIME_ID);

	printf("raw n=%ld total_us=%.0f us_per_call=%.2f cpu_us_per_call=%.2f connects=%ld content_bytes=%zu\n",
		   n, t1 - t0, (t1 - t0) / n, (cpu1 - cpu0) / n, connects, total_content);

	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	free(resp.data);
	curl_global_cleanup();
	return 0;
}
