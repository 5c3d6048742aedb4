/*
 * pattern.c -- glob pattern matching for pack's --include and --exclude and
 * fota's --protect, with "**" spanning directories (fnmatch has no "**").
 */
#include "pattern.h"

#include <string.h>

/* Matches one character class at p against ch; sets *next past the class.
 * Returns 1 on a match, 0 on none, -1 when p holds no complete class (the
 * '[' is then an ordinary character). */
static int class_match(const char *p, char ch, const char **next)
{
    const char *q = p + 1;
    int negate = *q == '!' || *q == '^';
    int found = 0;

    if (negate)
        q++;
    /* A ']' right after '[' (or '[!') is a member, not the end. */
    int first = 1;
    for (; *q != '\0' && (first || *q != ']'); first = 0) {
        char lo = *q, hi;
        if (lo == '\\' && q[1] != '\0')
            lo = *++q;
        q++;
        hi = lo;
        if (*q == '-' && q[1] != ']' && q[1] != '\0') {
            q++; /* past '-' */
            if (*q == '\\' && q[1] != '\0')
                q++;
            hi = *q++;
        }
        if (ch >= lo && ch <= hi)
            found = 1;
    }
    if (*q != ']')
        return -1;
    *next = q + 1;
    return ch != '/' && found != negate;
}

static int match(const char *p, const char *n)
{
    while (*p != '\0') {
        if (p[0] == '*' && p[1] == '*') {
            p += 2;
            /* "**" then "/" may also stand for no directory at all. */
            if (*p == '/' && match(p + 1, n))
                return 1;
            for (const char *t = n;; t++) {
                if (match(p, t))
                    return 1;
                if (*t == '\0')
                    return 0;
            }
        }
        if (*p == '*') {
            p++;
            for (const char *t = n;; t++) {
                if (match(p, t))
                    return 1;
                if (*t == '\0' || *t == '/')
                    return 0;
            }
        }
        if (*n == '\0')
            return 0;
        if (*p == '?') {
            if (*n == '/')
                return 0;
            p++;
            n++;
            continue;
        }
        if (*p == '[') {
            const char *next;
            int r = class_match(p, *n, &next);
            if (r >= 0) {
                if (r == 0)
                    return 0;
                p = next;
                n++;
                continue;
            }
        }
        if (*p == '\\' && p[1] != '\0')
            p++;
        if (*p != *n)
            return 0;
        p++;
        n++;
    }
    return *n == '\0';
}

int pattern_match(const char *pattern, const char *name)
{
    static const char root[] = "/usr/";
    if (pattern[0] == '/')
        return match(pattern, name);
    /* Relative: against the name without its "/usr/". */
    if (strncmp(name, root, sizeof root - 1) != 0)
        return 0;
    return match(pattern, name + sizeof root - 1);
}
