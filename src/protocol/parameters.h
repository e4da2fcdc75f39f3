/* Model parameters (spec §1.4): PREDICTIVE_UNIT_PARAMETERS / --parameters, a JSON list of
 * {"name", "value", "type"} turned into typed keyword arguments, with the reference's errors. */
#ifndef CS_PROTOCOL_PARAMETERS_H
#define CS_PROTOCOL_PARAMETERS_H

#include "base/arena.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { CS_PARAM_INT, CS_PARAM_FLOAT, CS_PARAM_STRING, CS_PARAM_BOOL } cs_param_type_t;

typedef struct {
    const char *name;
    cs_param_type_t type;
    int64_t i;
    double d;
    bool b;
    const char *s; /* STRING: the value; other types: its text; both as Python's str() gives it */
} cs_param_t;

/* Parses `json`; later entries with the same name replace earlier ones. Returns the number of
 * parameters (stored in *out, arena memory), or CS_ECONFIG with the reference's message in `err`
 * ("Bad model parameter: foo with value abc can't be parsed as a FLOAT", "Bad model parameter
 * type: FOO valid are INT, FLOAT, DOUBLE, STRING, BOOL", "invalid truth value 'x'"). */
int cs_parameters_parse(const char *json, cs_arena_t *arena, cs_param_t **out, char *err,
                        size_t errlen);

#endif
