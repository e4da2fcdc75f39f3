/* The model behind a request, whatever it is written in (a native shared object, the built-in
 * mock classifier, embedded Python), and the one request pipeline every protocol goes through:
 * decode with the protocol's codec, call the model, decorate, encode. The worker sees only this
 * interface. */
#ifndef CS_RUNTIME_RUNTIME_H
#define CS_RUNTIME_RUNTIME_H

#include "config/config.h"
#include "protocol/codec.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct cs_runtime cs_runtime_t;

/* Finds and constructs the model named by cfg->interface_name (NULL: built-in) with the JSON
 * parameters, and computes its metadata. `cfg` must outlive the runtime. Master, before fork.
 * Returns 0, or -1 with a one-line reason in `err`. */
int cs_runtime_open(const cs_config_t *cfg, cs_runtime_t **out, char *err, size_t errlen);

/* The model's per-worker load hook. Model thread of a worker. 0, or -1 with `err`. */
int cs_runtime_load(cs_runtime_t *rt, char *err, size_t errlen);

/* The model's per-worker unload hook, the counterpart of cs_runtime_load: once, when the worker
 * stops gracefully after its last call has returned. Model thread of a worker. */
void cs_runtime_unload(cs_runtime_t *rt);

/* Serves one model route of `codec`'s protocol into `resp` (never fails: errors become the
 * protocol's error answers). `in` is the codec's request type, borrowed for the call. Model
 * threads, concurrently (the loop thread too when cs_runtime_nonblocking). */
void cs_runtime_execute(cs_runtime_t *rt, const cs_codec_t *codec, cs_route_t route, const void *in,
                        cs_response_t *resp);

/* True when the model may run on the event-loop thread (CSM_MODEL_NONBLOCKING). Any thread. */
bool cs_runtime_nonblocking(const cs_runtime_t *rt);

/* Around fork() in the master (Python: PyOS_BeforeFork and friends). */
void cs_runtime_before_fork(cs_runtime_t *rt);
void cs_runtime_after_fork(cs_runtime_t *rt, bool child);

/* Once on each model thread, before its first call (Python: its thread state). */
void cs_runtime_thread_start(cs_runtime_t *rt);

/* Destroys the model. Master (or the debug process) at exit. */
void cs_runtime_close(cs_runtime_t *rt);

#endif
