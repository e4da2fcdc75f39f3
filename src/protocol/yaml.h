/* YAML documents (MODEL_METADATA) read into the same tree as JSON, with libyaml. */
#ifndef CS_PROTOCOL_YAML_H
#define CS_PROTOCOL_YAML_H

#include "base/arena.h"
#include "json/json.h"

#include <stddef.h>

/* Parses the document of `text` into *out (arena memory); as with PyYAML's safe_load, a stream
 * of several documents is an error and an empty one is null. Plain scalars are typed as
 * safe_load types them (null, booleans yes/no/on/off/true/false, integers, floats); quoted
 * scalars are strings. Aliases and tags that would change a value's type are refused. Returns 0,
 * or CS_EPARSE (CS_ENOMEM when out of memory) with a message in `err` (*out is then unchanged). */
int cs_yaml_parse(const char *text, size_t len, cs_arena_t *arena, cs_json_t *out, char *err,
                  size_t errlen);

#endif
