/* Text to numbers with Python's rules, for everything an operator writes (flags, environment
 * variables, annotations, model parameters): they must accept exactly what the reference's
 * int() accepts. Pure functions; any thread. */
#ifndef CS_BASE_PARSE_H
#define CS_BASE_PARSE_H

/* Python int(s) in base 10: surrounding whitespace, one sign, digits with single underscores
 * between them. Returns 0 and sets *out, or CS_EINVAL (not an integer) / CS_ERANGE (outside
 * long), leaving *out untouched. */
int cs_parse_int(const char *s, long *out);

/* Python float(s): surrounding whitespace, one sign, a decimal (an exponent, digits grouped by
 * single underscores: "1_000.5") or inf, infinity, nan in any case; no hexadecimal. Returns 0
 * and sets *out, or CS_EINVAL (not a float) / CS_ENOMEM, leaving *out untouched. */
int cs_parse_float(const char *s, double *out);

#endif
