/* YAML documents (MODEL_METADATA) read into the same tree as JSON, with libyaml. */
#ifndef CS_PROTOCOL_YAML_H
#define CS_PROTOCOL_YAML_H

#include "base/arena.h"
#include "json/json.h"

#include <stddef.h>

/* Parses the first document of `text` into *out (arena memory). Plain scalars are typed as
 * PyYAML's safe_load types them (null, booleans yes/no/on/off/true/false, integers, floats);
 * quoted scalars are strings. Returns 0, or CS_EPARSE (CS_ENOMEM) with a message in `err`. */
int cs_yaml_parse(const char *text, size_t len, cs_arena_t *arena, cs_json_t *out, char *err,
                  size_t errlen);

#endif
