/* Text to numbers with Python's rules, for everything an operator writes (flags, environment
 * variables, annotations, model parameters): they must accept exactly what the reference's
 * int() accepts. Pure functions; any thread. */
#ifndef CS_BASE_PARSE_H
#define CS_BASE_PARSE_H

/* Python int(s) in base 10: surrounding whitespace, one sign, digits with single underscores
 * between them. Returns 0 and sets *out, or CS_EINVAL (not an integer) / CS_ERANGE (outside
 * long), leaving *out untouched. */
int cs_parse_int(const char *s, long *out);

#endif
