/* Prometheus text format 0.0.4 from the shared region. One HELP/TYPE header per family; counters
 * and histograms are summed over the live workers and the retired totals, and a gauge takes the
 * most recently set value, unless per-worker output is asked for (the reference's layout, with
 * a worker_id label). Values print as Python floats (1.0, 0.03), NaN and ±Inf in Prometheus'
 * spelling. */
#include "metrics/internal.h"

#include "json/number.h"
#include "metrics/labels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int num(cs_buf_t *out, double v) {
    if (isnan(v))
        return cs_buf_append(out, "NaN", 3);
    if (isinf(v))
        return cs_buf_append(out, v > 0 ? "+Inf" : "-Inf", 4);
    char b[40];
    return cs_buf_append(out, b, cs_json_format_double(v, b));
}

/* `name{labels} value` with labels joined from up to three comma-separated parts. */
static int sample(cs_buf_t *out, const char *name, const char *suffix, const char *l1,
                  const char *l2, const char *l3, double v) {
    int rc = cs_buf_appendf(out, "%s%s", name, suffix);
    const char *parts[3] = {l1, l2, l3};
    bool open = false;
    for (int i = 0; i < 3 && rc == 0; i++) {
        if (parts[i] == NULL || parts[i][0] == '\0')
            continue;
        rc = cs_buf_appendf(out, "%s%s", open ? "," : "{", parts[i]);
        open = true;
    }
    if (rc == 0 && open)
        rc = cs_buf_append(out, "}", 1);
    if (rc == 0)
        rc = cs_buf_append(out, " ", 1);
    if (rc == 0)
        rc = num(out, v);
    if (rc == 0)
        rc = cs_buf_append(out, "\n", 1);
    return rc;
}

/* The help text of a model's series holds its key as the model wrote it: escaped, as
 * prometheus_client escapes it, so that it stays one line of text. */
static int header(cs_buf_t *out, const char *name, const char *help, const char *type) {
    int rc = cs_buf_appendf(out, "# HELP %s ", name);
    if (rc == 0)
        rc = cs_labels_append_text(out, help, false);
    if (rc == 0)
        rc = cs_buf_appendf(out, "\n# TYPE %s %s\n", name, type);
    return rc;
}

/* Sum over the worker slots and the retired slot of the cell at `cell` in slot 0. */
static uint64_t sum_cell(const cs_metrics_t *m, const _Atomic uint64_t *cell) {
    size_t off = (size_t)((const char *)cell - (const char *)&m->slot[0]);
    uint64_t t = atomic_load_explicit(
        (const _Atomic uint64_t *)((const char *)&m->slot[m->slots] + off), memory_order_relaxed);
    for (int i = 0; i < m->used; i++)
        t += atomic_load_explicit((const _Atomic uint64_t *)((const char *)&m->slot[i] + off),
                                  memory_order_relaxed);
    return t;
}

#define SUM(m, field) sum_cell((m), &(m)->slot[0].field)

static int histogram(cs_buf_t *out, const char *name, const char *labels, const uint64_t *bins,
                     double sum) {
    uint64_t cum = 0;
    int rc = 0;
    for (int b = 0; b < CS_MX_BUCKETS && rc == 0; b++) {
        cum += bins[b];
        char le[48];
        if (b == CS_MX_BUCKETS - 1)
            snprintf(le, sizeof(le), "le=\"+Inf\"");
        else {
            char v[40];
            v[cs_json_format_double(cs_metrics_buckets[b], v)] = '\0';
            snprintf(le, sizeof(le), "le=\"%s\"", v);
        }
        rc = sample(out, name, "_bucket", labels, le, NULL, (double)cum);
    }
    if (rc == 0)
        rc = sample(out, name, "_count", labels, NULL, NULL, (double)cum);
    if (rc == 0)
        rc = sample(out, name, "_sum", labels, NULL, NULL, sum);
    return rc;
}

/* How many of the per-code cells endpoint `r` uses. */
static int codes(const cs_metrics_t *m, int r) {
    return m->endpoints[r].protocol == CS_MX_GRPC ? CS_MX_GRPC_CODES : CS_MX_HTTP_CODES;
}

/* The code and route labels of endpoint `r`'s cells for code index `c`: an HTTP status number
 * or "other", a gRPC status name. */
static void code_route(char *out, size_t n, const cs_metrics_t *m, int r, int c) {
    char http[16];
    const char *code = http;
    if (m->endpoints[r].protocol == CS_MX_GRPC)
        code = cs_metrics_grpc_codes[c];
    else
        snprintf(http, sizeof(http), c == CS_MX_HTTP_CODES - 1 ? "other" : "%d",
                 cs_metrics_http_codes[c]);
    snprintf(out, n, "code=\"%s\",route=\"%s\"", code, m->endpoints[r].route);
}

/* cserve's request series: counts, latency histograms and bytes, by route and status code. */
static int request_series(cs_metrics_t *m, cs_buf_t *out) {
    int rc = header(out, "cserve_requests_total", "Requests answered, by route and status code.",
                    "counter");
    char labels[192];
    for (int r = 0; r < m->nendpoints && rc == 0; r++)
        for (int c = 0; c < CS_MX_CODES && rc == 0; c++) {
            uint64_t n = c < codes(m, r) ? SUM(m, requests[r][c]) : 0;
            if (n == 0)
                continue;
            code_route(labels, sizeof(labels), m, r, c);
            rc = sample(out, "cserve_requests_total", "", labels, NULL, NULL, (double)n);
        }
    if (rc == 0)
        rc = header(out, "cserve_request_duration_seconds",
                    "Time from a request's last byte to its response being ready to send.",
                    "histogram");
    for (int r = 0; r < m->nendpoints && rc == 0; r++)
        for (int c = 0; c < CS_MX_CODES && rc == 0; c++) {
            if (c >= codes(m, r) || SUM(m, requests[r][c]) == 0)
                continue;
            uint64_t bins[CS_MX_BUCKETS];
            for (int b = 0; b < CS_MX_BUCKETS; b++)
                bins[b] = SUM(m, latency[r][c][b]);
            code_route(labels, sizeof(labels), m, r, c);
            rc = histogram(out, "cserve_request_duration_seconds", labels, bins,
                           (double)SUM(m, latency_sum_ns[r][c]) / 1e9);
        }
    static const struct {
        const char *name, *help;
        size_t off;
    } bytes[] = {{"cserve_request_bytes_total", "Request body bytes received, by route.",
                  offsetof(cs_mx_slot_t, request_bytes)},
                 {"cserve_response_bytes_total", "Response body bytes sent, by route.",
                  offsetof(cs_mx_slot_t, response_bytes)}};
    for (int k = 0; k < 2 && rc == 0; k++) {
        rc = header(out, bytes[k].name, bytes[k].help, "counter");
        for (int r = 0; r < m->nendpoints && rc == 0; r++) {
            uint64_t n = sum_cell(m, (_Atomic uint64_t *)((char *)&m->slot[0] + bytes[k].off) + r);
            if (n == 0)
                continue;
            snprintf(labels, sizeof(labels), "route=\"%s\"", m->endpoints[r].route);
            rc = sample(out, bytes[k].name, "", labels, NULL, NULL, (double)n);
        }
    }
    return rc;
}

/* Time in the model by route, and the wait for a model thread. */
static int model_time_series(cs_metrics_t *m, cs_buf_t *out) {
    int rc = header(out, "cserve_model_call_duration_seconds", "Time spent in the model, by route.",
                    "histogram");
    char labels[192];
    for (int r = 0; r < m->nendpoints && rc == 0; r++) {
        uint64_t bins[CS_MX_BUCKETS], any = 0;
        for (int b = 0; b < CS_MX_BUCKETS; b++)
            any += bins[b] = SUM(m, model[r][b]);
        if (any == 0)
            continue;
        snprintf(labels, sizeof(labels), "route=\"%s\"", m->endpoints[r].route);
        rc = histogram(out, "cserve_model_call_duration_seconds", labels, bins,
                       (double)SUM(m, model_sum_ns[r]) / 1e9);
    }
    if (rc == 0) {
        uint64_t bins[CS_MX_BUCKETS];
        for (int b = 0; b < CS_MX_BUCKETS; b++)
            bins[b] = SUM(m, wait[b]);
        rc = header(out, "cserve_model_queue_wait_seconds",
                    "Time a request waited for a model thread.", "histogram");
        if (rc == 0)
            rc = histogram(out, "cserve_model_queue_wait_seconds", NULL, bins,
                           (double)SUM(m, wait_sum_ns) / 1e9);
    }
    return rc;
}

/* One unlabelled gauge, with its header. */
static int gauge(cs_buf_t *out, const char *name, const char *help, double value) {
    int rc = header(out, name, help, "gauge");
    return rc ? rc : sample(out, name, "", NULL, NULL, NULL, value);
}

/* Resident memory of the master and its workers, from /proc at scrape time. */
static double resident_bytes(const cs_metrics_t *m) {
    double rss = 0;
    long page = sysconf(_SC_PAGESIZE);
    int pids[257];
    int n = 0;
    pids[n++] = (int)getpid();
    for (int i = 0; i < m->npids && n < 257; i++)
        pids[n++] = m->pids[i];
    for (int i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/statm", pids[i]);
        FILE *f = fopen(path, "re");
        long size, res;
        if (f && fscanf(f, "%ld %ld", &size, &res) == 2)
            rss += (double)res * (double)page;
        if (f)
            fclose(f);
    }
    return rss;
}

/* The server's state: requests in flight and queued, workers, restarts, start time, memory. */
static int process_series(cs_metrics_t *m, cs_buf_t *out) {
    int64_t in_flight = 0, queued = 0;
    for (int i = 0; i < m->used; i++) {
        in_flight += atomic_load(&m->slot[i].in_flight);
        queued += atomic_load(&m->slot[i].queued);
    }
    int rc =
        gauge(out, "cserve_in_flight_requests", "Requests being served now.", (double)in_flight);
    if (rc == 0)
        rc = gauge(out, "cserve_model_queue_depth", "Requests waiting for a model thread.",
                   (double)queued);
    if (rc == 0)
        rc = gauge(out, "cserve_workers", "Worker processes running.", (double)m->workers);
    static const char *causes[CS_RESTART_COUNT] = {"crash", "timeout", "recycle", "reload"};
    if (rc == 0)
        rc = header(out, "cserve_worker_restarts_total", "Workers replaced, by cause.", "counter");
    for (int c = 0; c < CS_RESTART_COUNT && rc == 0; c++) {
        char l[32];
        snprintf(l, sizeof(l), "cause=\"%s\"", causes[c]);
        rc = sample(out, "cserve_worker_restarts_total", "", l, NULL, NULL, (double)m->restarts[c]);
    }
    if (rc == 0)
        rc = gauge(out, "cserve_process_start_time_seconds",
                   "Start time of the master since the Unix epoch.", m->start_time);
    if (rc == 0)
        rc = gauge(out, "cserve_resident_memory_bytes",
                   "Resident memory of the master and its workers.", resident_bytes(m));
    return rc;
}

static int builtin_series(cs_metrics_t *m, cs_buf_t *out) {
    int rc = request_series(m, out);
    if (rc == 0)
        rc = model_time_series(m, out);
    return rc ? rc : process_series(m, out);
}

/* A Prometheus metric name from a model's key: invalid characters become '_'. */
static void metric_name(char *out, size_t n, const char *key, const char *suffix) {
    size_t k = 0;
    for (const char *p = key; *p && k + 1 < n; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                  (k > 0 && c >= '0' && c <= '9');
        out[k++] = ok ? c : '_';
    }
    out[k] = '\0';
    size_t sl = strlen(suffix);
    if (sl && !(k >= sl && strcmp(out + k - sl, suffix) == 0))
        snprintf(out + k, n - k, "%s", suffix);
}

static int worker_label(char *out, size_t n, const cs_metrics_t *m, int slot) {
    if (slot == m->slots)
        return snprintf(out, n, "worker_id=\"retired\"");
    return snprintf(out, n, "worker_id=\"%d\"", (int)atomic_load(&m->slot[slot].pid));
}

/* A live series and its Prometheus family name. Series are grouped by that name, not the
 * model's key: keys that give one name ("x" as a counter is x_total, as is "x_total"; "a b" and
 * "a_b") otherwise came out as separate families of one name, or as two samples of one series,
 * and Prometheus refuses a page with a second HELP or TYPE line for a name. */
typedef struct {
    cs_mx_entry_t *e;
    char family[CS_MX_NAME + 8];
} series_t;

static int compare_series(const void *a, const void *b) {
    const series_t *sx = a, *sy = b;
    const cs_mx_entry_t *x = sx->e, *y = sy->e;
    int c = strcmp(sx->family, sy->family);
    if (c)
        return c;
    if (x->type != y->type)
        return (int)x->type - (int)y->type;
    c = strcmp(x->labels, y->labels);
    if (c)
        return c;
    return x->slot - y->slot;
}

/* The end of the `k="v"` pair at p: the first comma outside the quotes. In a value a backslash
 * escapes the next character (a quote, or a backslash: a value ending in one is `"x\\"`, whose
 * closing quote a look at the previous character took for an escaped one, and the pair then ran
 * into the next, splitting it at a comma of its value). */
static const char *pair_end(const char *p) {
    for (bool q = false; *p && (q || *p != ','); p++) {
        if (q && *p == '\\' && p[1])
            p++;
        else if (*p == '"')
            q = !q;
    }
    return p;
}

/* `labels` without its le pair, in out (n bytes), or `labels` itself when it has none. */
static const char *without_le(char *out, size_t n, const char *labels) {
    size_t k = 0;
    bool found = false;
    for (const char *p = labels; *p;) {
        const char *e = pair_end(p);
        if (strncmp(p, "le=", 3) == 0)
            found = true;
        else
            k += (size_t)snprintf(out + k, k < n ? n - k : 0, "%s%.*s", k ? "," : "", (int)(e - p),
                                  p);
        p = *e ? e + 1 : e;
    }
    return found ? out : labels;
}

/* Merges labels text `a` and `b` (each sorted `k="v"` pairs) into sorted order. */
static void merge_labels(char *out, size_t n, const char *a, const char *b) {
    /* split both into pairs, then a simple merge by key */
    const char *pa = a, *pb = b;
    size_t k = 0;
    out[0] = '\0';
    while ((*pa || *pb) && k + 1 < n) {
        const char *ea = pair_end(pa), *eb = pair_end(pb);
        bool take_a;
        if (!*pa)
            take_a = false;
        else if (!*pb)
            take_a = true;
        else
            take_a = strncmp(pa, pb, (size_t)((ea - pa) < (eb - pb) ? (ea - pa) : (eb - pb))) <= 0;
        const char *s = take_a ? pa : pb, *e = take_a ? ea : eb;
        k += (size_t)snprintf(out + k, n - k, "%s%.*s", k ? "," : "", (int)(e - s), s);
        if (take_a)
            pa = *ea ? ea + 1 : ea;
        else
            pb = *eb ? eb + 1 : eb;
    }
}

/* True when a family is a name that a timer's histogram writes (its _count, _sum or _bucket
 * samples): a gauge or another timer of that name gave it a second HELP line, and Prometheus
 * refuses the page. (A counter's name ends in _total.) `list` is sorted by family. */
static bool taken_by_histogram(const series_t *list, size_t n, const char *family) {
    static const char *const suffixes[] = {"_count", "_sum", "_bucket"};
    size_t fl = strlen(family);
    for (int k = 0; k < 3; k++) {
        size_t sl = strlen(suffixes[k]);
        if (fl <= sl || strcmp(family + fl - sl, suffixes[k]) != 0)
            continue;
        char stem[CS_MX_NAME + 8];
        snprintf(stem, sizeof(stem), "%.*s", (int)(fl - sl), family);
        size_t lo = 0, hi = n; /* the first family not below the stem */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (strcmp(list[mid].family, stem) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t i = lo; i < n && strcmp(list[i].family, stem) == 0; i++)
            if (list[i].e->type == CS_MX_TIMER)
                return true;
    }
    return false;
}

static int model_series(cs_metrics_t *m, cs_buf_t *out, bool per_worker, const char *defaults) {
    series_t *list = malloc(CS_MX_TABLE * sizeof(*list));
    /* room for a series' labels with the defaults (the environment's texts, of any length: fixed
     * buffers cut a long image name mid-label, and the page was refused), worker_id and le */
    size_t cap = CS_MX_LABELS + strlen(defaults) + 256;
    char *labels = malloc(3 * cap), *tmp = labels + cap, *with_le = labels + 2 * cap;
    if (list == NULL || labels == NULL) {
        free(list);
        free(labels);
        return -1;
    }
    size_t n = 0;
    for (int i = 0; i < CS_MX_TABLE; i++) {
        cs_mx_entry_t *e = &m->table[i];
        if (CS_MX_KIND(atomic_load_explicit(&e->state, memory_order_acquire)) != E_LIVE)
            continue;
        list[n].e = e;
        metric_name(list[n].family, sizeof(list[n].family), e->name,
                    e->type == CS_MX_COUNTER ? "_total" : "");
        n++;
    }
    qsort(list, n, sizeof(*list), compare_series);
    int rc = 0;
    char prev_family[CS_MX_NAME + 8] = "";
    uint32_t prev_type = 0;
    for (size_t i = 0; i < n && rc == 0;) {
        cs_mx_entry_t *e = list[i].e;
        const char *family = list[i].family;
        /* the group: same family, type, labels (and slot when per worker) */
        size_t j = i + 1;
        while (j < n && list[j].e->type == e->type && strcmp(list[j].family, family) == 0 &&
               strcmp(list[j].e->labels, e->labels) == 0 &&
               (!per_worker || list[j].e->slot == e->slot))
            j++;
        if (e->type != CS_MX_COUNTER && taken_by_histogram(list, n, family)) {
            i = j;
            continue;
        }
        if (strcmp(family, prev_family) != 0) {
            char help[CS_MX_NAME + 48];
            snprintf(help, sizeof(help), "Model metric %s (%s).", e->name,
                     e->type == CS_MX_COUNTER ? "COUNTER"
                     : e->type == CS_MX_GAUGE ? "GAUGE"
                                              : "TIMER");
            rc = header(out, family, help,
                        e->type == CS_MX_COUNTER ? "counter"
                        : e->type == CS_MX_GAUGE ? "gauge"
                                                 : "histogram");
            snprintf(prev_family, sizeof(prev_family), "%s", family);
            prev_type = e->type;
        } else if (prev_type != e->type) {
            i = j; /* the same name with another type: Prometheus cannot take both */
            continue;
        }
        merge_labels(labels, cap, e->labels, defaults);
        if (per_worker) {
            char wl[64];
            worker_label(wl, sizeof(wl), m, e->slot);
            merge_labels(tmp, cap, labels, wl);
            memcpy(labels, tmp, cap);
        }
        double value = 0;
        uint64_t stamp = 0, count = 0, bins[CS_MX_TIMER_BINS] = {0};
        for (size_t k = i; k < j; k++) {
            cs_mx_entry_t *x = list[k].e;
            if (e->type == CS_MX_GAUGE) {
                uint64_t st = atomic_load(&x->stamp);
                if (st >= stamp) {
                    stamp = st;
                    value = cs_mx_double(&x->value);
                }
            } else {
                value += cs_mx_double(&x->value);
                count += atomic_load(&x->count);
                for (int b = 0; b < CS_MX_TIMER_BINS; b++)
                    bins[b] += atomic_load(&x->bins[b]);
            }
        }
        if (e->type != CS_MX_TIMER) {
            rc = sample(out, family, "", labels, NULL, NULL, value);
        } else {
            /* a tag named le gives way to the buckets' own, in every sample of the histogram
             * (two labels of one name in a sample make Prometheus refuse the page) */
            const char *own = without_le(tmp, cap, labels);
            uint64_t cum = 0;
            for (int b = 0; b < CS_MX_TIMER_BINS && rc == 0; b++) {
                cum += bins[b];
                char le[48], v[40];
                if (b == CS_MX_TIMER_BINS - 1)
                    snprintf(le, sizeof(le), "le=\"+Inf\"");
                else {
                    v[cs_json_format_double(cs_mx_timer_edges[b], v)] = '\0';
                    snprintf(le, sizeof(le), "le=\"%s\"", v);
                }
                merge_labels(with_le, cap, own, le);
                rc = sample(out, family, "_bucket", with_le, NULL, NULL, (double)cum);
            }
            if (rc == 0)
                rc = sample(out, family, "_count", own, NULL, NULL, (double)count);
            if (rc == 0)
                rc = sample(out, family, "_sum", own, NULL, NULL, value);
        }
        i = j;
    }
    free(labels);
    free(list);
    return rc;
}

int cs_metrics_render(cs_metrics_t *m, cs_buf_t *out, bool per_worker, const char *defaults) {
    int rc = builtin_series(m, out);
    /* Seldon's feedback counters (spec §4.2), with the default labels and method="feedback" */
    size_t cap = strlen(defaults) + 32;
    char *labels = malloc(cap);
    if (labels == NULL)
        return -1;
    merge_labels(labels, cap, defaults, "method=\"feedback\"");
    uint64_t fb = SUM(m, feedback);
    double reward = cs_mx_double(&m->slot[m->slots].feedback_reward);
    for (int i = 0; i < m->used; i++)
        reward += cs_mx_double(&m->slot[i].feedback_reward);
    if (rc == 0 && fb) {
        rc = header(out, "seldon_api_model_feedback_total",
                    "Feedback calls with a non-zero reward.", "counter");
        if (rc == 0)
            rc = sample(out, "seldon_api_model_feedback_total", "", labels, NULL, NULL, (double)fb);
        if (rc == 0)
            rc = header(out, "seldon_api_model_feedback_reward_total",
                        "Sum of the rewards sent as feedback.", "counter");
        if (rc == 0)
            rc = sample(out, "seldon_api_model_feedback_reward_total", "", labels, NULL, NULL,
                        reward);
    }
    free(labels);
    if (rc == 0)
        rc = model_series(m, out, per_worker, defaults);
    return rc < 0 ? rc : 0;
}
